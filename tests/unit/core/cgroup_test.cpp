// Memory cgroups airheal-builder makes for a rootless check's memory bound. Where they go is found
// from /proc/self/cgroup: the cases of cgroup v1 and v2 run against folders laid out as the kernel
// lays out its cgroup file systems (a made-up tree: this machine has only one of the two); the
// bound itself is checked on this machine's real memory controller, with a real program that
// exceeds it.
#include "core/cgroup.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "support/test_support.hpp"

using namespace airheal;
namespace fsys = std::filesystem;

namespace {
void cg_write(const fsys::path& p, const std::string& s) {
  fsys::create_directories(p.parent_path());
  std::ofstream(p) << s;
}
std::string cg_read(const fsys::path& p) { return fs::read_file(p, 1 << 20).value_or("<none>"); }
}  // namespace

TEST_CASE("cgroup v1: memory cgroups go under this process's cgroup in the memory hierarchy",
          "[core][cgroup]") {
  test::TempDir t;
  cg_write(t / "self", "12:pids:/system.slice/b.service\n4:memory:/system.slice/b.service\n0::/\n");
  cg_write(t / "fs" / "memory" / "system.slice" / "b.service" / "memory.limit_in_bytes", "max");
  auto space = cgroup::prepare(t / "fs", t / "self");
  REQUIRE(space);
  CHECK_FALSE(space->v2);
  CHECK(space->base == t / "fs" / "memory" / "system.slice" / "b.service");

  SECTION("a hierarchy not mounted is an error, not a guess") {
    fsys::remove_all(t / "fs" / "memory");
    auto none = cgroup::prepare(t / "fs", t / "self");
    REQUIRE_FALSE(none);
    CHECK_THAT(none.error().message, Catch::Contains("not mounted"));
  }
}

TEST_CASE("cgroup v2: the process moves into a leaf and its siblings get the memory controller",
          "[core][cgroup]") {
  test::TempDir t;
  auto fs_root = t / "fs";
  auto own = fs_root / "system.slice" / "airheal-builder.service";
  cg_write(t / "self", "0::/system.slice/airheal-builder.service\n");
  cg_write(fs_root / "cgroup.controllers", "cpuset cpu io memory pids\n");

  SECTION("delegated: the memory controller is the service's to give") {
    cg_write(own / "cgroup.controllers", "memory pids\n");
    cg_write(own / "cgroup.subtree_control", "");
    fsys::create_directories(own / "supervisor");
    cg_write(own / "supervisor" / "cgroup.procs", "");
    auto space = cgroup::prepare(fs_root, t / "self");
    REQUIRE(space);
    CHECK(space->v2);
    CHECK(space->base == own);
    CHECK(cg_read(own / "supervisor" / "cgroup.procs") == std::to_string(::getpid()));
    CHECK(cg_read(own / "cgroup.subtree_control") == "+memory");
  }
  SECTION("not delegated: the error names the setting") {
    cg_write(own / "cgroup.controllers", "pids\n");
    auto space = cgroup::prepare(fs_root, t / "self");
    REQUIRE_FALSE(space);
    CHECK_THAT(space.error().message, Catch::Contains("Delegate="));
  }
  SECTION("no cgroup file system at all") {
    fsys::remove(fs_root / "cgroup.controllers");
    REQUIRE_FALSE(cgroup::prepare(fs_root, t / "self"));
  }
}

TEST_CASE("A memory cgroup's name is one plain folder name", "[core][cgroup]") {
  cgroup::Space space{"/nonexistent", false};
  for (const auto* bad : {"", "..", "../x", "a/b", ".hidden", "a b", "a\nb"}) {
    INFO(bad);
    auto m = cgroup::Memory::create(space, bad, 1 << 20);
    REQUIRE_FALSE(m);
    CHECK_THAT(m.error().message, Catch::Contains("is not allowed"));
  }
  REQUIRE_FALSE(cgroup::Memory::create(space, "ok", 0));
}

TEST_CASE("A program that exceeds its memory cgroup's bound is killed and the cgroup goes",
          "[core][cgroup]") {
  AIRHEAL_REQUIRE_ROOT("needs root to make cgroups");
  if (!fsys::exists("/bin/busybox")) FAIL("busybox-static is needed (scripts/setup.sh)");
  auto space = cgroup::prepare();
  INFO((space ? "" : space.error().message));
  REQUIRE(space);
  auto name = "airheal-test-" + std::to_string(::getpid());
  fsys::path dir;
  {
    auto m = cgroup::Memory::create(*space, name, 32u << 20);
    INFO((m ? "" : m.error().message));
    REQUIRE(m);
    dir = m->dir();
    CHECK(fsys::is_directory(dir));
    ProcessOptions po;
    po.cgroup_procs = m->procs();
    // Inside: the program's own /proc/self/cgroup names the new cgroup.
    auto inside = run_process({"/bin/busybox", "cat", "/proc/self/cgroup"}, po);
    CHECK(inside.exit_code == 0);
    CHECK_THAT(inside.out, Catch::Contains("/" + name));
    // 8 MB is fine; 200 MB held in a shell variable is not.
    auto small = run_process({"/bin/busybox", "sh", "-c",
                              "x=$(/bin/busybox head -c 8000000 /dev/zero | /bin/busybox tr "
                              "'\\0' a); echo ${#x}"},
                             po);
    CHECK(small.exit_code == 0);
    CHECK(small.out == "8000000\n");
    CHECK(m->oom_kills() == 0);
    auto big = run_process({"/bin/busybox", "sh", "-c",
                            "x=$(/bin/busybox head -c 200000000 /dev/zero | /bin/busybox tr "
                            "'\\0' a); echo ${#x}"},
                           po);
    CHECK(big.out != "200000000\n");
    CHECK(m->oom_kills() >= 1);
  }
  CHECK_FALSE(fsys::exists(dir));
}
