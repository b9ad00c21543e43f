#include "daemon/services.hpp"

#include <spdlog/spdlog.h>

#include "audit/journal.hpp"
#include "snapshot/trust.hpp"

namespace airheal {

Result<Services> make_services(const config::Config& cfg, const ServiceOptions& o) {
  Services s;
  audit::Journal::forward_syslog(cfg.audit.syslog);  // audit records leave the box as written
  auto opened = store::Store::open(cfg.state_dir);
  if (!opened)
    return make_error(opened.error().code, "cannot use state directory " + cfg.state_dir.string() +
                                               ": " + opened.error().message);
  s.store = std::move(*opened);
  s.journal = std::make_unique<audit::Journal>(audit::journal_path(cfg.state_dir));
  if (o.keyring) {
    auto keyring = pgp::Keyring::open(snapshot::keyring_home(cfg.state_dir));
    if (!keyring) return keyring.error();
    s.keyring = std::make_unique<pgp::Keyring>(std::move(*keyring));
    s.importer = std::make_unique<snapshot::Importer>(*s.store, *s.keyring, *s.journal);
  }
  if (o.scanner || o.engine) {
    scan::ScannerOptions so;
    so.sboms = cfg.scan.sboms;
    so.poll = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.scan.poll_interval);
    so.layer.max_binary_bytes = cfg.scan.max_binary_bytes;
    if (!o.actor.empty()) so.actor = o.actor;
    s.scanner = std::make_unique<scan::Scanner>(*s.store, s.journal.get(), so);
  }
  if (o.engine) {
    auto eo = heal::engine_options(cfg);
    if (!o.actor.empty()) eo.actor = o.actor;
    if (!o.runtime.empty()) eo.runtime = o.runtime;
    if (o.builder) eo.builder = o.builder;
    if (!cfg.heal.webhooks.empty()) {
      std::string secret;
      if (!cfg.heal.webhook_secret_file.empty()) {
        auto sb = heal::read_webhook_secret(cfg.heal.webhook_secret_file);
        if (!sb) return sb.error();
        secret = *sb;
      }
      s.webhooks = std::make_unique<heal::Webhooks>(cfg.heal.webhooks, secret);
    }
    // Every heal event goes to the webhooks; promotions and rollbacks also refresh the
    // digest-pinned list GitOps tools read (<state>/outbox/promotions/current.json).
    auto* hooks = s.webhooks.get();
    auto* store = s.store.get();
    auto promotions = cfg.outbox_directory() / "promotions";
    eo.notify = [hooks, store, promotions, warn = o.warn](const nlohmann::json& e) {
      if (auto st = heal::write_promotions(*store, promotions, e); !st) {
        if (warn)
          warn("promotions: " + st.error().message);
        else
          spdlog::warn("promotions: {}", st.error().message);
      }
      if (hooks) hooks->post(e);
    };
    s.engine = std::make_unique<heal::Engine>(*s.store, *s.scanner, s.journal.get(), eo);
  }
  return s;
}

}  // namespace airheal
