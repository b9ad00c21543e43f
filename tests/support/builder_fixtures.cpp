#include "support/builder_fixtures.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <sstream>
#include <thread>

#include "core/fs.hpp"
#include "support/test_support.hpp"

namespace airheal::test {
namespace fsys = std::filesystem;

BuilderProcess::BuilderProcess(const fsys::path& state, const fsys::path& socket,
                               const fsys::path& log_file, std::vector<std::string> extra,
                               std::vector<std::string> wrap)
    : log(log_file) {
  fsys::create_directories(state);
  std::vector<std::string> args{airheal_builder_path().string(),
                                "--state-dir",
                                state.string(),
                                "--socket",
                                socket.string(),
                                "--runtime",
                                "runc"};
  args.insert(args.end(), extra.begin(), extra.end());
  if (!wrap.empty()) args.insert(args.begin(), wrap.begin(), wrap.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 100 && !fsys::exists(socket); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO(said());
  REQUIRE(fsys::is_socket(socket));
}

std::string BuilderProcess::said() const { return fs::read_file(log, 16 << 20).value_or(""); }

bool BuilderProcess::wait_for(const std::string& text, int seconds) const {
  for (int i = 0; i < seconds * 10; ++i) {
    if (said().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void BuilderProcess::kill(int sig) {
  if (pid > 0) {
    ::kill(pid, sig);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
}

std::vector<std::string> unit_bounding_set(const std::string& unit) {
  auto text = fs::read_file(source_dir() / "systemd" / unit, 1 << 20).value_or("");
  auto at = text.find("\nCapabilityBoundingSet=");
  REQUIRE(at != std::string::npos);
  auto line = text.substr(at + 23, text.find('\n', at + 1) - at - 23);
  std::string set = "-all";
  std::istringstream in(line);
  std::string cap;
  while (in >> cap) {
    REQUIRE(cap.rfind("CAP_", 0) == 0);
    std::string name = cap.substr(4);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    set += ",+" + name;
  }
  return {"setpriv", "--bounding-set", set, "--inh-caps", "-all"};
}

std::string proc_status(pid_t pid, const std::string& name) {
  auto text = fs::read_file("/proc/" + std::to_string(pid) + "/status", 1 << 20).value_or("");
  auto at = text.find("\n" + name + ":");
  if (at == std::string::npos) return "";
  auto line = text.substr(at + name.size() + 2, text.find('\n', at + 1) - at - name.size() - 2);
  auto b = line.find_first_not_of(" \t");
  return b == std::string::npos ? "" : line.substr(b);
}

}  // namespace airheal::test
