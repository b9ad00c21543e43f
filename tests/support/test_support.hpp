// Shared helpers for unit and integration tests: temporary directories, a real HTTP client,
// OCI image layouts generated on the fly, and the daemon started as a real process.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/subprocess.hpp"

// Tests that need root (to own files, become another user): the suite runs as root in CI, and
// elsewhere they fail saying so rather than pass unseen. (Expands where Catch is included.)
#define AIRHEAL_REQUIRE_ROOT(why) \
  if (::geteuid() != 0) FAIL(why " (the suite runs as root)")

namespace airheal::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& sub) const { return path_ / sub; }

 private:
  std::filesystem::path path_;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A keep-alive HTTP/1.1 client over a real TCP connection (Boost.Beast).
class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port);
  ~HttpClient();
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::map<std::string, std::string>& headers = {},
                       const std::string& body = "");
  HttpResponse get(const std::string& target, const std::map<std::string, std::string>& h = {}) {
    return request("GET", target, h);
  }

 private:
  struct Impl;
  Impl* impl_;
};

// Sends raw bytes and closes without reading (simulates clients dying mid-request).
void send_raw_and_close(const std::string& host, std::uint16_t port, const std::string& bytes);

// The first OCI error code in a distribution-spec JSON error body ("" when there is none).
std::string oci_error_code(const std::string& body);

std::string sha256_hex(const std::string& data);
std::string sha256_digest(const std::string& data);  // "sha256:..."
std::string random_bytes(std::size_t n, unsigned seed);

struct OciImage {
  std::filesystem::path layout;  // an OCI image layout directory
  std::string tag;
  std::string manifest_digest;
  std::vector<std::string> layer_digests;
};

// Writes an OCI image layout with `layers` gzip tar layers of about `layer_bytes` each.
OciImage make_oci_image(const std::filesystem::path& dir, const std::string& tag, int layers,
                        std::size_t layer_bytes, unsigned seed);

// Writes an OCI image layout whose layers are these tar files, uncompressed, bottom first.
OciImage make_oci_image_from_tars(const std::filesystem::path& dir, const std::string& tag,
                                  const std::vector<std::filesystem::path>& tars,
                                  const nlohmann::json& config_extra = nlohmann::json::object());

// The real airheald, started on port 0 with a temporary state directory.
class Daemon {
 public:
  struct Options {
    std::filesystem::path state_dir;  // empty: a fresh temporary one
    std::string config_yaml;          // written to a file and passed with --config
    std::vector<std::string> extra_args;
    std::string listen = "127.0.0.1:0";
    // The user the daemon ends up running as: its folder (ready file, configuration) is given to
    // it. (airheald started as root on a state folder owned by another user becomes that user.)
    std::optional<uid_t> owner;
  };
  explicit Daemon(Options options);
  Daemon() : Daemon(Options{}) {}
  ~Daemon();
  Daemon(const Daemon&) = delete;

  std::string host() const { return "127.0.0.1"; }
  std::uint16_t port() const { return port_; }
  std::string address() const { return host() + ":" + std::to_string(port_); }
  const std::filesystem::path& state_dir() const { return state_dir_; }
  std::string log() const;
  // Sends a signal and waits for the process; returns its exit status (-1 on timeout).
  int stop(int signal_number = 15, std::chrono::seconds wait = std::chrono::seconds(20));
  pid_t pid() const { return pid_; }

 private:
  TempDir tmp_;
  std::filesystem::path state_dir_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

std::filesystem::path airheald_path();
std::filesystem::path airhealctl_path();
std::filesystem::path airheal_builder_path();
std::filesystem::path airheal_snapshot_path();
std::filesystem::path airheal_evidence_path();

// Runs a program and returns its result (argv vector, no shell).
ProcessResult run(const std::vector<std::string>& argv,
                  std::chrono::seconds timeout = std::chrono::seconds(300),
                  std::optional<std::string> input = std::nullopt);
bool have_program(const std::string& name);
// The command line and its output, for test failure messages.
std::string describe_run(const std::vector<std::string>& argv, const ProcessResult& r);
// run(), then REQUIRE a zero exit status (Catch tests only; defined in scan_fixtures.cpp) (the
// message shows the command and its output).
ProcessResult run_ok(const std::vector<std::string>& argv,
                     std::chrono::seconds timeout = std::chrono::seconds(900));
// A followed by B (argument vectors).
std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b);
// airhealctl against one state folder: ctl({...}) must succeed (run_ok); ctl.json_of({...}) parses
// its --json output (Catch tests only; defined in scan_fixtures.cpp).
struct Ctl {
  std::filesystem::path state;
  ProcessResult operator()(std::vector<std::string> args) const;
  nlohmann::json json_of(std::vector<std::string> args) const;
};
// The user rootless builds run as in tests, as the packages make airheal-build: a system user with
// 65536 subordinate uids and gids (systemd/airheal-subids), made once on this machine. Needs root.
struct BuildUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};
BuildUser test_build_user();

// The source tree this build came from (AIRHEAL_SOURCE_DIR).
std::filesystem::path source_dir();

// The fenced code blocks of a Markdown file whose info string is LANG ("sh", "sh-heal"), in order.
struct MarkdownBlock {
  int line = 0;  // of the opening fence
  std::string text;
};
std::vector<MarkdownBlock> markdown_blocks(const std::filesystem::path& file,
                                           const std::string& lang);

}  // namespace airheal::test
