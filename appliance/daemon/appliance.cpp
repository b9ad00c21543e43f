#include "daemon/appliance.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <mutex>

#include "audit/checkpoint.hpp"
#include "heal/attest.hpp"
#include "snapshot/trust.hpp"

namespace airheal {

Result<std::unique_ptr<Appliance>> Appliance::create(const config::Config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.state_dir, ec);
  if (ec)
    return make_error(Errc::io_error,
                      "cannot use state directory " + cfg.state_dir.string() + ": " + ec.message());
  auto lock = fs::LockFile::acquire(cfg.state_dir / "airheald.lock");
  if (!lock)
    return make_error(lock.error().code, "cannot use state directory " + cfg.state_dir.string() +
                                             ": " + lock.error().message);
  std::unique_ptr<Appliance> a(new Appliance(cfg, std::move(*lock)));
  ServiceOptions so;
  so.keyring = true;
  so.scanner = cfg.scan.enabled;
  so.engine = cfg.scan.enabled && cfg.heal.enabled;
  auto services = make_services(cfg, so);
  if (!services) return services.error();
  a->services_ = std::move(*services);
  auto users = registry::UserFile::load(cfg.users_file());
  if (!users) return users.error();
  registry::AccessPolicy policy{cfg.auth.anonymous_pull, cfg.auth.loopback_push_without_credentials,
                                cfg.registry.read_only, cfg.auth.local_users};
  a->auth_ = std::make_unique<registry::Authenticator>(policy, std::move(*users));
  registry::RegistryOptions ro;
  ro.delete_enabled = cfg.registry.delete_enabled;
  ro.max_manifest_bytes = cfg.registry.max_manifest_bytes;
  ro.push_over_managed_tags = cfg.registry.push_over_managed_tags;
  a->registry_ = std::make_unique<registry::Registry>(*a->services_.store, *a->auth_, ro);
  registry::HttpOptions ho;
  ho.read_timeout = cfg.http.read_timeout;
  ho.idle_timeout = cfg.http.idle_timeout;
  ho.write_timeout = cfg.http.write_timeout;
  ho.max_header_bytes = cfg.http.max_header_bytes;
  ho.max_connections = cfg.http.max_connections;
  ho.max_connections_per_client = cfg.http.max_connections_per_client;
  ho.tls_cert = cfg.tls.certificate;
  ho.tls_key = cfg.tls.private_key;
  a->server_ = std::make_unique<registry::HttpServer>(a->ioc_, *a->registry_, ho);
  a->services_.store->events().subscribe([](const store::Event& e) {
    spdlog::info("event {} {} {}{}", store::to_string(e.kind), e.repository, e.digest,
                 e.tag ? " tag " + *e.tag : "");
  });
  if (auto n = a->services_.importer->clean_staging())
    spdlog::warn("removed {} staged import(s) left by a crash", n);
  auto wo = snapshot::ImportWatcher::from_config(cfg);
  a->watcher_ = std::make_unique<snapshot::ImportWatcher>(*a->services_.importer, wo);
  if (auto* scanner = a->services_.scanner.get())
    a->services_.store->events().subscribe([scanner](const store::Event& e) {
      if (e.kind == store::Event::Kind::manifest_stored || e.kind == store::Event::Kind::tag_moved)
        scanner->notify();
    });
  if (a->services_.engine) {
    a->healer_ = std::make_unique<heal::Healer>(
        *a->services_.store, *a->services_.engine,
        std::chrono::duration_cast<std::chrono::milliseconds>(cfg.scan.poll_interval),
        cfg.heal.concurrency);
    a->healer_->recover();
  }
  a->api_ = std::make_unique<api::Api>(*a->services_.store, a->services_.engine.get(),
                                       cfg.state_dir, cfg.http.server_names);
  a->api_->set_http_stats(&a->server_->stats());
  a->registry_->set_api(a->api_.get());
  a->api_->set_sla_days(cfg.audit.sla_days);
  a->api_->set_users([auth = a->auth_.get()] {
    auto out = nlohmann::json::array();
    for (const auto& [name, hash] : auth->users().users()) {
      auto r = auth->rights(name);
      out.push_back({{"name", name},
                     {"pull", r.pull},
                     {"push", r.push},
                     {"delete", r.del},
                     {"api_write", r.api_write}});
    }
    return out;
  });
  // Every refused write is journalled (the same user, action and repository at most once a minute,
  // so a misconfigured CI job cannot flood the journal), and logged.
  a->registry_->set_denied_hook(
      [journal = a->services_.journal.get(), mu = std::make_shared<std::mutex>(),
       seen = std::make_shared<std::map<std::string, std::chrono::steady_clock::time_point>>()](
          const std::string& user, const std::string& action, const std::string& repository,
          const std::string& reason) {
        spdlog::warn("registry: denied: {}", reason);
        auto now = std::chrono::steady_clock::now();
        {
          std::lock_guard lk(*mu);
          auto& last = (*seen)[user + "\n" + action + "\n" + repository];
          if (last.time_since_epoch().count() && now - last < std::chrono::minutes(1)) return;
          last = now;
          if (seen->size() > 10000) seen->clear();
        }
        (void)journal->append(nlohmann::json{{"type", "registry.denied"},
                                             {"user", user.empty() ? "anonymous" : user},
                                             {"action", action},
                                             {"repository", repository},
                                             {"reason", reason}});
      });
  if (cfg.audit.checkpoint_interval.count() > 0 || cfg.audit.checkpoint_records > 0) {
    // A checkpoint every checkpoint_interval when the journal has grown, and as soon as
    // checkpoint_records records follow the last one, so the unsigned tail stays short.
    struct Due {
      std::mutex mu;
      std::int64_t last_seq = 0;  // the newest checkpoint's record (0: none seen yet)
      std::chrono::steady_clock::time_point last_time = std::chrono::steady_clock::now();
    };
    auto due = std::make_shared<Due>();
    if (auto cps = audit::load_checkpoints(audit::checkpoints_dir(cfg.state_dir)); !cps.empty())
      due->last_seq = cps.back().seq + 1;
    auto state = cfg.state_dir;
    auto* journal = a->services_.journal.get();
    auto* store = a->services_.store.get();
    auto interval = cfg.audit.checkpoint_interval;
    auto records = cfg.audit.checkpoint_records;
    auto poll = interval.count() > 0
                    ? std::chrono::duration_cast<std::chrono::milliseconds>(interval)
                    : std::chrono::milliseconds(3600 * 1000);
    a->checkpointer_ = std::make_unique<PollingWorker>(
        "audit checkpoints", poll, [state, journal, store, due, interval, records] {
          auto lines = journal->lines();
          if (!lines || lines->empty()) return;
          auto n = static_cast<std::int64_t>(lines->size());
          {
            std::lock_guard lk(due->mu);
            bool by_count = records > 0 && n - due->last_seq >= records;
            bool by_time = interval.count() > 0 &&
                           std::chrono::steady_clock::now() - due->last_time >= interval;
            if (!by_count && !by_time) return;
          }
          auto key = heal::ApplianceKey::open(state);
          if (!key) {
            spdlog::warn("audit checkpoint: {}", key.error().message);
            return;
          }
          auto c = audit::make_checkpoint(
              state, *journal, key->fingerprint(),
              [&](const std::string& d) { return key->sign(d); }, store);
          if (!c && c.error().code != Errc::not_found)
            spdlog::warn("audit checkpoint: {}", c.error().message);
          std::lock_guard lk(due->mu);
          due->last_time = std::chrono::steady_clock::now();
          if (c) due->last_seq = std::max(due->last_seq, c->seq + 1);
        });
    if (records > 0) {
      auto* worker = a->checkpointer_.get();
      audit::Journal::watch(journal->file(), [due, records, worker](std::int64_t seq) {
        std::lock_guard lk(due->mu);
        if (seq - due->last_seq >= records) worker->notify();
      });
    }
  }
  return a;
}

Appliance::~Appliance() { stop(std::chrono::milliseconds(0)); }

Result<boost::asio::ip::tcp::endpoint> Appliance::start(
    const std::function<Status()>& before_threads) {
  auto ep = server_->listen(config_.listen_host, config_.listen_port);
  if (!ep) return ep.error();
  // airhealctl's way in, where the kernel names its Unix user (the approver, exception granter).
  if (auto st = server_->listen_local(config_.state_dir / "airheald.sock"); !st)
    spdlog::warn("{}: airhealctl acts on the state directly instead", st.error().message);
  if (before_threads)
    if (auto st = before_threads(); !st) return st.error();
  unsigned n =
      config_.workers ? config_.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { ioc_.run(); });
  if (auto st = watcher_->start(); !st) return st.error();
  if (services_.scanner) services_.scanner->start();
  if (healer_) healer_->start();
  if (checkpointer_) checkpointer_->start();
  return *ep;
}

void Appliance::stop(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  if (watcher_) watcher_->stop();
  if (checkpointer_) {
    checkpointer_->stop();
    audit::Journal::watch(services_.journal->file(), nullptr);
  }
  if (healer_) healer_->stop();
  if (services_.scanner) services_.scanner->stop();
  if (server_) server_->shutdown();
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (server_ && server_->active_connections() > 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (server_ && server_->active_connections() > 0)
    spdlog::warn("{} connections still busy after the grace period; closing them",
                 server_->active_connections());
  ioc_.stop();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

}  // namespace airheal
