// The operations surface on the registry's listener, next to /v2/: a versioned JSON REST API
// (/api/v1/...), Prometheus metrics (/metrics) and the dashboard (/dashboard, compiled in; it
// loads nothing from elsewhere). Reads follow the registry's pull policy; writes need a
// registry user's credentials (HTTP Basic over TLS) when users exist, else a loopback client.
// Long operations (approve with a canary, rollback, evidence export) run off the I/O threads.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "heal/engine.hpp"
#include "registry/http_server.hpp"
#include "registry/registry.hpp"
#include "scan/scanner.hpp"
#include "store/store.hpp"

namespace airheal::api {

// What the dashboard shows, in one document (also GET /api/v1/status).
nlohmann::json status_document(store::Store& store, const std::vector<heal::HealRecord>& heals,
                               std::int64_t now);

// Prometheus text exposition format 0.0.4 for the status and the HTTP request statistics.
std::string metrics_text(const nlohmann::json& status, const std::vector<heal::HealRecord>& heals,
                         const registry::RequestStats* http);

extern const char* const kDashboardHtml;

class Api : public registry::ApiHandler {
 public:
  Api(store::Store& store, heal::Engine* engine, std::filesystem::path state_dir,
      std::vector<std::string> server_names = {});
  ~Api() override;
  void set_http_stats(const registry::RequestStats* s) { http_stats_ = s; }
  // The registry users and their rights, for status and the dashboard (set by the appliance).
  void set_users(std::function<nlohmann::json()> users) { users_ = std::move(users); }
  // Days from detection to remediation by severity, for evidence exports (audit.sla_days).
  void set_sla_days(std::map<std::string, int> days) { sla_days_ = std::move(days); }

  bool handles(std::string_view path) const override;
  registry::Prepared prepare(const registry::http::request_header<>& head, const std::string& path,
                             const std::multimap<std::string, std::string>& query,
                             const registry::ApiAccess& access) override;

 private:
  registry::Response handle(registry::http::verb method, const std::string& path,
                            const std::multimap<std::string, std::string>& query,
                            const std::string& body, const registry::ApiAccess& access);
  // The routes (api.cpp): one handler each.
  struct Call;
  struct Route;
  static const std::vector<Route>& routes();
  registry::Response route_status(Call& c);
  registry::Response route_images(Call& c);
  registry::Response route_findings(Call& c);
  registry::Response route_heals(Call& c);
  registry::Response route_heal(Call& c);
  registry::Response route_heal_action(Call& c);
  registry::Response route_snapshots(Call& c);
  registry::Response route_exceptions(Call& c);
  registry::Response route_add_exception(Call& c);
  registry::Response route_revoke_exception(Call& c);
  registry::Response route_vex(Call& c);
  registry::Response route_add_vex(Call& c);
  registry::Response route_withdraw_vex(Call& c);
  registry::Response route_audit(Call& c);
  registry::Response route_evidence(Call& c);
  registry::Response route_promotions(Call& c);
  registry::Response route_needs(Call& c);
  registry::Response route_metrics(Call& c);
  registry::Response route_dashboard(Call& c);
  registry::Response route_index(Call& c);
  std::vector<heal::HealRecord> all_heals();
  void journalled(const Call& c, nlohmann::json record);
  void background(std::function<void()> job);
  store::Store& store_;
  heal::Engine* engine_;  // null when healing is disabled
  std::filesystem::path state_dir_;
  std::vector<std::string> server_names_;
  std::map<std::string, int> sla_days_;  // lower case, plus localhost and this host's name
  std::string csrf_token_;               // in the dashboard page; browsers' writes must echo it
  std::function<nlohmann::json()> users_;
  const registry::RequestStats* http_stats_ = nullptr;
  std::mutex mu_;
  std::vector<std::thread> jobs_;
  std::atomic<bool> stopping_{false};
};

}  // namespace airheal::api
