// airhealctl status | version
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands/command.hpp"
#include "cli/daemon_client.hpp"
#include "registry/auth.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/layer_cache_repository.hpp"
#include "scan/scanner.hpp"

namespace airheal::cli {
namespace {

class StatusCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    status_ =
        app.add_subcommand("status", "show whether airheald is serving and what the store holds");
    version_ = app.add_subcommand("version", "print the version");
  }
  bool given() const override { return status_->parsed() || version_->parsed(); }
  int run(const Context& ctx) override {
    if (version_->parsed()) {
      std::cout << "airhealctl " AIRHEAL_VERSION "\n";
      return 0;
    }
    return status(ctx);
  }

 private:
  int status(const Context& ctx) {
    const auto& cfg = ctx.cfg;
    auto sv = open_services(ctx);
    if (!sv) return 2;
    auto& s = *sv->store;
    auto repos = s.catalog(0, "");
    auto addr = daemon_url(cfg.state_dir);
    bool serving = false;
    if (addr.rfind("http://", 0) == 0)
      serving = daemon_request(addr.substr(7), "GET", "/v2/").has_value();
    else if (addr.rfind("https://", 0) == 0)
      serving = true;  // reported by the daemon itself
    // Scanning: images inventoried, layers cached, findings by severity (suppressed ones excluded).
    std::int64_t scanned = 0, layers_cached = 0;
    std::map<std::string, int> by_severity;
    s.read([&](sqlite::Connection& c) {
      scanned = scan::InventoryRepository::count(c);
      layers_cached = static_cast<std::int64_t>(scan::LayerCache::count_all(c));
      for (const auto& f : scan::list_findings(c, {}, s.now_seconds()))
        ++by_severity[f["severity"].get<std::string>()];
    });
    std::string findings_line;
    int total_findings = 0;
    for (auto sev : {"critical", "high", "medium", "low", "negligible", "unknown"})
      if (by_severity.count(sev)) {
        findings_line +=
            (findings_line.empty() ? "" : ", ") + std::to_string(by_severity[sev]) + " " + sev;
        total_findings += by_severity[sev];
      }
    // Registry users and their rights (from the users file the daemon reads at start).
    nlohmann::json users_json = nlohmann::json::array();
    if (auto uf = registry::UserFile::load(cfg.users_file()))
      for (const auto& [u, h] : uf->users()) {
        auto r = uf->rights(u);
        users_json.push_back({{"name", u},
                              {"pull", r.pull},
                              {"push", r.push},
                              {"delete", r.del},
                              {"api_write", r.api_write},
                              {"rights", r.str()}});
      }
    auto state = std::filesystem::absolute(cfg.state_dir).lexically_normal().string();
    if (ctx.json) {
      nlohmann::json j = {
          {"state_dir", state},
          {"daemon", serving ? addr : ""},
          {"repositories", repos},
          {"users", users_json},
          {"scan",
           {{"images", scanned}, {"layers_cached", layers_cached}, {"findings", by_severity}}}};
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "state:        " << state << "\n";
    std::cout << "daemon:       " << (serving ? "serving on " + addr : "not running") << "\n";
    std::cout << "repositories: " << repos.size() << "\n";
    for (const auto& r : repos) {
      auto tags = s.list_tags(r, 0, "");
      std::cout << "  " << r;
      if (tags && !tags->empty()) {
        std::cout << " (";
        for (std::size_t i = 0; i < tags->size(); ++i) std::cout << (i ? ", " : "") << (*tags)[i];
        std::cout << ")";
      }
      std::cout << "\n";
    }
    std::cout << "users:        " << users_json.size()
              << (users_json.empty()
                      ? " (loopback may push; anonymous pull per auth.anonymous_pull)"
                      : "")
              << "\n";
    for (const auto& u : users_json)
      std::cout << "  " << u["name"].get<std::string>() << "  " << u["rights"].get<std::string>()
                << "\n";
    std::cout << "scanned:      " << scanned << " images (" << layers_cached << " layers cached); "
              << total_findings << " findings"
              << (findings_line.empty() ? "" : " (" + findings_line + ")") << "\n";
    return 0;
  }

  CLI::App* status_ = nullptr;
  CLI::App* version_ = nullptr;
};

}  // namespace

std::unique_ptr<CommandGroup> status_commands() { return std::make_unique<StatusCommands>(); }

}  // namespace airheal::cli
