// Memory cgroups for processes this one starts: how a rootless build's checks keep their memory
// bound. buildah and runc run as an unprivileged user and cannot make cgroups of their own, so the
// process that starts them (airheal-builder, root) makes one per check, sets its limit, and the
// check's processes join it before they exec (ProcessOptions::cgroup_procs).
//
// cgroup v1: a child of this process's cgroup in the memory hierarchy. cgroup v2: a child of this
// process's cgroup in the unified hierarchy; since a v2 cgroup with processes of its own cannot
// give its children controllers, prepare() first moves this process into a leaf of its own
// ("supervisor"), as systemd's Delegate=yes allows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/result.hpp"

namespace airheal::cgroup {

struct Space {
  std::filesystem::path base;  // where memory cgroups are made
  bool v2 = false;
};

// Finds where this process may make memory cgroups, under ROOT (the cgroup file systems' mount
// point) as /proc/self/cgroup (SELF) places it; on v2 also moves the process into its leaf and
// turns the memory controller on for its siblings. Call before other threads start. The error
// says why not (no memory controller, not delegated, not root).
Result<Space> prepare(const std::filesystem::path& root = "/sys/fs/cgroup",
                      const std::filesystem::path& self = "/proc/self/cgroup");

// One memory cgroup: BYTES of memory and no swap beyond it. Removed when it goes, after killing
// whatever is still in it.
class Memory {
 public:
  static Result<Memory> create(const Space& space, const std::string& name, std::uint64_t bytes);
  Memory(Memory&& o) noexcept : dir_(std::move(o.dir_)) { o.dir_.clear(); }
  Memory& operator=(Memory&&) = delete;
  Memory(const Memory&) = delete;
  ~Memory();
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path procs() const { return dir_ / "cgroup.procs"; }
  // How many times the kernel's OOM killer acted in it (v1 memory.oom_control, v2 memory.events).
  std::uint64_t oom_kills() const;

 private:
  explicit Memory(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace airheal::cgroup
