// run_process: an argument vector, never a shell; as another user when asked (airheal-builder's
// rootless builds), and never as root when switching fails.
#include "core/subprocess.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("run_process passes each argument as it is, with no shell", "[core][subprocess]") {
  auto r = run_process({"printf", "%s|", "a b", "$(id)", "; rm -rf /"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "a b|$(id)|; rm -rf /|");
}

TEST_CASE("run_process runs a program as another user with exactly the groups asked for",
          "[core][subprocess]") {
  AIRHEAL_REQUIRE_ROOT("needs root to become another user");
  ProcessOptions po;
  po.as_user = ProcessOptions::Identity{65534, 65534, {4242}};
  auto r = run_process({"id"}, po);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("uid=65534") && Catch::Contains("gid=65534"));
  CHECK_THAT(r.out, Catch::Contains("4242"));
  CHECK_THAT(r.out, !Catch::Contains("(root)"));
  // Not a cgroup.procs to join: the program does not run at all.
  po.cgroup_procs = "/nonexistent/cgroup.procs";
  CHECK_THROWS_WITH(run_process({"id"}, po), Catch::Contains("cannot open"));
}
