#include "config/config.hpp"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

#include "core/fs.hpp"
#include "core/oci.hpp"

namespace airheal::config {

const std::string_view kDefaultConfigYaml =
    R"yaml(# airheald configuration. Every key is optional; this file shows the embedded defaults.
# Relative paths are resolved against the directory airheald is started in.

state_dir: ./airheal-state        # blobs, metadata database, uploads, users file
listen: 127.0.0.1:5000            # registry address; port 0 picks a free port and logs it
log_level: info                   # trace, debug, info, warn, error
workers: 0                        # I/O worker threads; 0 = one per CPU core

http:
  read_timeout: 30s               # a request making no progress this long is dropped
  idle_timeout: 30s               # an idle keep-alive connection is closed after this (5s while over half the connections are in use)
  write_timeout: 60s              # a client not reading its response this long is dropped
  max_header_bytes: 16384         # larger request headers get 431
  max_connections: 1024           # at the limit the longest-idle connection makes room; refused only when none is idle
  max_connections_per_client: 128 # per client address: its own longest-idle connection makes room, else refused
  server_names: []                # names the API/dashboard is reached by (besides IPs, localhost, hostname)

tls:
  certificate: ""                 # PEM certificate chain; set both to serve HTTPS only
  private_key: ""                 # PEM private key

auth:
  users_file: ""                  # NAME:pbkdf2-sha256$...[:RIGHTS] lines (airhealctl user add); "" = <state_dir>/users
  anonymous_pull: true            # pulls need no credentials
  loopback_push_without_credentials: true  # clients on 127.0.0.0/8 or ::1 may push freely
  local_users: {}                 # Unix user -> airheal user, for airhealctl on this host (e.g. {alice: alice}); root is "root" with every role unless mapped
  separation_of_duties: false     # a heal's approver may not be whoever granted an exception on its repository

registry:
  read_only: false                # refuse every push and delete with 405 UNSUPPORTED
  delete_enabled: true            # allow DELETE of manifests, tags and blob links
  push_over_managed_tags: []      # repository patterns where pushes may replace tags imports and heals wrote
  max_manifest_bytes: 4194304     # larger manifests get 413

gc:
  grace_period: 1h                # nothing younger than this is ever collected
  upload_max_age: 24h             # unfinished uploads idle longer than this are collected

import:
  watch_directory: ""             # snapshots dropped here are imported; "" = <state_dir>/import
  quarantine_directory: ""        # refused snapshots are moved here; "" = <state_dir>/quarantine
  poll_interval: 2s               # how often the watch directory is scanned
  reserve_bytes: 268435456        # an import is refused if it would leave less free space than this

scan:
  enabled: true                   # inventory and match every pushed or imported image
  sboms: true                     # attach CycloneDX 1.5 and SPDX 2.3 SBOMs as OCI referrers
  poll_interval: 2s               # how often imports made by airhealctl are noticed
  max_binary_bytes: 536870912     # executables larger than this are listed but not parsed

heal:
  enabled: true                   # heal automatically when a fix for a finding is inside the gap
  default_mode: autonomous-staging  # advisory (plan to <state_dir>/outbox), autonomous-staging (stage, wait for approval), continuous (promote when every gate passes)
  runtime: runc                   # OCI runtime for buildah's build and test steps (always --network none)
  builder_socket: ""              # airheal-builder's Unix socket: builds run there, not in airheald ("" = in airheald; the package sets /run/airheal-builder/builder.sock)
  step_timeout: 15m               # any one build or test step
  rules: []                       # e.g. - {repository: "apps/*", mode: continuous, test: ["/app/selftest", "--quick"], canary: ["/app/healthcheck"]}
  concurrency: 1                  # heals built at the same time (each runs its own buildah)
  smoke_timeout: 5s               # smoke test: the image's entrypoint exits 0 or is still running after this
  smoke_memory_bytes: 536870912   # memory limit of the test and smoke-test containers (exceeding it fails the gate); 0 = none
  max_size_growth: 0.5            # gate: heal layer at most this fraction of the original image's size
  attest: true                    # sign SLSA provenance, SBOM and explanation with the appliance key (DSSE referrers)
  reuse_layers: true              # images sharing a base reuse one heal layer when nothing above the base touches what it changes
  layer_compression: gzip         # gzip (every client pulls it) or zstd (smaller; needs containerd >= 1.5, CRI-O, podman >= 3 or Docker >= 23)
  webhooks: []                    # http:// endpoints on the LAN that receive every heal event as JSON
  unsigned_packages: []           # snapshot channels whose unsigned apk packages may heal (signed ones must verify with a key in the image's /etc/apk/keys)
  webhook_secret_file: ""         # file holding an HMAC key: each POST carries X-Airheal-Signature: sha256=<hex HMAC-SHA256(key, body)>

audit:
  checkpoint_interval: 1h         # sign a checkpoint of the audit journal this often when it has grown (0 = only on demand)
  checkpoint_records: 100         # and as soon as this many records follow the last checkpoint (0 = by time only)
  sla_days: {critical: 15, high: 30, medium: 90, low: 180}  # days from detection to remediation, per severity (evidence reports mark the overdue)
  syslog: /dev/log                # every audit record also goes, as written, to this syslog socket as RFC 5424 (journald, rsyslog); "" = off
)yaml";

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.empty()) return make_error(Errc::invalid_argument, "empty duration");
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0)
    return make_error(Errc::invalid_argument,
                      "duration '" + std::string(text) + "' must start with a number");
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + i, n);
  if (ec != std::errc())
    return make_error(Errc::invalid_argument,
                      "duration '" + std::string(text) + "' is out of range");
  auto unit = text.substr(i);
  std::int64_t mult = 0;
  if (unit.empty() || unit == "s")
    mult = 1;
  else if (unit == "m")
    mult = 60;
  else if (unit == "h")
    mult = 3600;
  else if (unit == "d")
    mult = 86400;
  else
    return make_error(Errc::invalid_argument,
                      "duration '" + std::string(text) + "': unit must be s, m, h or d");
  return std::chrono::seconds(n * mult);
}

Status parse_listen(std::string_view text, std::string& host, std::uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size())
    return make_error(Errc::invalid_argument,
                      "listen address '" + std::string(text) + "' must be HOST:PORT");
  auto h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned p = 0;
  auto ps = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), p);
  if (ec != std::errc() || ptr != ps.data() + ps.size() || p > 65535)
    return make_error(Errc::invalid_argument,
                      "listen port '" + std::string(ps) + "' is not a number from 0 to 65535");
  host = std::string(h.empty() ? "0.0.0.0" : h);
  port = static_cast<std::uint16_t>(p);
  return {};
}

namespace {

struct Reader {
  std::string origin;
  Error err{Errc::invalid_argument, {}};
  bool failed = false;

  void fail(const YAML::Node& n, const std::string& key, const std::string& why) {
    if (failed) return;
    failed = true;
    err.message = origin + ":" + std::to_string(n.Mark().line + 1) + ": " + key + ": " + why;
  }
  void check_keys(const YAML::Node& map, const std::string& prefix, std::set<std::string> allowed) {
    if (!map.IsMap()) {
      fail(map, prefix.empty() ? "(top level)" : prefix, "must be a mapping");
      return;
    }
    for (const auto& kv : map) {
      auto k = kv.first.as<std::string>();
      if (!allowed.count(k)) fail(kv.first, prefix + k, "unknown key");
    }
  }
  template <class T>
  void get(const YAML::Node& map, const char* key, const std::string& prefix, T& out) {
    auto n = map[key];
    if (!n || n.IsNull()) return;
    try {
      if constexpr (std::is_same_v<T, std::chrono::seconds>) {
        auto d = parse_duration(n.as<std::string>());
        if (!d) return fail(n, prefix + key, d.error().message);
        out = *d;
      } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
        out = n.as<std::string>();
      } else {
        out = n.as<T>();
      }
    } catch (const YAML::Exception&) {
      fail(n, prefix + key, "has the wrong type");
    }
  }
};
}  // namespace

Config::HealRule Config::heal_rule(const std::string& repository) const {
  for (const auto& r : heal.rules)
    if (fnmatch(r.repository.c_str(), repository.c_str(), 0) == 0) return r;
  return {repository, heal.default_mode, {}, {}};
}

Result<Config> parse_yaml(std::string_view text, std::string_view origin) {
  Config c;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return make_error(Errc::invalid_argument,
                      std::string(origin) + ": not valid YAML: " + e.what());
  }
  if (!root || root.IsNull()) return c;
  Reader r{std::string(origin)};
  r.check_keys(root, "",
               {"state_dir", "listen", "log_level", "workers", "http", "tls", "auth", "registry",
                "gc", "import", "scan", "heal", "audit"});
  if (r.failed) return r.err;
  r.get(root, "state_dir", "", c.state_dir);
  std::string listen;
  r.get(root, "listen", "", listen);
  if (!listen.empty())
    if (auto st = parse_listen(listen, c.listen_host, c.listen_port); !st)
      r.fail(root["listen"], "listen", st.error().message);
  r.get(root, "log_level", "", c.log_level);
  r.get(root, "workers", "", c.workers);
  if (auto h = root["http"]) {
    r.check_keys(h, "http.",
                 {"read_timeout", "idle_timeout", "write_timeout", "max_header_bytes",
                  "max_connections", "max_connections_per_client", "server_names"});
    r.get(h, "server_names", "http.", c.http.server_names);
    r.get(h, "read_timeout", "http.", c.http.read_timeout);
    r.get(h, "idle_timeout", "http.", c.http.idle_timeout);
    r.get(h, "write_timeout", "http.", c.http.write_timeout);
    r.get(h, "max_header_bytes", "http.", c.http.max_header_bytes);
    r.get(h, "max_connections", "http.", c.http.max_connections);
    r.get(h, "max_connections_per_client", "http.", c.http.max_connections_per_client);
    if (c.http.max_connections < 1)
      r.fail(h["max_connections"], "http.max_connections", "must be at least 1");
    if (c.http.max_connections_per_client < 1)
      r.fail(h["max_connections_per_client"], "http.max_connections_per_client",
             "must be at least 1");
  }
  if (auto t = root["tls"]) {
    r.check_keys(t, "tls.", {"certificate", "private_key"});
    r.get(t, "certificate", "tls.", c.tls.certificate);
    r.get(t, "private_key", "tls.", c.tls.private_key);
    if (!r.failed && c.tls.certificate.empty() != c.tls.private_key.empty())
      r.fail(t, "tls", "certificate and private_key must be set together");
  }
  if (auto a = root["auth"]) {
    r.check_keys(a, "auth.",
                 {"users_file", "anonymous_pull", "loopback_push_without_credentials",
                  "local_users", "separation_of_duties"});
    r.get(a, "separation_of_duties", "auth.", c.auth.separation_of_duties);
    if (auto lu = a["local_users"]; lu && !lu.IsNull()) {
      if (!lu.IsMap())
        r.fail(lu, "auth.local_users", "must map Unix user names to airheal user names");
      else
        for (const auto& kv : lu) {
          auto unix_name = kv.first.as<std::string>(), user = kv.second.as<std::string>("");
          bool ok_unix = !unix_name.empty() && unix_name.size() <= 32 &&
                         unix_name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") ==
                             std::string::npos;
          bool ok_user = !user.empty() && user.size() <= 64 &&
                         user.find_first_not_of(
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                             "VWXYZ0123456789_.-") == std::string::npos;
          if (!ok_unix || !ok_user)
            r.fail(kv.first, "auth.local_users." + unix_name.substr(0, 32),
                   "maps a Unix user name to an airheal user name (letters, digits, . _ -)");
          else
            c.auth.local_users[unix_name] = user;
        }
    }
    r.get(a, "users_file", "auth.", c.auth.users_file);
    r.get(a, "anonymous_pull", "auth.", c.auth.anonymous_pull);
    r.get(a, "loopback_push_without_credentials", "auth.",
          c.auth.loopback_push_without_credentials);
  }
  if (auto g = root["registry"]) {
    r.check_keys(g, "registry.",
                 {"read_only", "delete_enabled", "max_manifest_bytes", "push_over_managed_tags"});
    r.get(g, "push_over_managed_tags", "registry.", c.registry.push_over_managed_tags);
    for (const auto& p : c.registry.push_over_managed_tags)
      if (!oci::is_valid_repository_pattern(p))
        r.fail(g["push_over_managed_tags"], "registry.push_over_managed_tags",
               "'" + p + "' is not a repository pattern");
    r.get(g, "read_only", "registry.", c.registry.read_only);
    r.get(g, "delete_enabled", "registry.", c.registry.delete_enabled);
    r.get(g, "max_manifest_bytes", "registry.", c.registry.max_manifest_bytes);
  }
  if (auto g = root["gc"]) {
    r.check_keys(g, "gc.", {"grace_period", "upload_max_age"});
    r.get(g, "grace_period", "gc.", c.gc.grace_period);
    r.get(g, "upload_max_age", "gc.", c.gc.upload_max_age);
  }
  if (auto n = root["import"]) {
    r.check_keys(n, "import.",
                 {"watch_directory", "quarantine_directory", "poll_interval", "reserve_bytes"});
    r.get(n, "watch_directory", "import.", c.import.watch_directory);
    r.get(n, "quarantine_directory", "import.", c.import.quarantine_directory);
    r.get(n, "poll_interval", "import.", c.import.poll_interval);
    r.get(n, "reserve_bytes", "import.", c.import.reserve_bytes);
  }
  if (auto n = root["audit"]) {
    r.check_keys(n, "audit.", {"checkpoint_interval", "checkpoint_records", "sla_days", "syslog"});
    r.get(n, "syslog", "audit.", c.audit.syslog);
    if (!c.audit.syslog.empty() && !c.audit.syslog.is_absolute())
      r.fail(n["syslog"], "audit.syslog", "must be an absolute path to a Unix datagram socket");

    if (auto s = n["sla_days"]; s && !s.IsNull()) {
      if (!s.IsMap()) {
        r.fail(s, "audit.sla_days", "must map severities to days");
      } else {
        std::map<std::string, int> days;
        for (const auto& kv : s) {
          auto sev = kv.first.as<std::string>();
          int d = -1;
          try {
            d = kv.second.as<int>();
          } catch (const YAML::Exception&) {
          }
          if ((sev != "critical" && sev != "high" && sev != "medium" && sev != "low" &&
               sev != "negligible" && sev != "unknown") ||
              d < 1 || d > 3650)
            r.fail(kv.first, "audit.sla_days." + sev.substr(0, 20),
                   "maps critical, high, medium, low (negligible, unknown) to 1..3650 days");
          else
            days[sev] = d;
        }
        c.audit.sla_days = days;
      }
    }
    r.get(n, "checkpoint_interval", "audit.", c.audit.checkpoint_interval);
    r.get(n, "checkpoint_records", "audit.", c.audit.checkpoint_records);
    if (c.audit.checkpoint_records < 0)
      r.fail(n["checkpoint_records"], "audit.checkpoint_records", "must be 0 or more");
  }
  if (auto n = root["scan"]) {
    r.check_keys(n, "scan.", {"enabled", "sboms", "poll_interval", "max_binary_bytes"});
    r.get(n, "enabled", "scan.", c.scan.enabled);
    r.get(n, "sboms", "scan.", c.scan.sboms);
    r.get(n, "poll_interval", "scan.", c.scan.poll_interval);
    r.get(n, "max_binary_bytes", "scan.", c.scan.max_binary_bytes);
  }
  if (auto n = root["heal"]) {
    r.check_keys(n, "heal.",
                 {"enabled", "default_mode", "runtime", "step_timeout", "rules", "concurrency",
                  "smoke_timeout", "smoke_memory_bytes", "max_size_growth", "defer_days", "attest",
                  "reuse_layers", "layer_compression", "webhooks", "webhook_secret_file",
                  "unsigned_packages", "builder_socket"});
    r.get(n, "builder_socket", "heal.", c.heal.builder_socket);
    r.get(n, "unsigned_packages", "heal.", c.heal.unsigned_packages);
    r.get(n, "reuse_layers", "heal.", c.heal.reuse_layers);
    r.get(n, "layer_compression", "heal.", c.heal.layer_compression);
    if (c.heal.layer_compression != "gzip" && c.heal.layer_compression != "zstd")
      r.fail(n["layer_compression"], "heal.layer_compression", "must be gzip or zstd");
    r.get(n, "concurrency", "heal.", c.heal.concurrency);
    r.get(n, "smoke_timeout", "heal.", c.heal.smoke_timeout);
    r.get(n, "smoke_memory_bytes", "heal.", c.heal.smoke_memory_bytes);
    r.get(n, "max_size_growth", "heal.", c.heal.max_size_growth);
    unsigned defer_days = 0;  // retired: airheal no longer grants itself exceptions
    r.get(n, "defer_days", "heal.", defer_days);
    r.get(n, "attest", "heal.", c.heal.attest);
    r.get(n, "webhooks", "heal.", c.heal.webhooks);
    r.get(n, "webhook_secret_file", "heal.", c.heal.webhook_secret_file);
    if (c.heal.concurrency < 1 || c.heal.concurrency > 64)
      r.fail(n["concurrency"], "heal.concurrency", "must be between 1 and 64");
    if (!(c.heal.max_size_growth > 0))
      r.fail(n["max_size_growth"], "heal.max_size_growth", "must be greater than 0");
    if (defer_days != 0)
      r.fail(n["defer_days"], "heal.defer_days",
             "is retired: only people accept risk, so findings with no fix inside the gap stay "
             "open; grant an exception with 'airhealctl exception add' (remove the key or set 0)");
    for (const auto& w : c.heal.webhooks)
      if (w.rfind("http://", 0) != 0 || w.size() <= 7)
        r.fail(n["webhooks"], "heal.webhooks",
               "'" + w + "' must be an http:// URL (a LAN endpoint)");
    r.get(n, "enabled", "heal.", c.heal.enabled);
    r.get(n, "default_mode", "heal.", c.heal.default_mode);
    r.get(n, "runtime", "heal.", c.heal.runtime);
    r.get(n, "step_timeout", "heal.", c.heal.step_timeout);
    auto valid_mode = [](const std::string& m) {
      return m == "advisory" || m == "autonomous-staging" || m == "continuous";
    };
    if (!valid_mode(c.heal.default_mode))
      r.fail(n["default_mode"], "heal.default_mode",
             "must be advisory, autonomous-staging or continuous");
    if (auto rules = n["rules"]; rules && !rules.IsNull()) {
      if (!rules.IsSequence())
        r.fail(rules, "heal.rules", "must be a list");
      else
        for (std::size_t i = 0; i < rules.size(); ++i) {
          auto rule = rules[i];
          auto prefix = "heal.rules[" + std::to_string(i) + "].";
          r.check_keys(rule, prefix, {"repository", "mode", "test", "canary"});
          Config::HealRule hr;
          hr.mode = c.heal.default_mode;
          r.get(rule, "repository", prefix, hr.repository);
          r.get(rule, "mode", prefix, hr.mode);
          r.get(rule, "test", prefix, hr.test);
          r.get(rule, "canary", prefix, hr.canary);
          if (hr.repository.empty()) r.fail(rule, prefix + "repository", "is required");
          if (!valid_mode(hr.mode))
            r.fail(rule["mode"] ? rule["mode"] : rule, prefix + "mode",
                   "must be advisory, autonomous-staging or continuous");
          c.heal.rules.push_back(std::move(hr));
        }
    }
  }
  static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                               "error", "critical", "off"};
  if (!r.failed && !levels.count(c.log_level))
    r.fail(root["log_level"], "log_level", "must be one of trace, debug, info, warn, error");
  if (r.failed) return r.err;
  return c;
}

Result<Config> load_file(const std::filesystem::path& path) {
  auto text = fs::read_file(path, 1u << 20);
  if (!text)
    return make_error(Errc::invalid_argument, "cannot read configuration: " + text.error().message);
  return parse_yaml(*text, path.string());
}

}  // namespace airheal::config
