#include "support/test_support.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/process/search_path.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/digest.hpp"

extern char** environ;

namespace airheal::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

TempDir::TempDir() {
  auto base = std::filesystem::temp_directory_path() / "airheal-test-XXXXXX";
  std::string tmpl = base.string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

struct HttpClient::Impl {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string host;
  std::uint16_t port;
  bool connected = false;
  void connect() {
    tcp::resolver r(ioc);
    stream.connect(r.resolve(host, std::to_string(port)));
    connected = true;
  }
};

HttpClient::HttpClient(std::string host, std::uint16_t port) : impl_(new Impl) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() { delete impl_; }

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::map<std::string, std::string>& headers,
                                 const std::string& body) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!impl_->connected) impl_->connect();
      http::request<http::string_body> req{http::string_to_verb(method), target, 11};
      req.set(http::field::host, impl_->host + ":" + std::to_string(impl_->port));
      // The API takes changes as JSON only (CSRF); tests name another type when that is the point.
      if (target.rfind("/api/", 0) == 0 && method != "GET" && method != "HEAD")
        req.set(http::field::content_type, "application/json");
      for (const auto& [k, v] : headers) req.set(k, v);
      req.body() = body;
      if (!body.empty() || method == "PUT" || method == "PATCH" || method == "POST")
        req.prepare_payload();
      impl_->stream.expires_after(std::chrono::seconds(60));
      http::write(impl_->stream, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ull << 32);
      if (method == "HEAD") parser.skip(true);
      http::read(impl_->stream, impl_->buffer, parser);
      auto& res = parser.get();
      HttpResponse out;
      out.status = res.result_int();
      for (const auto& f : res) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        // Repeated fields combine into one comma-separated value (RFC 9110, 5.3).
        auto [it, fresh] = out.headers.emplace(name, std::string(f.value()));
        if (!fresh) it->second += ", " + std::string(f.value());
      }
      out.body = res.body();
      if (!res.keep_alive()) {
        beast::error_code ec;
        impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        impl_->stream.close();
        impl_->connected = false;
        impl_->buffer.clear();
      }
      return out;
    } catch (const boost::system::system_error&) {
      // A keep-alive connection closed by the server: reconnect once.
      beast::error_code ec;
      impl_->stream.close();
      impl_->connected = false;
      impl_->buffer.clear();
      if (attempt == 1) throw;
    }
  }
  throw std::logic_error("unreachable");
}

void send_raw_and_close(const std::string& host, std::uint16_t port, const std::string& bytes) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  tcp::resolver r(ioc);
  asio::connect(s, r.resolve(host, std::to_string(port)));
  // The daemon may rightly close first (oversized headers, garbage): a broken pipe or reset
  // while sending is part of what is being simulated, not a test failure.
  boost::system::error_code ec;
  asio::write(s, asio::buffer(bytes), ec);
  s.close(ec);
}

std::string oci_error_code(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty())
    return "";
  return j["errors"][0].value("code", "");
}

std::string sha256_hex(const std::string& data) { return Sha256::of(data).hex(); }
std::string sha256_digest(const std::string& data) { return Sha256::of(data).str(); }

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    auto v = rng();
    for (std::size_t j = 0; j < 8 && i + j < n; ++j)
      out[i + j] = static_cast<char>((v >> (8 * j)) & 0xff);
  }
  return out;
}

namespace {
std::string make_tar(const std::vector<std::pair<std::string, std::string>>& files, bool gzip) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) {
    archive_write_add_filter_gzip(a);
    archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);  // reproducible
  }
  std::string out;
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* ud, const void* buf, size_t len) -> la_ssize_t {
        static_cast<std::string*>(ud)->append(static_cast<const char*>(buf), len);
        return static_cast<la_ssize_t>(len);
      },
      nullptr);
  for (const auto& [name, content] : files) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

void write_file(const std::filesystem::path& p, const std::string& data) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f << data;
}
}  // namespace

namespace {
// Writes the config, the manifest over `layers`, index.json (tagged img.tag) and oci-layout.
void finish_layout(OciImage& img, const json& config, const json& layers) {
  auto blobs = img.layout / "blobs" / "sha256";
  auto cfg = config.dump();
  write_file(blobs / sha256_hex(cfg), cfg);
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config",
                    {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                     {"digest", sha256_digest(cfg)},
                     {"size", cfg.size()}}},
                   {"layers", layers}};
  auto man = manifest.dump();
  write_file(blobs / sha256_hex(man), man);
  img.manifest_digest = sha256_digest(man);
  json index = {{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.index.v1+json"},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", img.manifest_digest},
                   {"size", man.size()},
                   {"annotations", {{"org.opencontainers.image.ref.name", img.tag}}}}}}};
  write_file(img.layout / "index.json", index.dump());
  write_file(img.layout / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
}
}  // namespace

OciImage make_oci_image(const std::filesystem::path& dir, const std::string& tag, int layers,
                        std::size_t layer_bytes, unsigned seed) {
  OciImage img;
  img.layout = dir;
  img.tag = tag;
  auto blobs = dir / "blobs" / "sha256";
  std::filesystem::create_directories(blobs);
  json diff_ids = json::array(), layer_descs = json::array();
  for (int i = 0; i < layers; ++i) {
    std::vector<std::pair<std::string, std::string>> files = {
        {"layer" + std::to_string(i) + "/data.bin",
         random_bytes(layer_bytes, seed * 1000 + static_cast<unsigned>(i))},
        {"layer" + std::to_string(i) + "/README",
         "layer " + std::to_string(i) + " of a test image\n"}};
    auto tar = make_tar(files, false);
    auto tgz = make_tar(files, true);
    diff_ids.push_back(sha256_digest(tar));
    auto d = sha256_hex(tgz);
    write_file(blobs / d, tgz);
    img.layer_digests.push_back("sha256:" + d);
    layer_descs.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                           {"digest", "sha256:" + d},
                           {"size", tgz.size()}});
  }
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", {{"Env", {"PATH=/usr/bin:/bin"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  finish_layout(img, config, layer_descs);
  return img;
}

OciImage make_oci_image_from_tars(const std::filesystem::path& dir, const std::string& tag,
                                  const std::vector<std::filesystem::path>& tars,
                                  const json& config_extra) {
  OciImage img;
  img.layout = dir;
  img.tag = tag;
  auto blobs = dir / "blobs" / "sha256";
  std::filesystem::create_directories(blobs);
  json diff_ids = json::array(), layer_descs = json::array();
  for (const auto& t : tars) {
    std::uint64_t size = 0;
    auto d = Sha256::of_file(t, &size);
    if (!d) throw std::runtime_error("cannot hash " + t.string());
    std::filesystem::copy_file(t, blobs / d->hex(),
                               std::filesystem::copy_options::overwrite_existing);
    diff_ids.push_back(d->str());
    img.layer_digests.push_back(d->str());
    layer_descs.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                           {"digest", d->str()},
                           {"size", size}});
  }
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  config.update(config_extra);
  finish_layout(img, config, layer_descs);
  return img;
}

std::filesystem::path airheald_path() { return AIRHEALD_PATH; }
std::filesystem::path airheal_snapshot_path() { return AIRHEAL_SNAPSHOT_PATH; }
std::filesystem::path airhealctl_path() { return AIRHEALCTL_PATH; }
std::filesystem::path airheal_builder_path() { return AIRHEAL_BUILDER_PATH; }
std::filesystem::path airheal_evidence_path() { return AIRHEAL_EVIDENCE_PATH; }

Daemon::Daemon(Options o) {
  state_dir_ = o.state_dir.empty() ? tmp_ / "state" : o.state_dir;
  log_path_ = tmp_ / "airheald.log";
  auto ready = tmp_ / "ready";
  std::vector<std::string> args = {
      airheald_path().string(), "--state-dir",  state_dir_.string(), "--listen", o.listen,
      "--ready-file",           ready.string(), "--log-level",       "debug"};
  if (!o.config_yaml.empty()) {
    auto cfg = tmp_ / "airheal.yaml";
    std::ofstream(cfg) << o.config_yaml;
    args.push_back("--config");
    args.push_back(cfg.string());
  }
  for (const auto& a : o.extra_args) args.push_back(a);
  if (o.owner) {
    std::filesystem::permissions(tmp_.path(), std::filesystem::perms(0755));
    if (::chown(tmp_.path().c_str(), *o.owner, static_cast<gid_t>(-1)) != 0)
      throw std::runtime_error("cannot give the daemon's folder to uid " +
                               std::to_string(*o.owner));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start airheald");
  for (int i = 0; i < 500; ++i) {
    std::ifstream f(ready);
    std::string addr;
    if (f && std::getline(f, addr) && !addr.empty()) {
      port_ = static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("airheald exited during start-up:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("airheald did not become ready:\n" + log());
}

Daemon::~Daemon() {
  if (pid_ > 0) stop(SIGKILL);
}

std::string Daemon::log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int Daemon::stop(int sig, std::chrono::seconds wait) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + wait;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

ProcessResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                  std::optional<std::string> input) {
  ProcessOptions o;
  o.timeout = timeout;
  o.input = std::move(input);
  return run_process(argv, o);
}

bool have_program(const std::string& name) { return !boost::process::search_path(name).empty(); }

BuildUser test_build_user() {
  const std::string name = "airheal-test-build";
  // Tests running side by side make it once: each step under one lock.
  const std::string lock = "/run/airheal-test-build.lock";
  if (!::getpwnam(name.c_str())) {
    auto made = run({"flock", lock, "useradd", "--system", "--user-group", "--no-create-home",
                     "--home-dir", "/", "--shell", "/usr/sbin/nologin", name});
    if (made.exit_code != 0 && !::getpwnam(name.c_str()))
      throw std::runtime_error("useradd " + name + ": " + made.err);
  }
  auto given = run(
      {"flock", lock,
       (std::filesystem::path(AIRHEAL_SOURCE_DIR) / "systemd" / "airheal-subids").string(), name});
  if (given.exit_code != 0) throw std::runtime_error("airheal-subids " + name + ": " + given.err);
  auto* pw = ::getpwnam(name.c_str());
  if (!pw) throw std::runtime_error("no user " + name);
  return {name, pw->pw_uid, pw->pw_gid};
}

std::vector<MarkdownBlock> markdown_blocks(const std::filesystem::path& file,
                                           const std::string& lang) {
  std::ifstream in(file);
  std::vector<MarkdownBlock> out;
  std::string line;
  int n = 0;
  MarkdownBlock* open = nullptr;
  bool in_other = false;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("```", 0) == 0) {
      if (open)
        open = nullptr;
      else if (in_other)
        in_other = false;
      else if (line.substr(3) == lang) {
        out.push_back({n, ""});
        open = &out.back();
      } else
        in_other = true;
      continue;
    }
    if (open) open->text += line + "\n";
  }
  return out;
}

}  // namespace airheal::test
