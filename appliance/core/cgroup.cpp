#include "core/cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

#include "core/fs.hpp"

namespace airheal::cgroup {
namespace fsys = std::filesystem;

namespace {

constexpr std::size_t kMaxFile = 1 << 20;

Status write_text(const fsys::path& file, const std::string& text) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(Errc::io_error, "cannot open " + file.string() + ": " + std::strerror(errno));
  auto n = ::write(fd, text.data(), text.size());
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    return make_error(Errc::io_error, "cannot write \"" + text + "\" to " + file.string() + ": " +
                                          std::strerror(n < 0 ? e : EIO));
  return {};
}

std::vector<std::string> split(const std::string& s, char by) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, by)) out.push_back(part);
  return out;
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}

// "key N" lines (memory.oom_control, memory.events): N for KEY, 0 when absent.
std::uint64_t keyed(const fsys::path& file, const std::string& key) {
  std::istringstream in(fs::read_file(file, kMaxFile).value_or(""));
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

// A path from /proc/self/cgroup, relative (no "..": the kernel never writes one).
Result<fsys::path> relative(const std::string& p) {
  fsys::path rel = fsys::path(p).relative_path();
  for (const auto& part : rel)
    if (part == "..") return make_error(Errc::invalid_argument, "cgroup path " + p + " has ..");
  return rel;
}

}  // namespace

Result<Space> prepare(const fsys::path& root, const fsys::path& self) {
  auto text = fs::read_file(self, kMaxFile);
  if (!text) return make_error(Errc::io_error, "cannot read " + self.string());
  std::string unified;
  bool have_unified = false;
  for (const auto& line : split(*text, '\n')) {
    auto a = line.find(':');
    auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    auto controllers = line.substr(a + 1, b - a - 1);
    auto path = line.substr(b + 1);
    if (controllers.empty() && line.substr(0, a) == "0") {
      unified = path;
      have_unified = true;
      continue;
    }
    for (const auto& c : split(controllers, ','))
      if (c == "memory") {
        auto rel = relative(path);
        if (!rel) return rel.error();
        for (const auto& mount : {root / "memory", root / controllers}) {
          auto base = (mount / *rel).lexically_normal();
          if (fsys::exists(base / "memory.limit_in_bytes")) {
            if (::access(base.c_str(), W_OK) != 0)
              return make_error(Errc::denied, "cannot make memory cgroups in " + base.string() +
                                                  ": " + std::strerror(errno));
            return Space{base, false};
          }
        }
        return make_error(Errc::not_found,
                          "the memory cgroup hierarchy is not mounted under " + root.string());
      }
  }
  if (!have_unified || !fsys::exists(root / "cgroup.controllers"))
    return make_error(Errc::not_found, "no memory cgroup controller for this process");
  auto rel = relative(unified);
  if (!rel) return rel.error();
  auto own = (root / *rel).lexically_normal();
  auto controllers = fs::read_file(own / "cgroup.controllers", kMaxFile).value_or("");
  if (!has_word(controllers, "memory"))
    return make_error(Errc::not_found, "the memory controller is not delegated to " + own.string() +
                                           " (systemd: Delegate=yes)");
  if (own != root.lexically_normal()) {
    // Processes of its own would keep the controller from the children: this process moves into
    // a leaf, and the memory cgroups are its siblings.
    std::error_code ec;
    fsys::create_directory(own / "supervisor", ec);
    if (ec)
      return make_error(Errc::io_error,
                        "cannot make " + (own / "supervisor").string() + ": " + ec.message());
    if (auto s = write_text(own / "supervisor" / "cgroup.procs", std::to_string(::getpid())); !s)
      return s.error();
  }
  if (!has_word(fs::read_file(own / "cgroup.subtree_control", kMaxFile).value_or(""), "memory"))
    if (auto s = write_text(own / "cgroup.subtree_control", "+memory"); !s) return s.error();
  return Space{own, true};
}

Result<Memory> Memory::create(const Space& space, const std::string& name, std::uint64_t bytes) {
  if (name.empty() || name.size() > 200 || name.front() == '.' ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string::npos)
    return make_error(Errc::invalid_argument, "the cgroup name \"" + name + "\" is not allowed");
  if (bytes == 0) return make_error(Errc::invalid_argument, "a memory cgroup without a limit");
  auto dir = space.base / name;
  if (fsys::exists(dir)) {
    Memory stale(dir);  // left by a killed builder: emptied and removed
  }
  if (::mkdir(dir.c_str(), 0755) != 0)
    return make_error(Errc::io_error, "cannot make the memory cgroup " + dir.string() + ": " +
                                          std::strerror(errno));
  Memory m(dir);
  auto limit = std::to_string(bytes);
  if (space.v2) {
    if (auto s = write_text(dir / "memory.max", limit); !s) return s.error();
    if (fsys::exists(dir / "memory.swap.max"))
      if (auto s = write_text(dir / "memory.swap.max", "0"); !s) return s.error();
  } else {
    if (auto s = write_text(dir / "memory.limit_in_bytes", limit); !s) return s.error();
    if (fsys::exists(dir / "memory.memsw.limit_in_bytes"))
      if (auto s = write_text(dir / "memory.memsw.limit_in_bytes", limit); !s) return s.error();
  }
  return m;
}

std::uint64_t Memory::oom_kills() const {
  if (fsys::exists(dir_ / "memory.events")) return keyed(dir_ / "memory.events", "oom_kill");
  return keyed(dir_ / "memory.oom_control", "oom_kill");
}

Memory::~Memory() {
  if (dir_.empty()) return;
  for (int i = 0; i < 100; ++i) {
    if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    std::istringstream in(fs::read_file(dir_ / "cgroup.procs", kMaxFile).value_or(""));
    long pid = 0;
    while (in >> pid)
      if (pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace airheal::cgroup
