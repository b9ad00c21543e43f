// airheal configuration: every key has an embedded default (kDefaultConfigYaml, which is also
// the documentation), a YAML file may override any of them, and command-line flags win last.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace airheal::config {

struct Config {
  std::filesystem::path state_dir = "./airheal-state";
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 5000;
  std::string log_level = "info";
  unsigned workers = 0;  // 0: one per core

  struct Http {
    std::chrono::seconds read_timeout{30};
    std::chrono::seconds idle_timeout{30};
    std::chrono::seconds write_timeout{60};
    std::size_t max_header_bytes = 16384;
    std::size_t max_connections = 1024;
    std::size_t max_connections_per_client = 128;
    // Host names the API and dashboard answer to besides IP literals, localhost and this host's
    // own name (a request naming any other host is refused: DNS rebinding).
    std::vector<std::string> server_names;
  } http;

  struct Tls {
    std::filesystem::path certificate;
    std::filesystem::path private_key;
  } tls;

  struct Auth {
    std::filesystem::path users_file;  // empty: <state_dir>/users
    bool anonymous_pull = true;
    bool loopback_push_without_credentials = true;
    // Unix user -> airheal user: who airhealctl acts as on this host (SO_PEERCRED on the daemon's
    // socket, or the calling user when it works on the state directly).
    std::map<std::string, std::string> local_users;
    bool separation_of_duties = false;  // approver != whoever excepted findings of the repository
  } auth;

  struct Registry {
    bool read_only = false;
    bool delete_enabled = true;
    std::size_t max_manifest_bytes = 4u << 20;
    // Repository patterns where pushes may overwrite (and deletes remove) tags that snapshot
    // imports and heals wrote; elsewhere those tags are protected.
    std::vector<std::string> push_over_managed_tags;
  } registry;

  struct Gc {
    std::chrono::seconds grace_period{3600};
    std::chrono::seconds upload_max_age{86400};
  } gc;

  struct Import {
    std::filesystem::path watch_directory;       // empty: <state_dir>/import
    std::filesystem::path quarantine_directory;  // empty: <state_dir>/quarantine
    std::chrono::seconds poll_interval{2};
    std::uint64_t reserve_bytes = 256ull << 20;  // free space an import must leave
  } import;

  struct Audit {
    std::chrono::seconds checkpoint_interval{
        3600};  // signed checkpoints of the journal; 0: on demand only
    std::int64_t checkpoint_records =
        100;  // ... and after this many records since the last one; 0: by time only
    std::map<std::string, int> sla_days = {
        {"critical", 15}, {"high", 30}, {"medium", 90}, {"low", 180}};  // detection -> remediation
    std::filesystem::path syslog = "/dev/log";  // RFC 5424 copy of every audit record; "": off
  } audit;

  struct Scan {
    bool enabled = true;                    // scan pushed and imported images automatically
    bool sboms = true;                      // attach CycloneDX and SPDX SBOMs as referrers
    std::chrono::seconds poll_interval{2};  // how often imports by other processes are noticed
    std::uint64_t max_binary_bytes = 512ull << 20;  // larger executables are listed, not parsed
  } scan;

  struct HealRule {
    std::string repository;           // glob over repository names ("apps/*")
    std::string mode;                 // advisory | autonomous-staging | continuous
    std::vector<std::string> test;    // argv run inside the healed image, no network; empty: none
    std::vector<std::string> canary;  // argv run in the image the tag serves after a promotion; a
                                      // failure rolls the promotion back automatically
  };
  struct Heal {
    bool enabled = true;  // heal automatically when a fix is inside the gap
    std::string default_mode = "autonomous-staging";
    std::string runtime = "runc";  // OCI runtime buildah uses for build and test steps
    // airheal-builder's Unix socket: every build and check runs there (airheald then needs no
    // build powers); empty: airheald runs buildah itself.
    std::string builder_socket;
    std::chrono::seconds step_timeout{900};  // any one buildah step
    std::vector<HealRule> rules;             // first match wins; none: default_mode, no test
    unsigned concurrency = 1;                // heals built at the same time
    std::chrono::seconds smoke_timeout{5};   // the entrypoint must exit 0 or still run after this
    std::uint64_t smoke_memory_bytes =
        512ull << 20;              // memory (cgroup) of the test and smoke containers; 0: none
    double max_size_growth = 0.5;  // heal layer bytes / original image bytes
    bool attest = true;            // sign SLSA provenance, SBOM and explanation (DSSE)
    bool reuse_layers = true;      // reuse a heal layer across images sharing a base
    std::string layer_compression = "gzip";  // gzip | zstd
    std::vector<std::string> webhooks;       // http:// URLs on the LAN that receive heal events
    // Snapshot channels whose unsigned apk packages may heal.
    std::vector<std::string> unsigned_packages;
    std::string webhook_secret_file;  // HMAC-SHA256 key for X-Airheal-Signature; empty: unsigned
  } heal;
  // The rule for a repository (default mode when none matches).
  HealRule heal_rule(const std::string& repository) const;

  std::filesystem::path outbox_directory() const { return state_dir / "outbox"; }
  std::filesystem::path watch_directory() const {
    return import.watch_directory.empty() ? state_dir / "import" : import.watch_directory;
  }
  std::filesystem::path quarantine_directory() const {
    return import.quarantine_directory.empty() ? state_dir / "quarantine"
                                               : import.quarantine_directory;
  }
  std::filesystem::path users_file() const {
    return auth.users_file.empty() ? state_dir / "users" : auth.users_file;
  }
};

// Where packages install the service's configuration (airhealctl reads it when it exists).
inline constexpr const char* kSystemConfigFile = "/etc/airheal/airheal.yaml";

// The embedded defaults, as a commented YAML document (airheald --print-default-config).
extern const std::string_view kDefaultConfigYaml;

Result<Config> load_file(const std::filesystem::path& path);  // defaults + the file
Result<Config> parse_yaml(std::string_view text, std::string_view origin);
Status parse_listen(std::string_view text, std::string& host, std::uint16_t& port);
Result<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace airheal::config
