// Runs a program with an argument vector (never a shell), optional stdin, captured output
// and a timeout after which it is killed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace airheal {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or on timeout
  bool timed_out = false;
  bool cancelled = false;
  std::string out;
  std::string err;
};

struct ProcessOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  std::optional<std::string> input;  // written to stdin, then closed
  std::filesystem::path cwd;         // empty: inherit
  std::map<std::string, std::string> env_overrides;
  // When set and it becomes true, the program is stopped as on a timeout (its whole process group:
  // SIGTERM, then SIGKILL after a grace), and the result says cancelled.
  const std::atomic<bool>* cancel = nullptr;
  // Runs the program as this user (the caller must be root): its uid and gid, and exactly these
  // supplementary groups. The child stops before exec, exit code 127, if it cannot switch.
  struct Identity {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
  };
  std::optional<Identity> as_user;
  // A cgroup's cgroup.procs the program joins before exec: it and everything it starts count
  // against that cgroup's limits. The child stops before exec, exit code 127, if it cannot join.
  std::filesystem::path cgroup_procs;
};

// argv[0] is looked up in PATH when it has no slash. Throws if it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

}  // namespace airheal
