// airheald: the appliance daemon. Thin: options, configuration, logging, signals.
#include <linux/capability.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "audit/journal.hpp"
#include "config/config.hpp"
#include "core/archive_path.hpp"
#include "core/confine.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "daemon/appliance.hpp"

using namespace airheal;

int main(int argc, char** argv) {
  airheal::use_utf8_ctype();
  CLI::App app{"airheald - self-healing container registry appliance for air-gapped networks"};
  std::string config_file, state_dir, listen, log_level, ready_file;
  bool print_defaults = false, confine = false;
  app.add_option("--config", config_file, "YAML configuration file (every key has a default)");
  app.add_option("--state-dir", state_dir, "state directory (overrides state_dir)");
  app.add_option("--listen", listen,
                 "HOST:PORT to serve on; port 0 picks a free one (overrides listen)");
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn or error (overrides log_level)");
  app.add_option("--ready-file", ready_file,
                 "write HOST:PORT here once serving (for scripts and tests)");
  app.add_flag("--confine", confine,
               "run without capabilities, privilege gains, namespaces or writable-executable "
               "memory (a seccomp filter); refused as root");
  app.add_flag("--print-default-config", print_defaults,
               "print the embedded default configuration and exit");
  app.set_version_flag("--version", "airheald " AIRHEAL_VERSION);
  CLI11_PARSE(app, argc, argv);

  if (print_defaults) {
    std::cout << config::kDefaultConfigYaml;
    return 0;
  }
  // Logs go to stderr without colour or timestamps' noise that journald adds itself.
  auto logger = spdlog::stderr_logger_mt("airheald");
  logger->set_pattern(isatty(2) ? "%Y-%m-%d %H:%M:%S.%e %^%l%$ %v" : "<%l> %v");
  spdlog::set_default_logger(logger);

  config::Config cfg;
  if (!config_file.empty()) {
    auto loaded = config::load_file(config_file);
    if (!loaded) {
      std::cerr << "airheald: " << loaded.error().message << "\n";
      return 2;
    }
    cfg = *loaded;
  }
  if (!state_dir.empty()) cfg.state_dir = state_dir;
  if (!listen.empty()) {
    if (auto st = config::parse_listen(listen, cfg.listen_host, cfg.listen_port); !st) {
      std::cerr << "airheald: " << st.error().message << "\n";
      return 2;
    }
  }
  if (!log_level.empty()) cfg.log_level = log_level;
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));

  // Started as root on a state folder that belongs to another user (the packaged airheal user):
  // that user runs the daemon, so that nothing it writes is root's.
  std::error_code ec;
  if (std::filesystem::exists(cfg.state_dir, ec)) {
    auto became = confine::become_owner_of(cfg.state_dir, {CAP_NET_BIND_SERVICE});
    if (!became) {
      std::cerr << "airheald: " << became.error().message << "\n";
      return 2;
    }
    if (*became) {
      // root's HOME is not this user's: the tools the daemon runs (gpg) look there
      auto home = std::filesystem::absolute(cfg.state_dir).lexically_normal().string();
      ::setenv("HOME", home.c_str(), 1);
      spdlog::info("running as uid {}, the owner of {}", ::getuid(), cfg.state_dir.string());
    }
  }

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto appliance = Appliance::create(cfg);
  if (!appliance) {
    std::cerr << "airheald: " << appliance.error().message << "\n";
    return 2;
  }
  // Configuration changes are audited: the configuration's digest is journalled when it differs
  // from the one the daemon last started with.
  {
    std::string bytes(config::kDefaultConfigYaml);
    if (!config_file.empty())
      if (auto b = fs::read_file(config_file, 16 << 20)) bytes = *b;
    bytes += "\n# command line: state_dir=" + state_dir + " listen=" + listen +
             " log_level=" + log_level + "\n";
    auto digest = Sha256::of(bytes).str();
    audit::Journal journal(audit::journal_path(cfg.state_dir));
    std::string previous;
    if (auto recs = journal.read_all())
      for (const auto& r : *recs)
        if (r.value("type", "") == "config.loaded") previous = r.value("sha256", "");
    if (previous != digest)
      if (auto st = journal.append(
              {{"type", "config.loaded"},
               {"actor", "airheald"},
               {"file", config_file.empty() ? "(embedded defaults)" : config_file},
               {"sha256", digest},
               {"previous", previous.empty() ? nlohmann::json() : nlohmann::json(previous)}});
          !st)
        spdlog::warn("journal: {}", st.error().message);
  }
  // --confine: once the listeners are open (port 443 needs CAP_NET_BIND_SERVICE), before any
  // thread starts.
  std::function<Status()> before_threads;
  if (confine)
    before_threads = [] {
      if (auto st = confine::confine_process(); !st)
        return Status(make_error(st.error().code, "--confine: " + st.error().message));
      spdlog::info(
          "confined: uid {}, no capabilities, no_new_privs, seccomp filter (no namespaces, "
          "no writable-executable memory)",
          ::getuid());
      return Status{};
    };
  auto ep = (*appliance)->start(before_threads);
  if (!ep) {
    std::cerr << "airheald: " << ep.error().message << "\n";
    return 2;
  }
  std::string addr =
      (ep->address().is_v6() ? "[" + ep->address().to_string() + "]" : ep->address().to_string()) +
      ":" + std::to_string(ep->port());
  auto scheme = (*appliance)->tls() ? "https" : "http";
  spdlog::info("airheald listening on {}://{} (state {})", scheme, addr,
               std::filesystem::absolute(cfg.state_dir).lexically_normal().string());
  (void)fs::write_file_atomic(cfg.state_dir / "airheald.addr",
                              std::string(scheme) + "://" + addr + "\n");
  if (!ready_file.empty()) {
    if (auto st = fs::write_file_atomic(ready_file, addr + "\n"); !st)
      spdlog::error("cannot write ready file: {}", st.error().message);
  }

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received {}; finishing requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*appliance)->stop();
  std::filesystem::remove(cfg.state_dir / "airheald.addr", ec);
  spdlog::info("airheald stopped");
  return 0;
}
