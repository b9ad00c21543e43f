// Confinement as airheald --confine applies it, checked in a forked child that first becomes an
// unprivileged user (as the packaged airheal user is): what it may still do (threads, run a
// program) and what it no longer can (user namespaces, writable-executable memory, privileges).
// The real daemon confined is in the integration test "airheald runs unprivileged ...".
#include "core/confine.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "support/test_support.hpp"

using namespace airheal;

namespace {

// Runs BODY in a child process; its exit status (0..255) or -1 when it did not exit.
int in_child(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string status_field(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) {
      auto v = line.substr(name.size() + 1);
      return v.substr(v.find_first_not_of(" \t"));
    }
  return "";
}

int run(const char* const argv[]) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);  // nothing waits for a password
    ::dup2(null, 0);
    ::dup2(null, 2);
    ::execvp(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

bool become_nobody() {
  gid_t g = 65534;
  return ::setgroups(1, &g) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
         ::setresuid(65534, 65534, 65534) == 0;
}

}  // namespace

TEST_CASE("confine_process refuses to confine root", "[core][confine]") {
  AIRHEAL_REQUIRE_ROOT("needs root to start as root");
  auto rc = in_child([] {
    auto st = confine::confine_process();
    return !st && st.error().message.find("runs as root") != std::string::npos ? 0 : 1;
  });
  CHECK(rc == 0);
}

TEST_CASE("A confined process keeps threads and programs and loses namespaces and WX memory",
          "[core][confine]") {
  AIRHEAL_REQUIRE_ROOT("needs root to become an unprivileged user first");
  REQUIRE(confine::filter_supported());
  // Each bit of the child's exit code names one expectation that failed.
  auto rc = in_child([] {
    if (!become_nobody()) return 255;
    if (auto st = confine::confine_process(); !st) return 254;
    int failed = 0;
    if (status_field("NoNewPrivs") != "1" || status_field("Seccomp") != "2" ||
        status_field("CapEff") != "0000000000000000" ||
        status_field("CapPrm") != "0000000000000000")
      failed |= 1;
    // No user (or any other) namespace, by system call or through a program.
    errno = 0;
    if (::unshare(CLONE_NEWUSER) == 0 || errno != EPERM) failed |= 2;
    const char* userns[] = {"unshare", "--user", "true", nullptr};
    if (run(userns) == 0) failed |= 2;
    // No memory that is writable and executable, now or later.
    void* wx = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (wx != MAP_FAILED) failed |= 4;
    void* w = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED || ::mprotect(w, 4096, PROT_READ | PROT_EXEC) == 0) failed |= 4;
    // Still works: threads (clone3 answers ENOSYS, libc falls back) and running programs.
    bool ran = false;
    std::thread t([&] { ran = true; });
    t.join();
    const char* plain[] = {"true", nullptr};
    if (!ran || run(plain) != 0) failed |= 8;
    // A set-user-ID program gains nothing: su cannot become root.
    const char* su[] = {"su", "-c", "true", "root", nullptr};
    if (run(su) == 0) failed |= 16;
    return failed;
  });
  INFO(
      "failed expectations (bits): 1 status, 2 namespaces, 4 WX memory, 8 threads/programs, "
      "16 setuid");
  CHECK(rc == 0);
}

TEST_CASE("become_owner_of switches root to the owner of a folder for good", "[core][confine]") {
  AIRHEAL_REQUIRE_ROOT("needs root");
  test::TempDir t;
  auto owned = t / "state";
  std::filesystem::create_directories(owned);
  REQUIRE(::chown(owned.c_str(), 65534, 65534) == 0);
  auto rc = in_child([&] {
    auto became = confine::become_owner_of(owned);
    if (!became || !*became) return 1;
    if (::getuid() != 65534 || ::geteuid() != 65534 || ::getgid() != 65534) return 2;
    if (::setuid(0) == 0) return 3;
    return 0;
  });
  CHECK(rc == 0);
  // Keeping the one capability a listener on port 443 needs, until confinement drops it.
  auto bind_rc = in_child([&] {
    auto became = confine::become_owner_of(owned, {CAP_NET_BIND_SERVICE});
    if (!became || !*became) return 1;
    if (status_field("CapEff") != "0000000000000400") return 2;  // CAP_NET_BIND_SERVICE only
    auto try_bind = [](int port) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      int r = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      int e = errno;
      ::close(fd);
      return r == 0 ? 0 : e;
    };
    int first = try_bind(443);
    if (first != 0 && first != EADDRINUSE) return 3;
    if (auto st = confine::confine_process(); !st) return 4;
    if (status_field("CapEff") != "0000000000000000") return 5;
    if (try_bind(444) != EACCES) return 6;
    return 0;
  });
  CHECK(bind_rc == 0);
  // airhealctl's way: the operator's root-only files stay readable and /root-like folders
  // writable, what it creates is the owner's, and the programs it runs have nothing of root's.
  auto secret = t / "root-only";
  std::filesystem::create_directories(secret);
  std::filesystem::permissions(secret, std::filesystem::perms(0700));
  std::ofstream(secret / "key.asc") << "armoured key";
  std::filesystem::permissions(secret / "key.asc", std::filesystem::perms(0600));
  auto files_rc = in_child([&] {
    auto became = confine::become_owner_of(owned, {CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE});
    if (!became || !*became) return 1;
    std::ifstream key(secret / "key.asc");
    std::string text;
    std::getline(key, text);
    if (text != "armoured key") return 2;
    std::ofstream(secret / "export.tar") << "bundle";
    std::ofstream(owned / "journal") << "record";
    struct stat st {};
    if (::stat((owned / "journal").c_str(), &st) != 0 || st.st_uid != 65534) return 3;
    const char* cat[] = {"cat", (secret / "key.asc").c_str(), nullptr};
    if (run(cat) == 0) return 4;  // a program it runs is the owner, plainly
    return 0;
  });
  CHECK(files_rc == 0);
  CHECK(std::filesystem::exists(secret / "export.tar"));
  // A root-owned folder: nothing changes.
  auto rootowned = t / "rootstate";
  std::filesystem::create_directories(rootowned);
  auto same = in_child([&] {
    auto became = confine::become_owner_of(rootowned);
    return became && !*became && ::geteuid() == 0 ? 0 : 1;
  });
  CHECK(same == 0);
}
