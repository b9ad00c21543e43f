#include "collect/collect.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "collect/npm.hpp"
#include "collect/trust.hpp"
#include "collect/url.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/pgp.hpp"
#include "core/subprocess.hpp"
#include "core/time.hpp"
#include "core/yaml.hpp"
#include "evidence/needs.hpp"
#include "heal/attest.hpp"
#include "heal/pins.hpp"

namespace airheal::collect {
namespace {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t kMaxConfigBytes = 1u << 20;
constexpr std::size_t kMaxNeedsBytes = 16u << 20;
constexpr std::uint64_t kMaxFeedBytes = 4ull << 30;

Result<std::string> base64_decode(const std::string& in) {
  if (in.size() % 4 != 0 || in.size() > (64u << 20))
    return make_error(Errc::invalid_argument, "not base64");
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return make_error(Errc::invalid_argument, "not base64");
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// A file name from untrusted text (a URL's last segment, an image name): letters, digits and
// ".-_+" only, never "." or "..".
std::string safe_name(std::string s) {
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != '+')
      c = '_';
  if (s.empty() || s == "." || s == "..") s = "file";
  return s.substr(0, 200);
}

std::string last_segment(const std::string& url) {
  auto u = url.substr(0, url.find('?'));
  auto slash = u.rfind('/');
  return slash == std::string::npos ? u : u.substr(slash + 1);
}

bool valid_reference(const std::string& s) {
  return !s.empty() && s.size() <= 512 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '/' || c == ':' || c == '@';
  });
}

Result<std::vector<std::string>> string_list(const YAML::Node& n, const std::string& what) {
  std::vector<std::string> out;
  if (!n) return out;
  if (!n.IsSequence()) return make_error(Errc::invalid_argument, what + " must be a list");
  for (const auto& x : n) {
    if (!x.IsScalar()) return make_error(Errc::invalid_argument, what + " must list strings");
    out.push_back(x.as<std::string>());
  }
  return out;
}

std::string scalar(const YAML::Node& n, const std::string& key) {
  return n[key] && n[key].IsScalar() ? n[key].as<std::string>() : std::string();
}

// What every repository entry of collect.yaml has: a name (a safe file name), an http(s) URL, its
// trust anchor KEY_FIELD (required: nothing is fetched from a repository nobody vouches for) and a
// list of architectures (the default kept when absent). WHERE names the entry in errors.
struct RepositoryEntry {
  std::string name, url, key, where;
};
Result<RepositoryEntry> repository_entry(const YAML::Node& a, const std::string& kind,
                                         const char* key_field, const std::string& key_hint,
                                         std::vector<std::string>& architectures) {
  RepositoryEntry e{scalar(a, "name"), scalar(a, "url"), scalar(a, key_field), ""};
  e.where = "collect.yaml: " + kind + " '" + e.name.substr(0, 60) + "'";
  if (e.name.empty() || safe_name(e.name) != e.name)
    return make_error(Errc::invalid_argument, "collect.yaml: every " + kind +
                                                  " entry needs a name of letters, digits, .-_+");
  if (auto u = parse_url(e.url); !u)
    return make_error(Errc::invalid_argument, e.where + ": " + u.error().message);
  if (e.key.empty())
    return make_error(Errc::invalid_argument,
                      e.where + ": " + key_field + " is required (" + key_hint + ")");
  auto c = string_list(a["architectures"], e.where + ": architectures");
  if (!c) return c.error();
  if (!c->empty()) architectures = *c;
  for (const auto& x : architectures)
    if (safe_name(x) != x)
      return make_error(Errc::invalid_argument, e.where + ": bad architecture");
  return e;
}

// Each entry of the list KEY (absent: none); anything else than a list is refused.
Status each_entry(const YAML::Node& root, const std::string& key,
                  const std::function<Status(const YAML::Node&)>& fn) {
  if (!root[key]) return {};
  if (!root[key].IsSequence())
    return make_error(Errc::invalid_argument, "collect.yaml: " + key + " must be a list");
  for (const auto& a : root[key])
    if (auto st = fn(a); !st) return st;
  return {};
}

// Runs ARGV (no shell); the output and the exit status.
struct Ran {
  int status = -1;
  std::string out, err;
};
bool is_zip(const stdfs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

// Unpacks the *.json documents of the zip FILE into DIR (flat: base names only, nothing else
// written), with bounds: 2,000,000 entries, 64 MiB per document, 16 GiB in all. Returns how many.
Result<std::size_t> unzip_json(const stdfs::path& file, const stdfs::path& dir) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), &archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), file.c_str(), 1 << 16) != ARCHIVE_OK)
    return make_error(Errc::invalid_argument,
                      std::string("not a readable zip: ") + archive_error_string(a.get()));
  std::error_code ec;
  stdfs::create_directories(dir, ec);
  std::size_t entries = 0, written = 0;
  std::uint64_t total = 0;
  archive_entry* e = nullptr;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK)
      return make_error(Errc::invalid_argument,
                        std::string("corrupt zip: ") + archive_error_string(a.get()));
    if (++entries > 2000000) return make_error(Errc::too_large, "more than 2,000,000 entries");
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    auto base = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
    if (!base.ends_with(".json") || safe_name(base) != base) continue;
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > (64 << 20))
      return make_error(Errc::too_large, name.substr(0, 100) + " is larger than 64 MiB");
    std::string data;
    char buf[1 << 16];
    for (;;) {
      auto n = archive_read_data(a.get(), buf, sizeof buf);
      if (n < 0)
        return make_error(Errc::invalid_argument,
                          name.substr(0, 100) + ": " + std::string(archive_error_string(a.get())));
      if (n == 0) break;
      data.append(buf, static_cast<std::size_t>(n));
      if (data.size() > (64u << 20))
        return make_error(Errc::too_large, name.substr(0, 100) + " is larger than 64 MiB");
    }
    total += data.size();
    if (total > (16ull << 30)) return make_error(Errc::too_large, "more than 16 GiB unpacked");
    if (auto st = fs::write_file_atomic(dir / base, data); !st) return st.error();
    ++written;
  }
  if (written == 0)
    return make_error(Errc::invalid_argument, "the archive holds no .json document");
  return written;
}

Ran run_tool(const std::vector<std::string>& argv) {
  ProcessOptions po;
  po.timeout = std::chrono::hours(2);  // a large image over a slow link
  auto p = run_process(argv, po);
  return {p.exit_code, p.out, p.timed_out ? "timed out after 2 hours" : p.err};
}

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  auto nl = s.rfind('\n');
  if (nl != std::string::npos) s = s.substr(nl + 1);
  return s.substr(0, 400);
}

}  // namespace

json CollectReport::to_json() const {
  return {{"packages", packages},
          {"packages_from_cache", packages_from_cache},
          {"images", images},
          {"feeds", feeds},
          {"bytes_fetched", bytes_fetched},
          {"bytes_total", bytes_total},
          {"planned", planned},
          {"missing", missing},
          {"refused", refused}};
}

Result<CollectConfig> parse_config(const std::string& text) {
  if (text.size() > kMaxConfigBytes)
    return make_error(Errc::too_large, "collect.yaml is larger than 1 MiB");
  YamlLimits limits;
  limits.max_bytes = kMaxConfigBytes;
  limits.max_depth = 16;
  limits.max_aliases = 100;
  if (auto st = check_yaml(text, limits, "collect.yaml"); !st) return st.error();
  CollectConfig cfg;
  try {
    auto root = YAML::Load(text);
    if (!root.IsMap()) return make_error(Errc::invalid_argument, "collect.yaml: not a mapping");
    for (const auto& kv : root) {
      auto k = kv.first.as<std::string>();
      if (k != "cache" && k != "apt" && k != "images" && k != "advisories" && k != "ca_file" &&
          k != "npm" && k != "apk" && k != "rpm")
        return make_error(Errc::invalid_argument,
                          "collect.yaml: unknown key '" + k.substr(0, 60) + "'");
    }
    if (!scalar(root, "cache").empty()) cfg.cache = scalar(root, "cache");
    cfg.ca_file = scalar(root, "ca_file");
    if (auto st = each_entry(
            root, "apt",
            [&](const YAML::Node& a) -> Status {
              AptSource s;
              auto e = repository_entry(a, "apt", "keyring", "the distribution's archive keys",
                                        s.architectures);
              if (!e) return e.error();
              s.name = e->name;
              s.url = e->url;
              s.keyring = e->key;
              s.suite = scalar(a, "suite");
              s.release = scalar(a, "release");
              if (s.suite.empty() || safe_name(s.suite) != s.suite)
                return make_error(Errc::invalid_argument,
                                  e->where + ": suite must be a suite name");
              if (s.release.empty()) s.release = s.suite.substr(0, s.suite.find('-'));
              auto c = string_list(a["components"], e->where + ": components");
              if (!c) return c.error();
              if (!c->empty()) s.components = *c;
              for (const auto& x : s.components)
                if (safe_name(x) != x)
                  return make_error(Errc::invalid_argument, e->where + ": bad component");
              auto pk = string_list(a["packages"], e->where + ": packages");
              if (!pk) return pk.error();
              s.packages = *pk;
              cfg.apt.push_back(std::move(s));
              return {};
            });
        !st)
      return st.error();
    if (root["images"]) {
      if (!root["images"].IsSequence())
        return make_error(Errc::invalid_argument, "collect.yaml: images must be a list");
      for (const auto& i : root["images"]) {
        ImageSpec s;
        s.source = scalar(i, "source");
        s.as = scalar(i, "as");
        if (s.source.rfind("docker://", 0) != 0 || !valid_reference(s.source.substr(9)))
          return make_error(Errc::invalid_argument,
                            "collect.yaml: images: source '" + s.source.substr(0, 100) +
                                "' must be docker://HOST/REPOSITORY:TAG or @sha256:...");
        if (!valid_reference(s.as) || s.as.find('@') != std::string::npos ||
            s.as.rfind(':') == std::string::npos)
          return make_error(
              Errc::invalid_argument,
              "collect.yaml: images: as '" + s.as.substr(0, 100) + "' must be REPOSITORY:TAG");
        auto pl = string_list(i["platforms"], "collect.yaml: images: platforms");
        if (!pl) return pl.error();
        s.platforms = *pl;
        for (const auto& p : s.platforms)
          if (p.find('/') == std::string::npos || !valid_reference(p))
            return make_error(Errc::invalid_argument, "collect.yaml: images: platform '" +
                                                          p.substr(0, 60) + "' is not os/arch");
        if (i["tls_verify"]) s.tls_verify = i["tls_verify"].as<bool>();
        cfg.images.push_back(std::move(s));
      }
    }
    if (auto st = each_entry(root, "apk",
                             [&](const YAML::Node& a) -> Status {
                               ApkSource s;
                               auto e = repository_entry(a, "apk", "keys",
                                                         "the distribution's /etc/apk/keys",
                                                         s.architectures);
                               if (!e) return e.error();
                               s.name = e->name;
                               s.url = e->url;
                               s.keys = e->key;
                               s.release = scalar(a, "release");
                               if (s.release.empty())
                                 return make_error(Errc::invalid_argument,
                                                   e->where + ": release is required (v3.10, ...)");
                               cfg.apk.push_back(std::move(s));
                               return {};
                             });
        !st)
      return st.error();
    if (auto st = each_entry(root, "rpm",
                             [&](const YAML::Node& a) -> Status {
                               RpmSource s;
                               auto e = repository_entry(a, "rpm", "keyring",
                                                         "the distribution's RPM-GPG-KEY",
                                                         s.architectures);
                               if (!e) return e.error();
                               s.name = e->name;
                               s.url = e->url;
                               s.keyring = e->key;
                               s.release = scalar(a, "release");
                               auto pk = string_list(a["packages"], e->where + ": packages");
                               if (!pk) return pk.error();
                               s.packages = *pk;
                               cfg.rpm.push_back(std::move(s));
                               return {};
                             });
        !st)
      return st.error();
    if (root["npm"]) {
      const auto& n = root["npm"];
      if (!n.IsMap())
        return make_error(Errc::invalid_argument, "collect.yaml: npm must be a mapping");
      if (!scalar(n, "registry").empty()) cfg.npm.registry = scalar(n, "registry");
      if (auto u = parse_url(cfg.npm.registry); !u)
        return make_error(Errc::invalid_argument, "collect.yaml: npm: " + u.error().message);
      auto pk = string_list(n["packages"], "collect.yaml: npm: packages");
      if (!pk) return pk.error();
      for (const auto& spec : *pk) {
        auto at = spec.rfind('@');
        if (at == 0 || at == std::string::npos || !valid_npm_name(spec.substr(0, at)) ||
            at + 1 == spec.size())
          return make_error(Errc::invalid_argument, "collect.yaml: npm: packages: '" +
                                                        spec.substr(0, 100) +
                                                        "' is not NAME@LOWEST_VERSION");
        cfg.npm.packages.emplace_back(spec.substr(0, at), spec.substr(at + 1));
      }
    }
    if (root["advisories"]) {
      if (!root["advisories"].IsSequence())
        return make_error(Errc::invalid_argument, "collect.yaml: advisories must be a list");
      for (const auto& a : root["advisories"]) {
        FeedSpec f;
        f.url = scalar(a, "url");
        f.name = scalar(a, "name");
        f.sha256 = scalar(a, "sha256");
        f.checksum_url = scalar(a, "checksum_url");
        f.signature_url = scalar(a, "signature_url");
        f.keyring = scalar(a, "keyring");
        if (auto u = parse_url(f.url); !u)
          return make_error(Errc::invalid_argument,
                            "collect.yaml: advisories: " + u.error().message);
        if (f.name.empty()) f.name = last_segment(f.url);
        f.name = safe_name(f.name);
        if (!f.signature_url.empty() && f.keyring.empty())
          return make_error(Errc::invalid_argument, "collect.yaml: advisories: " + f.url +
                                                        ": signature_url needs a keyring");
        cfg.advisories.push_back(std::move(f));
      }
    }
  } catch (const YAML::Exception& e) {
    return make_error(Errc::invalid_argument, std::string("collect.yaml: ") + e.what());
  }
  if (cfg.cache.empty()) {
    const char* home = std::getenv("HOME");
    cfg.cache = stdfs::path(home && *home ? home : "/tmp") / ".cache" / "airheal-collect";
  }
  return cfg;
}

Result<json> read_needs(const stdfs::path& file, const stdfs::path& key_file) {
  auto bytes = fs::read_file(file, kMaxNeedsBytes);
  if (!bytes) return make_error(bytes.error().code, "needs: " + bytes.error().message);
  auto env = json::parse(*bytes, nullptr, false);
  if (!env.is_object() || !env.contains("payloadType") || !env["payloadType"].is_string() ||
      !env.contains("payload") || !env["payload"].is_string() || !env.contains("signatures") ||
      !env["signatures"].is_array())
    return make_error(
        Errc::invalid_argument,
        "needs: " + file.string() + " is not a DSSE envelope (airhealctl needs export)");
  if (env["payloadType"] != evidence::kNeedsPayloadType)
    return make_error(Errc::invalid_argument,
                      "needs: the envelope's payloadType is " +
                          env["payloadType"].get<std::string>().substr(0, 80) + ", not " +
                          evidence::kNeedsPayloadType);
  auto payload = base64_decode(env["payload"].get<std::string>());
  if (!payload) return make_error(Errc::invalid_argument, "needs: the payload is not base64");
  auto key = fs::read_file(key_file, 1u << 20);
  if (!key) return make_error(key.error().code, "needs: appliance key: " + key.error().message);
  auto home = stdfs::temp_directory_path() / ("airheal-needs-" + std::to_string(::getpid()));
  std::error_code ec;
  stdfs::remove_all(home, ec);
  Result<json> result = make_error(Errc::denied, "needs: no signature by the appliance key");
  {
    auto ring = pgp::Keyring::open(home);
    if (!ring) return ring.error();
    auto fprs = ring->import_keys(*key);
    if (!fprs || fprs->empty())
      return make_error(Errc::invalid_argument, "needs: " + key_file.string() + " holds no key");
    auto pae = heal::dsse_pae(evidence::kNeedsPayloadType, *payload);
    for (const auto& s : env["signatures"]) {
      if (!s.is_object() || !s.contains("sig") || !s["sig"].is_string()) continue;
      auto sig = base64_decode(s["sig"].get<std::string>());
      if (!sig) continue;
      auto checks = ring->verify_detached(*sig, pae);
      if (!checks) continue;
      for (const auto& c : *checks) {
        if (c.bad) {
          result = make_error(Errc::denied,
                              "needs: BAD signature: the needs file was altered after the "
                              "appliance signed it");
          break;
        }
        if (c.good && std::find(fprs->begin(), fprs->end(), c.fingerprint) != fprs->end()) {
          auto doc = json::parse(*payload, nullptr, false);
          if (!doc.is_object() || doc.value("schema", "") != evidence::kNeedsSchema)
            result =
                make_error(Errc::invalid_argument, "needs: the payload is not a needs document");
          else
            result = std::move(doc);
          break;
        }
      }
      if (result || result.error().message.find("BAD") != std::string::npos) break;
    }
  }
  stdfs::remove_all(home, ec);
  return result;
}

namespace {

class Run {
 public:
  Run(const CollectConfig& cfg, const CollectOptions& o) : cfg_(cfg), o_(o) {
    fetch_.ca_file = cfg.ca_file;
  }

  Result<CollectReport> go() {
    std::error_code ec;
    if (!o_.dry_run) {
      stdfs::create_directories(o_.out, ec);
      if (ec)
        return make_error(Errc::io_error, "cannot create " + o_.out.string() + ": " + ec.message());
      if (!stdfs::is_empty(o_.out, ec))
        return make_error(Errc::conflict,
                          o_.out.string() + " is not empty: collect writes into a new folder");
      for (const char* d : {"packages", "images", "advisories", "artifacts"})
        stdfs::create_directories(o_.out / d, ec);
    }
    stdfs::create_directories(cfg_.cache, ec);
    if (ec) return make_error(Errc::io_error, "cannot create the cache " + cfg_.cache.string());
    log({{"event", "collect.start"},
         {"time", format_time(o_.now)},
         {"dry_run", o_.dry_run},
         {"needs", o_.needs ? json((*o_.needs)["generated_at"]) : json(nullptr)},
         {"needs_key", o_.needs ? json((*o_.needs)["appliance_key"]) : json(nullptr)}});
    if (auto st = packages(); !st) return fail(st.error());
    if (auto st = alpine(); !st) return fail(st.error());
    if (auto st = rpms(); !st) return fail(st.error());
    if (auto st = images(); !st) return fail(st.error());
    if (auto st = feeds(); !st) return fail(st.error());
    if (auto st = applications(); !st) return fail(st.error());
    log({{"event", "collect.end"}, {"report", report_.to_json()}});
    if (!o_.dry_run) {
      if (auto st = fs::write_file_atomic(o_.out / "artifacts" / "collect.log", log_); !st)
        return st.error();
      json sidecar = {{"kind", "collect-log"}, {"media_type", "application/x-ndjson"}};
      if (auto st =
              fs::write_file_atomic(o_.out / "artifacts" / "collect.log.json", sidecar.dump(2));
          !st)
        return st.error();
      json collected = {{"format", "airheal-collect/v1"}, {"created", format_time(o_.now)},
                        {"advisories", "advisories"},     {"packages", "packages"},
                        {"artifacts", "artifacts"},       {"images", images_}};
      if (auto st = fs::write_file_atomic(o_.out / "collected.json", collected.dump(2) + "\n"); !st)
        return st.error();
    }
    return report_;
  }

 private:
  Result<CollectReport> fail(const Error& e) {
    log({{"event", "collect.failed"}, {"error", e.message}});
    if (!o_.dry_run) (void)fs::write_file_atomic(o_.out / "artifacts" / "collect.log", log_);
    return e;
  }

  void log(json record) { log_ += record.dump() + "\n"; }
  void say(const std::string& line) {
    if (o_.progress) o_.progress(line);
  }

  // Packages: the needs' fixed builds (each from the repositories serving its release) and what
  // the configuration lists.
  Status packages() {
    struct Want {
      AptWant want;
      std::string release, label;
      bool found = false;
      std::vector<std::string> reasons;
    };
    std::vector<Want> wants;
    if (o_.needs) {
      for (const auto& p : (*o_.needs)["packages"]) {
        std::string label = p.value("family", "") + " " + p.value("release", "") + " " +
                            p.value("source", "") + " >= " + p.value("fixed_version", "");
        if (p.value("family", "") == "apk") {
          apk_needs_.push_back(p);
          continue;
        }
        if (p.value("family", "") == "rpm") {
          rpm_needs_.push_back(p);
          continue;
        }
        if (p.value("family", "") != "deb") {
          report_.missing.push_back(label + ": no repository type for this family");
          continue;
        }
        const auto why = needs_why(p);
        for (const auto& b : p["binaries"]) {
          Want w;
          w.want.name = b.value("name", "");
          w.want.architecture = b.value("architecture", "");
          w.want.source = p.value("source", "");
          w.want.min_source_version = p.value("fixed_version", "");
          w.want.why = why;
          w.release = p.value("release", "");
          w.label = label + ": " + w.want.name + ":" + w.want.architecture;
          wants.push_back(std::move(w));
        }
      }
    }
    for (const auto& src : cfg_.apt) {
      std::vector<AptWant> mine;
      std::vector<Want*> refs;
      for (auto& w : wants)
        if (!w.found && w.release == src.release) {
          mine.push_back(w.want);
          refs.push_back(&w);
        }
      std::vector<AptWant> listed;
      for (const auto& spec : src.packages) {
        AptWant w;
        auto eq = spec.find('=');
        w.name = spec.substr(0, eq);
        if (eq != std::string::npos) w.exact_version = spec.substr(eq + 1);
        w.why = "collect.yaml";
        listed.push_back(std::move(w));
      }
      if (mine.empty() && listed.empty()) continue;
      say("apt " + src.name + ": reading " + src.url + " " + src.suite);
      AptLog alog{[this](const json& r) { log(r); }, [this](const std::string& l) { say(l); }};
      auto repo = AptRepository::open(src, cfg_.cache, fetch_, o_.now, alog);
      if (!repo) {
        report_.refused.push_back(repo.error().message);
        return repo.error();
      }
      auto all = mine;
      all.insert(all.end(), listed.begin(), listed.end());
      auto sel = select_packages(repo->index(), all, src.architectures);
      // Which wants this repository served (a want absent here may be in the next one).
      for (std::size_t i = 0; i < refs.size(); ++i) {
        bool got = false;
        for (const auto& c : sel.chosen)
          if (c.entry.package.name == mine[i].name &&
              (mine[i].architecture.empty() ||
               c.entry.package.architecture == mine[i].architecture ||
               c.entry.package.architecture == "all"))
            got = true;
        if (got)
          refs[i]->found = true;
        else
          refs[i]->reasons.push_back(src.name + ": " + [&] {
            for (const auto& m : sel.missing)
              if (m.rfind(mine[i].name + ":", 0) == 0) return m;
            return mine[i].name + ": not chosen";
          }());
      }
      for (const auto& m : sel.missing)
        for (const auto& l : listed)
          if (m.rfind(l.name + ":", 0) == 0 || m.rfind(l.name + "=", 0) == 0)
            report_.missing.push_back(src.name + ": " + m);
      for (const auto& c : sel.chosen) {
        report_.bytes_total += c.entry.size;
        if (o_.dry_run) {
          report_.planned.push_back("deb " + c.entry.package.name + " " + c.entry.package.version +
                                    " " + c.entry.package.architecture + " (" +
                                    fs::human_bytes(c.entry.size) + ") from " + src.name + ": " +
                                    c.why);
          continue;
        }
        auto got = repo->download(c.entry, o_.out / "packages", alog);
        if (!got) {
          report_.refused.push_back(got.error().message);
          return got.error();
        }
        ++report_.packages;
        if (got->second)
          ++report_.packages_from_cache;
        else
          report_.bytes_fetched += c.entry.size;
      }
    }
    report_unfound(wants, "apt");
    return {};
  }

  // Each want no repository gave, with the reasons each repository had (or that none serves it).
  template <class Want>
  void report_unfound(const std::vector<Want>& wants, const std::string& kind) {
    for (const auto& w : wants)
      if (!w.found) {
        std::string why;
        for (const auto& r : w.reasons) why += (why.empty() ? "" : "; ") + r;
        report_.missing.push_back(
            w.label + ": " +
            (why.empty() ? "no " + kind + " repository in collect.yaml serves release " + w.release
                         : why));
      }
  }

  // "needs: ID ID ...": why a build is collected.
  static std::string needs_why(const json& p) {
    std::string why = "needs:";
    for (const auto& a : p["advisories"])
      if (a.is_string()) why += " " + a.get<std::string>();
    return why;
  }

  // Alpine packages: the needs' fixed builds, from the repositories serving their release.
  Status alpine() {
    for (const auto& p : apk_needs_) {
      std::string label = "apk " + p.value("release", "") + " " + p.value("source", "") +
                          " >= " + p.value("fixed_version", "");
      const auto why = needs_why(p);
      std::vector<std::string> reasons;
      std::set<std::string> wanted, found;
      for (const auto& b : p["binaries"])
        wanted.insert(b.value("name", "") + ":" + b.value("architecture", ""));
      for (const auto& src : cfg_.apk) {
        if (src.release != p.value("release", "")) continue;
        for (const auto& arch : src.architectures) {
          std::vector<ApkWant> wants;
          for (const auto& b : p["binaries"])
            if (b.value("architecture", "") == arch &&
                !found.count(b.value("name", "") + ":" + arch))
              wants.push_back({b.value("name", ""), arch, p.value("source", ""),
                               p.value("fixed_version", ""), why});
          if (wants.empty()) continue;
          ApkLog alog{[this](const json& r) { log(r); }};
          auto key = src.name + "/" + arch;
          if (!apk_repos_.count(key)) {
            say("apk " + src.name + ": reading " + src.url + " " + arch);
            auto repo = ApkRepository::open(src, arch, cfg_.cache, fetch_, alog);
            if (!repo) {
              report_.refused.push_back(repo.error().message);
              return repo.error();
            }
            apk_repos_.emplace(key, std::move(*repo));
          }
          auto& repo = apk_repos_.at(key);
          std::vector<std::string> missing;
          for (const auto& c : select_apk(repo.index(), arch, wants, missing)) {
            found.insert(c.entry.record.name + ":" + arch);
            if (o_.dry_run) {
              report_.planned.push_back("apk " + c.entry.record.name + " " +
                                        c.entry.record.version + " " + arch + " from " + src.name +
                                        ": " + c.why);
              continue;
            }
            auto got = repo.download(c.entry, o_.out / "packages", alog);
            if (!got) {
              report_.refused.push_back(got.error().message);
              return got.error();
            }
            ++report_.packages;
          }
          for (const auto& m : missing) reasons.push_back(src.name + ": " + m);
        }
      }
      for (const auto& w : wanted)
        if (!found.count(w)) {
          std::string r;
          for (const auto& x : reasons)
            if (x.find(": " + w + ":") != std::string::npos) r += (r.empty() ? "" : "; ") + x;
          report_.missing.push_back(label + ": " + w + ": " +
                                    (r.empty()
                                         ? "no apk repository in collect.yaml serves release " +
                                               p.value("release", "") + " for its architecture"
                                         : r));
        }
    }
    return {};
  }

  // RPM packages: the needs' fixed builds (by source rpm), and what collect.yaml lists.
  Status rpms() {
    struct Want {
      RpmWant want;
      std::string release, label;
      bool found = false;
      std::vector<std::string> reasons;
    };
    std::vector<Want> wants;
    for (const auto& p : rpm_needs_) {
      const auto why = needs_why(p);
      for (const auto& b : p["binaries"])
        wants.push_back({{b.value("name", ""), b.value("architecture", ""), p.value("source", ""),
                          p.value("fixed_version", ""), why},
                         p.value("release", ""),
                         "rpm " + p.value("release", "") + " " + p.value("source", "") +
                             " >= " + p.value("fixed_version", "") + ": " + b.value("name", ""),
                         false,
                         {}});
    }
    for (const auto& src : cfg_.rpm) {
      std::vector<RpmWant> mine;
      std::vector<Want*> refs;
      for (auto& w : wants)
        if (!w.found && (src.release.empty() || w.release == src.release)) {
          mine.push_back(w.want);
          refs.push_back(&w);
        }
      for (const auto& n : src.packages) mine.push_back({n, "", "", "", "collect.yaml"});
      if (mine.empty()) continue;
      say("rpm " + src.name + ": reading " + src.url);
      RpmLog rlog{[this](const json& r) { log(r); }};
      auto repo = RpmRepository::open(src, cfg_.cache, fetch_, rlog);
      if (!repo) {
        report_.refused.push_back(repo.error().message);
        return repo.error();
      }
      std::vector<std::string> missing;
      auto chosen = select_rpm(repo->index(), mine, src.architectures, missing);
      for (std::size_t i = 0; i < refs.size(); ++i) {
        bool got = std::any_of(chosen.begin(), chosen.end(), [&](const RpmChosen& c) {
          return c.entry.name == refs[i]->want.name;
        });
        if (got)
          refs[i]->found = true;
        else
          for (const auto& m : missing)
            if (m.rfind(refs[i]->want.name, 0) == 0)
              refs[i]->reasons.push_back(src.name + ": " + m);
      }
      for (const auto& m : missing)
        for (const auto& n : src.packages)
          if (m.rfind(n + ":", 0) == 0) report_.missing.push_back(src.name + ": " + m);
      for (const auto& c : chosen) {
        report_.bytes_total += c.entry.size;
        if (o_.dry_run) {
          report_.planned.push_back("rpm " + c.entry.name + "-" + c.entry.evr() + "." +
                                    c.entry.arch + " (" + fs::human_bytes(c.entry.size) +
                                    ") from " + src.name + ": " + c.why);
          continue;
        }
        auto got = repo->download(c.entry, o_.out / "packages", rlog);
        if (!got) {
          report_.refused.push_back(got.error().message);
          return got.error();
        }
        ++report_.packages;
        report_.bytes_fetched += c.entry.size;
      }
    }
    report_unfound(wants, "rpm");
    return {};
  }

  // Images: the configuration's, and the newer bases the needs name (from their upstream names).
  Status images() {
    std::vector<ImageSpec> specs = cfg_.images;
    std::set<std::string> auto_added;
    if (o_.needs) {
      for (const auto& b : (*o_.needs)["base_images"]) {
        auto upstream = b.value("upstream", "");
        bool listed = false;
        for (const auto& s : cfg_.images)
          listed = listed || s.source == "docker://" + upstream ||
                   (b.contains("repository") &&
                    s.as == b.value("repository", "") + ":" + b.value("tag", ""));
        if (listed || !valid_reference(upstream) || upstream.find('@') != std::string::npos)
          continue;
        ImageSpec s;
        s.source = "docker://" + upstream;
        auto slash = upstream.find('/');
        auto first = slash == std::string::npos ? "" : upstream.substr(0, slash);
        s.as = (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
                first == "localhost")
                   ? upstream.substr(slash + 1)
                   : upstream;
        if (s.as.rfind(':') == std::string::npos || s.as.rfind(':') < s.as.rfind('/')) continue;
        auto_added.insert(s.source);
        specs.push_back(std::move(s));
      }
    }
    if (!specs.empty() && !have_skopeo()) {
      report_.missing.push_back("images: skopeo is not installed (apt-get install skopeo)");
      return {};
    }
    std::size_t n = 0;
    for (const auto& s : specs) {
      std::vector<std::string> tls = {std::string("--src-tls-verify=") +
                                      (s.tls_verify ? "true" : "false")};
      if (o_.dry_run) {
        auto argv = std::vector<std::string>{"skopeo", "inspect", "--raw"};
        argv.insert(argv.end(), tls.begin(), tls.end());
        argv.push_back(s.source);
        auto r = run_tool(argv);
        if (r.status != 0) {
          report_.missing.push_back("image " + s.source + ": " + one_line(r.err));
          continue;
        }
        auto m = json::parse(r.out, nullptr, false);
        std::uint64_t size = 0;
        std::string shape = "an image";
        if (m.is_object() && m.contains("manifests")) {
          shape = "an index of " + std::to_string(m["manifests"].size()) + " manifests";
        } else if (m.is_object() && m.contains("layers")) {
          for (const auto& l : m["layers"]) size += l.value("size", std::uint64_t{0});
        }
        report_.bytes_total += size;
        report_.planned.push_back("image " + s.source + " as " + s.as + " (" + shape +
                                  (size ? ", " + fs::human_bytes(size) + " of layers" : "") + ")");
        continue;
      }
      auto dir = o_.out / "images" / std::to_string(n);
      auto tag = s.as.substr(s.as.rfind(':') + 1);
      std::vector<std::string> argv = {"skopeo", "copy", "--quiet", "--retry-times", "3"};
      argv.insert(argv.end(), tls.begin(), tls.end());
      if (s.platforms.size() == 1) {
        auto p = s.platforms[0];
        auto a = p.find('/');
        auto v = p.find('/', a + 1);
        argv.insert(argv.end(),
                    {"--override-os", p.substr(0, a), "--override-arch",
                     p.substr(a + 1, v == std::string::npos ? std::string::npos : v - a - 1)});
        if (v != std::string::npos)
          argv.insert(argv.end(), {"--override-variant", p.substr(v + 1)});
      } else {
        argv.push_back("--multi-arch=all");
      }
      // Into a layout kept in the cache (skopeo skips the blobs it already holds: the second run
      // fetches what changed), then the image's blobs linked into the output.
      auto cached = cfg_.cache / "images" /
                    safe_name(s.source.substr(9) + "-" + std::to_string(s.platforms.size()));
      std::error_code mk;
      stdfs::create_directories(cached.parent_path(), mk);
      argv.push_back(s.source);
      argv.push_back("oci:" + cached.string() + ":" + tag);
      say("image " + s.source);
      auto r = run_tool(argv);
      if (r.status == 0)
        if (auto st = mirror_layout(cached, tag, dir); !st) {
          r.status = 1;
          r.err = st.error().message;
        }
      if (r.status != 0) {
        std::error_code ec;
        stdfs::remove_all(dir, ec);
        stdfs::remove_all(cached, ec);  // whatever skopeo left there is not trusted
        auto why = one_line(r.err);
        if (why.find("igest did not match") != std::string::npos ||
            why.find("digest") != std::string::npos && why.find("match") != std::string::npos) {
          report_.refused.push_back("image " + s.source +
                                    ": the registry served a blob whose digest "
                                    "does not match its manifest: refused (" +
                                    why + ")");
          return make_error(Errc::digest_invalid, report_.refused.back());
        }
        if (auto_added.count(s.source)) {
          report_.missing.push_back("base image " + s.source + " (from the needs): " + why);
          continue;
        }
        report_.refused.push_back("image " + s.source + ": " + why);
        return make_error(Errc::io_error, report_.refused.back());
      }
      if (s.platforms.size() > 1)
        if (auto st = keep_platforms(dir, tag, s.platforms); !st) return st;
      ++n;
      ++report_.images;
      images_.push_back(
          {{"layout", "images/" + std::to_string(n - 1)}, {"ref", tag}, {"as", s.as}});
      log({{"event", "image"},
           {"source", s.source},
           {"as", s.as},
           {"platforms", s.platforms},
           {"verified_by", "skopeo: every blob against its digest in the manifest"}});
    }
    return {};
  }

  // The image TAG of the layout FROM, as a layout of its own in TO: its index entry, and every
  // blob linked (or copied).
  static Status mirror_layout(const stdfs::path& from, const std::string& tag,
                              const stdfs::path& to) {
    auto top = fs::read_file(from / "index.json", 4u << 20);
    if (!top) return top.error();
    auto index = json::parse(*top, nullptr, false);
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
      return make_error(Errc::invalid_argument, "the image layout's index.json is unreadable");
    json kept = json::array();
    for (const auto& m : index["manifests"])
      if (m.contains("annotations") && m["annotations"].is_object() &&
          m["annotations"].value("org.opencontainers.image.ref.name", "") == tag)
        kept.push_back(m);
    if (kept.size() != 1)
      return make_error(Errc::invalid_argument,
                        "the image layout has no single image tagged " + tag);
    index["manifests"] = kept;
    std::error_code ec;
    stdfs::create_directories(to / "blobs" / "sha256", ec);
    for (const auto& b : stdfs::directory_iterator(from / "blobs" / "sha256", ec)) {
      auto dest = to / "blobs" / "sha256" / b.path().filename();
      stdfs::create_hard_link(b.path(), dest, ec);
      if (ec) {
        ec.clear();
        stdfs::copy_file(b.path(), dest, stdfs::copy_options::overwrite_existing, ec);
        if (ec)
          return make_error(Errc::io_error, "cannot write " + dest.string() + ": " + ec.message());
      }
    }
    if (auto st = fs::write_file_atomic(to / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
        !st)
      return st;
    return fs::write_file_atomic(to / "index.json", index.dump());
  }

  // An index copied whole, cut down to PLATFORMS: a new index blob and index.json pointing at it.
  Status keep_platforms(const stdfs::path& dir, const std::string& tag,
                        const std::vector<std::string>& platforms) {
    auto top = fs::read_file(dir / "index.json", 1u << 20);
    if (!top) return top.error();
    auto index = json::parse(*top, nullptr, false);
    if (!index.is_object() || !index.contains("manifests") || index["manifests"].empty())
      return make_error(Errc::invalid_argument, dir.string() + ": index.json unreadable");
    auto& desc = index["manifests"][0];
    auto digest = desc.value("digest", "");
    if (digest.rfind("sha256:", 0) != 0) return make_error(Errc::invalid_argument, "bad digest");
    auto inner = fs::read_file(dir / "blobs" / "sha256" / digest.substr(7), 4u << 20);
    if (!inner) return inner.error();
    auto ii = json::parse(*inner, nullptr, false);
    if (!ii.is_object() || !ii.contains("manifests")) return {};  // a single image: nothing to cut
    json kept = json::array();
    for (const auto& m : ii["manifests"]) {
      if (!m.contains("platform")) continue;
      auto p = m["platform"].value("os", "") + "/" + m["platform"].value("architecture", "");
      auto pv =
          m["platform"].contains("variant") ? p + "/" + m["platform"].value("variant", "") : p;
      if (std::find(platforms.begin(), platforms.end(), p) != platforms.end() ||
          std::find(platforms.begin(), platforms.end(), pv) != platforms.end())
        kept.push_back(m);
    }
    if (kept.empty())
      return make_error(Errc::not_found, "the index has none of the platforms configured");
    ii["manifests"] = kept;
    auto bytes = ii.dump();
    auto d = Sha256::of(bytes);
    if (auto st = fs::write_file_atomic(dir / "blobs" / "sha256" / d.hex(), bytes); !st) return st;
    desc["digest"] = d.str();
    desc["size"] = bytes.size();
    desc["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
    return fs::write_file_atomic(dir / "index.json", index.dump());
  }

  bool have_skopeo() {
    auto r = run_tool({"skopeo", "--version"});
    return r.status == 0;
  }

  // Advisory feeds: fetched (resumable, cached by URL), verified, copied into advisories/.
  Status feeds() {
    for (const auto& f : cfg_.advisories) {
      if (o_.dry_run) {
        auto len = content_length(f.url, fetch_);
        if (!len) {
          report_.missing.push_back("feed " + f.url + ": " + len.error().message);
          continue;
        }
        if (*len) report_.bytes_total += **len;
        report_.planned.push_back("feed " + f.url + " (" +
                                  (*len ? fs::human_bytes(**len) : std::string("size unknown")) +
                                  ")");
        continue;
      }
      say("feed " + f.url);
      auto cached = cfg_.cache / "feeds" / (Sha256::of(f.url).hex().substr(0, 16) + "-" + f.name);
      std::error_code ec;
      stdfs::create_directories(cached.parent_path(), ec);
      stdfs::remove(cached, ec);  // a feed is fetched fresh each run (a .part resumes)
      FetchOptions o = fetch_;
      o.max_bytes = kMaxFeedBytes;
      auto got = fetch_to_file(f.url, cached, o);
      if (!got) {
        report_.missing.push_back("feed " + f.url + ": " + got.error().message);
        continue;
      }
      auto digest = Sha256::of_file(cached);
      if (!digest) return digest.error();
      std::string verified;
      if (!f.sha256.empty()) {
        if (digest->hex() != f.sha256)
          return refuse("feed " + f.url + " has SHA256 " + digest->hex() + ", collect.yaml pins " +
                        f.sha256);
        verified = "SHA256 pinned in collect.yaml";
      } else if (!f.checksum_url.empty()) {
        FetchOptions small = fetch_;  // the run's TLS anchors, a small cap
        small.max_bytes = 64 << 10;
        auto sums = fetch_bytes(f.checksum_url, small);
        if (!sums) return refuse("feed " + f.url + ": checksum file: " + sums.error().message);
        auto want = sums->substr(0, sums->find_first_of(" \t\n"));
        std::transform(want.begin(), want.end(), want.begin(), ::tolower);
        std::string have;
        if (want.size() == 64) {
          have = digest->hex();
        } else if (want.size() == 128) {
          auto d512 = ContentHash::of_file(DigestAlgorithm::sha512, cached);
          if (!d512) return d512.error();
          have = d512->hex();
        }
        if (have.empty() || have != want)
          return refuse("feed " + f.url + " does not match its published checksum " +
                        f.checksum_url);
        verified = "published checksum " + f.checksum_url;
      } else if (!f.signature_url.empty()) {
        FetchOptions small = fetch_;
        small.max_bytes = 1 << 20;
        auto sig = fetch_bytes(f.signature_url, small);
        if (!sig) return refuse("feed " + f.url + ": signature: " + sig.error().message);
        auto data = fs::read_file(cached, kMaxFeedBytes);
        if (!data) return data.error();
        auto trust = load_keyring(f.keyring, cfg_.cache / "gnupg-feeds", "feed " + f.url);
        if (!trust) return refuse(trust.error().message);
        auto checks = trust->ring.verify_detached(*sig, *data);
        if (!checks) return refuse("feed " + f.url + ": signature: " + checks.error().message);
        auto signer = good_signer(*checks, *trust, "feed " + f.url, f.url);
        if (!signer) return refuse(signer.error().message);
        std::string by = *signer;
        verified = "OpenPGP signature by " + by;
      } else if (f.url.rfind("https://", 0) == 0) {
        verified = "TLS (the server's certificate)";
      } else {
        return refuse("feed " + f.url +
                      ": fetched over plain http with no sha256, checksum_url or signature_url: "
                      "nothing proves it is what the provider published");
      }
      auto dest = o_.out / "advisories" / f.name;
      std::size_t unpacked = 0;
      if (is_zip(cached)) {
        // An archive of advisories (OSV's ECOSYSTEM/all.zip): its JSON documents, each under its
        // own base name, in a folder named after the feed.
        auto folder =
            o_.out / "advisories" /
            (f.name.ends_with(".zip") ? f.name.substr(0, f.name.size() - 4) : f.name + ".d");
        auto n = unzip_json(cached, folder);
        if (!n) return refuse("feed " + f.url + ": " + n.error().message);
        unpacked = *n;
      } else {
        stdfs::copy_file(cached, dest, stdfs::copy_options::overwrite_existing, ec);
        if (ec)
          return make_error(Errc::io_error, "cannot write " + dest.string() + ": " + ec.message());
      }
      ++report_.feeds;
      report_.bytes_fetched += got->transferred;
      log({{"event", "feed"},
           {"url", f.url},
           {"file", "advisories/" + f.name},
           {"sha256", digest->hex()},
           {"documents", unpacked},
           {"verified_by", verified}});
    }
    return {};
  }

  // Application packages: npm packages from the registry (the needs' npm packages and lockfile
  // modules, and collect.yaml's), each tarball checked against its dist.integrity.
  Status applications() {
    std::vector<std::pair<std::string, std::string>> npm = cfg_.npm.packages;
    if (o_.needs)
      for (const auto& a : (*o_.needs)["applications"]) {
        auto label = a.value("ecosystem", "") + " " + a.value("name", "") +
                     " >= " + a.value("fixed_version", "") + " (" + a.value("kind", "") + ")";
        if (a.value("ecosystem", "") == "npm" && a.value("kind", "") != "binary" &&
            valid_npm_name(a.value("name", "")))
          npm.emplace_back(a.value("name", ""), a.value("fixed_version", ""));
        else
          report_.missing.push_back(label + ": collect fetches npm packages only so far; carry " +
                                    "the fixed artefact with create --artifacts");
      }
    const auto registry = base_url(cfg_.npm.registry);
    std::set<std::string> done;
    for (const auto& [name, fixed] : npm) {
      if (!done.insert(name + "@" + fixed).second) continue;
      FetchOptions o = fetch_;
      o.max_bytes = 64u << 20;
      auto doc = fetch_bytes(registry + "/" + npm_packument_path(name), o);
      if (!doc) {
        report_.missing.push_back("npm " + name + " >= " + fixed + ": " + doc.error().message);
        continue;
      }
      auto j = json::parse(*doc, nullptr, false);
      auto rel = choose_npm_release(j, name, fixed);
      if (!rel) {
        report_.missing.push_back(rel.error().message);
        continue;
      }
      if (o_.dry_run) {
        report_.planned.push_back("npm " + name + " " + rel->version + " (" + rel->tarball + ")");
        continue;
      }
      say("npm " + name + " " + rel->version);
      auto file_name =
          safe_name((name[0] == '@' ? name.substr(1) : name) + "-" + rel->version + ".tgz");
      for (auto& c : file_name)
        if (c == '/') c = '+';
      auto cached = cfg_.cache / "npm" / file_name;
      std::error_code ec;
      stdfs::create_directories(cached.parent_path(), ec);
      FetchOptions t = fetch_;
      t.max_bytes = 1u << 30;
      auto bytes = fs::read_file(cached, t.max_bytes);
      bool from_cache = bytes && heal::sri_sha512(*bytes) == rel->integrity;
      if (!from_cache) {
        stdfs::remove(cached, ec);
        auto got = fetch_to_file(rel->tarball, cached, t);
        if (!got) return refuse("npm " + name + " " + rel->version + ": " + got.error().message);
        bytes = fs::read_file(cached, t.max_bytes);
        if (!bytes) return bytes.error();
        if (heal::sri_sha512(*bytes) != rel->integrity) {
          stdfs::remove(cached, ec);
          return refuse("npm " + name + " " + rel->version + ": the tarball from " + rel->tarball +
                        " does not match the registry's dist.integrity " + rel->integrity);
        }
        report_.bytes_fetched += bytes->size();
      }
      stdfs::copy_file(cached, o_.out / "artifacts" / file_name,
                       stdfs::copy_options::overwrite_existing, ec);
      if (ec) return make_error(Errc::io_error, "cannot write " + file_name + ": " + ec.message());
      ++report_.applications;
      log({{"event", "npm"},
           {"package", name},
           {"version", rel->version},
           {"url", rel->tarball},
           {"integrity", rel->integrity},
           {"from_cache", from_cache},
           {"verified_by", "dist.integrity (sha512) from the registry's packument"}});
    }
    return {};
  }

  Status refuse(const std::string& why) {
    report_.refused.push_back(why);
    return make_error(Errc::denied, why + ": refused");
  }

  const CollectConfig& cfg_;
  const CollectOptions& o_;
  FetchOptions fetch_;
  CollectReport report_;
  json images_ = json::array();
  std::string log_;
  std::vector<json> apk_needs_, rpm_needs_;
  std::map<std::string, ApkRepository> apk_repos_;
};

}  // namespace

Result<CollectReport> collect(const CollectConfig& config, const CollectOptions& o) {
  return Run(config, o).go();
}

Result<Collected> read_collected(const stdfs::path& dir) {
  auto bytes = fs::read_file(dir / "collected.json", 1u << 20);
  if (!bytes)
    return make_error(
        bytes.error().code,
        dir.string() + " is not a collect folder (no collected.json): " + bytes.error().message);
  auto j = json::parse(*bytes, nullptr, false);
  if (!j.is_object() || j.value("format", "") != "airheal-collect/v1")
    return make_error(Errc::invalid_argument,
                      dir.string() + "/collected.json: not airheal-collect/v1");
  Collected c;
  auto sub = [&](const char* key) -> std::optional<stdfs::path> {
    auto rel = j.value(key, "");
    if (rel.empty() || rel.find("..") != std::string::npos || rel[0] == '/') return std::nullopt;
    auto p = dir / rel;
    std::error_code ec;
    if (!stdfs::is_directory(p, ec) || stdfs::is_empty(p, ec)) return std::nullopt;
    return p;
  };
  if (auto p = sub("advisories")) c.advisories.push_back(*p);
  if (auto p = sub("packages")) c.packages.push_back(*p);
  if (auto p = sub("artifacts")) c.artifacts.push_back(*p);
  if (j.contains("images") && j["images"].is_array())
    for (const auto& i : j["images"]) {
      auto layout = i.value("layout", "");
      if (layout.rfind("images/", 0) != 0 || layout.find("..") != std::string::npos ||
          !valid_reference(i.value("as", "")) || !valid_reference(i.value("ref", "")))
        return make_error(Errc::invalid_argument,
                          dir.string() + "/collected.json: bad image entry");
      c.images.push_back({dir / layout, i.value("ref", ""), i.value("as", "")});
    }
  return c;
}

}  // namespace airheal::collect
