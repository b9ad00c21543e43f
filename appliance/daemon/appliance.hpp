// Wires the components of the appliance (store, access control, registry, HTTP server,
// worker threads) from a Config. airheald's main is a thin shell around this, and tests can
// boot the same thing in-process.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "api/api.hpp"
#include "audit/journal.hpp"
#include "config/config.hpp"
#include "core/fs.hpp"
#include "core/pgp.hpp"
#include "core/worker.hpp"
#include "daemon/services.hpp"
#include "heal/healer.hpp"
#include "heal/webhooks.hpp"
#include "registry/http_server.hpp"
#include "registry/registry.hpp"
#include "scan/scanner.hpp"
#include "snapshot/importer.hpp"
#include "snapshot/watcher.hpp"
#include "store/store.hpp"

namespace airheal {

class Appliance {
 public:
  // Opens (creating if needed) and locks the state directory. Fails with a precise message
  // when it is unusable or another airheald holds it.
  static Result<std::unique_ptr<Appliance>> create(const config::Config& config);
  ~Appliance();

  // Binds the listener and starts the worker threads.
  // BEFORE_THREADS runs once the listeners are open and before any thread starts (airheald
  // --confine: the capability to bind port 443 is dropped there, and the seccomp filter binds
  // every thread started after it); its failure stops the start.
  Result<boost::asio::ip::tcp::endpoint> start(const std::function<Status()>& before_threads = {});
  // Stops accepting, lets requests in flight finish (up to `grace`), then stops the workers.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  store::Store& store() { return *services_.store; }
  const config::Config& config() const { return config_; }
  bool tls() const { return server_ && server_->tls(); }

 private:
  Appliance(config::Config config, fs::LockFile lock)
      : config_(std::move(config)), lock_(std::move(lock)) {}

  config::Config config_;
  fs::LockFile lock_;
  Services services_;  // store, journal, keyring, importer, scanner, engine (outlive what follows)
  std::unique_ptr<registry::Authenticator> auth_;
  std::unique_ptr<registry::Registry> registry_;
  boost::asio::io_context ioc_;
  std::unique_ptr<registry::HttpServer> server_;
  std::unique_ptr<snapshot::ImportWatcher> watcher_;
  std::unique_ptr<heal::Healer> healer_;
  std::unique_ptr<PollingWorker>
      checkpointer_;  // signed audit checkpoints (audit.checkpoint_interval)
  std::unique_ptr<api::Api>
      api_;  // REST API, metrics, dashboard (destroyed before the engine it drives)
  std::vector<std::thread> workers_;
  bool stopped_ = false;
};

}  // namespace airheal
