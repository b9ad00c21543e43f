// airhealctl: the operator's command line. Works on the state directory directly, so it runs
// whether or not airheald is up (SQLite WAL and the store's locks make that safe).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "core/fs.hpp"
#include "registry/auth.hpp"
#include "store/store.hpp"

using namespace airheal;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

int fail(const std::string& msg, int code = 1) {
  std::cerr << "airhealctl: " << msg << "\n";
  return code;
}

std::unique_ptr<store::Store> open_store(const config::Config& cfg) {
  if (!std::filesystem::exists(cfg.state_dir / "metadata.db")) {
    fail("no airheal state in " + cfg.state_dir.string() + " (start airheald once, or pass --state-dir)");
    std::exit(2);
  }
  auto s = store::Store::open(cfg.state_dir);
  if (!s) {
    fail(s.error().message);
    std::exit(2);
  }
  return std::move(*s);
}

// GET http://host:port/target; returns the body or nullopt when the daemon is not reachable.
std::optional<std::string> http_get(const std::string& hostport, const std::string& target) {
  try {
    std::string host, port_s;
    auto colon = hostport.rfind(':');
    host = hostport.substr(0, colon);
    if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
    port_s = hostport.substr(colon + 1);
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(resolver.resolve(host, port_s));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, hostport);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    return res.body();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string human_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char out[32];
  std::snprintf(out, sizeof out, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  CLI::App app{"airhealctl - operate an airheal appliance"};
  app.require_subcommand(1);
  std::string config_file, state_dir;
  bool json_out = false;
  app.add_option("--config", config_file, "YAML configuration file (as given to airheald)");
  app.add_option("--state-dir", state_dir, "state directory (overrides state_dir)");
  app.add_flag("--json", json_out, "machine-readable output");

  auto* status = app.add_subcommand("status", "show whether airheald is serving and what the store holds");
  auto* store_cmd = app.add_subcommand("store", "content store maintenance");
  store_cmd->require_subcommand(1);
  auto* check = store_cmd->add_subcommand("check", "rehash every blob and check every reference");
  auto* reg = app.add_subcommand("registry", "registry maintenance");
  reg->require_subcommand(1);
  auto* gc = reg->add_subcommand("gc", "remove unreferenced blobs and stale uploads (dry run unless --apply)");
  bool apply = false, delete_untagged = false;
  std::string grace;
  gc->add_flag("--apply", apply, "really delete (default: only report)");
  gc->add_flag("--delete-untagged", delete_untagged, "also remove manifests no tag, retention or referrer keeps");
  gc->add_option("--grace", grace, "keep anything younger than this (default: gc.grace_period)");
  auto* user = app.add_subcommand("user", "registry users (HTTP Basic over TLS)");
  user->require_subcommand(1);
  std::string user_name;
  auto* user_add = user->add_subcommand("add", "add a user or change a password; reads the password from stdin");
  user_add->add_option("name", user_name)->required();
  auto* user_rm = user->add_subcommand("remove", "remove a user");
  user_rm->add_option("name", user_name)->required();
  auto* user_ls = user->add_subcommand("list", "list users");
  app.add_subcommand("version", "print the version");
  CLI11_PARSE(app, argc, argv);

  config::Config cfg;
  if (!config_file.empty()) {
    auto loaded = config::load_file(config_file);
    if (!loaded) return fail(loaded.error().message, 2);
    cfg = *loaded;
  }
  if (!state_dir.empty()) cfg.state_dir = state_dir;

  if (app.got_subcommand("version")) {
    std::cout << "airhealctl 0.1.0\n";
    return 0;
  }
  if (status->parsed()) {
    auto s = open_store(cfg);
    auto repos = s->catalog(0, "");
    std::string addr;
    if (auto a = fs::read_file(cfg.state_dir / "airheald.addr", 4096); a) {
      addr = *a;
      while (!addr.empty() && (addr.back() == '\n' || addr.back() == ' ')) addr.pop_back();
    }
    bool serving = false;
    if (addr.rfind("http://", 0) == 0) serving = http_get(addr.substr(7), "/v2/").has_value();
    else if (addr.rfind("https://", 0) == 0) serving = true;  // reported by the daemon itself
    if (json_out) {
      nlohmann::json j = {{"state_dir", std::filesystem::absolute(cfg.state_dir).lexically_normal().string()},
                          {"daemon", serving ? addr : ""}, {"repositories", repos}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "state:        " << std::filesystem::absolute(cfg.state_dir).lexically_normal().string() << "\n";
      std::cout << "daemon:       " << (serving ? "serving on " + addr : "not running") << "\n";
      std::cout << "repositories: " << repos.size() << "\n";
      for (const auto& r : repos) {
        auto tags = s->list_tags(r, 0, "");
        std::cout << "  " << r;
        if (tags && !tags->empty()) {
          std::cout << " (";
          for (std::size_t i = 0; i < tags->size(); ++i) std::cout << (i ? ", " : "") << (*tags)[i];
          std::cout << ")";
        }
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (check->parsed()) {
    auto s = open_store(cfg);
    auto r = s->check();
    if (json_out) {
      nlohmann::json j = {{"blobs", r.blobs_checked}, {"manifests", r.manifests_checked}, {"tags", r.tags_checked},
                          {"bytes_hashed", r.bytes_hashed}, {"problems", r.problems}, {"ok", r.ok()}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "checked " << r.blobs_checked << " blobs (" << human_bytes(r.bytes_hashed) << " rehashed), "
                << r.manifests_checked << " manifests, " << r.tags_checked << " tags\n";
      for (const auto& p : r.problems) std::cout << "PROBLEM: " << p << "\n";
      std::cout << (r.ok() ? "store is consistent\n" : std::to_string(r.problems.size()) + " problems found\n");
    }
    return r.ok() ? 0 : 1;
  }
  if (gc->parsed()) {
    auto s = open_store(cfg);
    store::GcOptions o;
    o.dry_run = !apply;
    o.delete_untagged = delete_untagged;
    o.grace_seconds = cfg.gc.grace_period.count();
    o.upload_max_age_seconds = cfg.gc.upload_max_age.count();
    if (!grace.empty()) {
      auto g = config::parse_duration(grace);
      if (!g) return fail(g.error().message, 2);
      o.grace_seconds = g->count();
    }
    auto r = s->gc(o);
    if (json_out) {
      nlohmann::json j = {{"dry_run", o.dry_run}, {"manifests_removed", r.manifests_removed},
                          {"blobs_removed", r.blobs_removed}, {"uploads_removed", r.uploads_removed},
                          {"orphan_files_removed", r.orphan_files_removed}, {"bytes_freed", r.bytes_freed},
                          {"manifests_kept", r.manifests_kept}, {"blobs_kept", r.blobs_kept}};
      std::cout << j.dump(2) << "\n";
    } else {
      const char* verb = o.dry_run ? "would remove" : "removed";
      for (const auto& m : r.manifests_removed) std::cout << verb << " manifest " << m << "\n";
      for (const auto& b : r.blobs_removed) std::cout << verb << " blob " << b << "\n";
      for (const auto& u : r.uploads_removed) std::cout << verb << " upload " << u << "\n";
      for (const auto& f : r.orphan_files_removed) std::cout << "removed orphan file " << f << "\n";
      std::cout << verb << " " << r.manifests_removed.size() << " manifests, " << r.blobs_removed.size() << " blobs ("
                << human_bytes(r.bytes_freed) << "), " << r.uploads_removed.size() << " uploads; kept "
                << r.manifests_kept << " manifests and " << r.blobs_kept << " blobs\n";
      if (o.dry_run) std::cout << "dry run: nothing was deleted; pass --apply to delete\n";
    }
    return 0;
  }
  if (user_add->parsed() || user_rm->parsed() || user_ls->parsed()) {
    auto path = cfg.users_file();
    auto users = registry::UserFile::load(path);
    if (!users) return fail(users.error().message, 2);
    if (user_ls->parsed()) {
      for (const auto& [u, h] : users->users()) std::cout << u << "\n";
      return 0;
    }
    if (!registry::UserFile::valid_user_name(user_name))
      return fail("user names are 1-64 characters of letters, digits, '.', '_' and '-'", 2);
    if (user_rm->parsed()) {
      if (!users->users().erase(user_name)) return fail("no user '" + user_name + "'", 1);
    } else {
      if (isatty(0)) std::cerr << "password for " << user_name << ": " << std::flush;
      std::string password;
      std::getline(std::cin, password);
      if (password.size() < 8) return fail("passwords must have at least 8 characters", 2);
      users->users()[user_name] = registry::UserFile::hash_password(password);
    }
    std::filesystem::create_directories(path.parent_path().empty() ? "." : path.parent_path());
    if (auto st = users->save(path); !st) return fail(st.error().message, 1);
    std::cout << (user_rm->parsed() ? "removed " : "saved ") << user_name << " in " << path.string()
              << " (restart airheald to apply)\n";
    return 0;
  }
  return 0;
}
