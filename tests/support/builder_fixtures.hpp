// airheal-builder as its own process for integration tests (the packaged unit's process), and
// what they read of a running process.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace airheal::test {

// airheal-builder on STATE, listening on SOCKET, its stderr in LOG_FILE; EXTRA arguments after
// the required ones; started through WRAP when given (a program and its arguments, e.g. setpriv).
// Waits for the socket. Stopped (SIGTERM) when it goes.
struct BuilderProcess {
  pid_t pid = -1;
  std::filesystem::path log;
  BuilderProcess(const std::filesystem::path& state, const std::filesystem::path& socket,
                 const std::filesystem::path& log_file, std::vector<std::string> extra = {},
                 std::vector<std::string> wrap = {});
  BuilderProcess(const BuilderProcess&) = delete;
  ~BuilderProcess() { kill(15); }
  std::string said() const;
  bool wait_for(const std::string& text, int seconds) const;
  void kill(int sig);
};

// setpriv's arguments that give a program the capability bounding set of UNIT (a file in
// systemd/, its CapabilityBoundingSet=) and nothing inheritable: how systemd starts it.
std::vector<std::string> unit_bounding_set(const std::string& unit);

// A field of /proc/PID/status ("" when absent).
std::string proc_status(pid_t pid, const std::string& name);

}  // namespace airheal::test
