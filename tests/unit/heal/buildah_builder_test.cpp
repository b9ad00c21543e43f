// The buildah commands a heal build and its checks run: every command that runs something in an
// image has no network, imported content is mounted read-only, and what comes from images and
// snapshots (paths, argument vectors) stays one argument each. The real buildah runs these in the
// heal integration tests, and rootless below.
#include "heal/buildah_builder.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;
namespace fsys = std::filesystem;

namespace {

bool has_pair(const std::vector<std::string>& v, const std::string& a, const std::string& b) {
  for (std::size_t i = 0; i + 1 < v.size(); ++i)
    if (v[i] == a && v[i + 1] == b) return true;
  return false;
}

}  // namespace

TEST_CASE(
    "A heal layer is from, copies, runs with no network and the request's mounts, then one commit",
    "[heal]") {
  LayerRequest r;
  r.name = "airheal-heal-7";
  r.work = "/state/heal/7";
  r.base_layers = 3;
  r.copies = {{"/state/blobs/sha256/ab", "/usr/local/bin/app; rm -rf /", 0755}};
  r.mounts = {{"/state/heal/7/repo", "/airheal-heal", true},
              {"/state/heal/7/apt-state", "/airheal-apt", false}};
  r.env = {"DEBIAN_FRONTEND=noninteractive"};
  r.commands = {{"apt-get", "update"},
                {"apt-get", "install", "--no-remove", "libssl3:amd64=3.0.15-1~deb12u1"}};
  auto c = buildah_layer_commands(r, "runc");
  REQUIRE(c.size() == 5);
  CHECK(c[0] == std::vector<std::string>{"from", "--pull-never", "--name", "airheal-heal-7",
                                         "oci:in:original"});
  CHECK(c[1] == std::vector<std::string>{"copy", "--chmod", "0755", "airheal-heal-7",
                                         "/state/blobs/sha256/ab", "/usr/local/bin/app; rm -rf /"});
  for (std::size_t i : {2, 3}) {
    CHECK(c[i][0] == "run");
    CHECK(has_pair(c[i], "--network", "none"));
    CHECK(has_pair(c[i], "--runtime", "runc"));
    CHECK(has_pair(c[i], "--volume", "/state/heal/7/repo:/airheal-heal:ro"));
    CHECK(has_pair(c[i], "--volume", "/state/heal/7/apt-state:/airheal-apt"));
    CHECK(has_pair(c[i], "-e", "DEBIAN_FRONTEND=noninteractive"));
    // The command follows "--" as it was given.
    auto dash = std::find(c[i].begin(), c[i].end(), "--");
    REQUIRE(dash != c[i].end());
    CHECK(std::vector<std::string>(dash + 1, c[i].end()) == r.commands[i - 2]);
    CHECK(*(dash - 1) == "airheal-heal-7");
  }
  CHECK(c[4] == std::vector<std::string>{"commit", "--quiet", "--disable-compression=false",
                                         "--format", "oci", "airheal-heal-7", "oci:out:healed"});

  r.copies = {{"/x", "/y", 0644}};
  CHECK(buildah_layer_commands(r, "crun")[1][2] == "0644");
  CHECK(has_pair(buildah_layer_commands(r, "crun")[2], "--runtime", "crun"));
}

TEST_CASE("Checks start one container under the memory bound and run each check with no network",
          "[heal]") {
  CheckRequest r;
  r.name = "airheal-check-7";
  r.work = "/state/heal/7/check";
  r.memory = 512ull << 20;
  r.env = {"DEBIAN_FRONTEND=noninteractive"};
  r.runs = {{{"/usr/bin/app", "--serve"}, std::chrono::milliseconds(5000)},
            {{"sh", "-c", "test -x /usr/bin/app"}, {}}};
  auto c = buildah_check_commands(r, "runc");
  REQUIRE(c.size() == 3);
  CHECK(c[0] == std::vector<std::string>{"from", "--pull-never", "--name", "airheal-check-7",
                                         "--memory", "536870912", "--memory-swap", "536870912",
                                         "oci:image:image"});
  for (std::size_t i : {1, 2}) {
    CHECK(has_pair(c[i], "--network", "none"));
    auto dash = std::find(c[i].begin(), c[i].end(), "--");
    REQUIRE(dash != c[i].end());
    CHECK(std::vector<std::string>(dash + 1, c[i].end()) == r.runs[i - 1].argv);
  }
  r.memory = 0;
  CHECK(buildah_check_commands(r, "runc")[0] ==
        std::vector<std::string>{"from", "--pull-never", "--name", "airheal-check-7",
                                 "oci:image:image"});
}

// Rootless builds as airheal-builder --build-user runs them: the real buildah and runc, as an
// unprivileged user with subordinate ids (test_build_user, made as the packages make theirs), a
// busybox image made here with rootful buildah.
TEST_CASE("Rootless: the build and its container run as the build user in a user namespace",
          "[heal][builder][rootless]") {
  AIRHEAL_REQUIRE_ROOT("needs root to become the build user and make cgroups");
  if (!test::have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  if (!fsys::exists("/bin/busybox")) FAIL("busybox-static is needed (scripts/setup.sh)");
  auto user = test::test_build_user();
  test::TempDir t;
  fsys::permissions(t.path(), fsys::perms(0755));
  auto work = t / "work";
  fsys::create_directories(t / "rootfs" / "bin");
  fsys::copy_file("/bin/busybox", t / "rootfs" / "bin" / "busybox");
  fsys::create_directories(work);
  // From the work folder: oci: references are lower case, the temporary folder's name may not be.
  std::vector<std::string> rootful = {"env",
                                      "--chdir=" + work.string(),
                                      "buildah",
                                      "--root",
                                      (t / "rs" / "root").string(),
                                      "--runroot",
                                      (t / "rs" / "run").string(),
                                      "--storage-driver",
                                      "vfs"};
  auto buildah = [&](std::vector<std::string> args) {
    auto argv = rootful;
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_ok(argv).out;
  };
  auto c = buildah({"from", "scratch"});
  c = c.substr(0, c.find('\n'));
  buildah({"copy", c, (t / "rootfs").string(), "/"});
  buildah({"commit", "--quiet", c, "oci:in:image"});
  buildah({"rm", c});
  // The work folder is the build user's while the build runs (airheal-builder lends it).
  test::run_ok(
      {"chown", "-R", std::to_string(user.uid) + ":" + std::to_string(user.gid), work.string()});

  BuildahOptions o;
  o.storage = t / "storage";
  o.build_user = ProcessOptions::Identity{user.uid, user.gid, {}};
  auto space = cgroup::prepare();
  INFO((space ? "" : space.error().message));
  REQUIRE(space);
  o.memory = *space;
  BuildahBuilder builder(o);
  REQUIRE(builder.prepare_rootless());
  struct stat st {};
  REQUIRE(::stat((t / "storage" / "rootless").c_str(), &st) == 0);
  CHECK(st.st_uid == user.uid);
  CHECK((st.st_mode & 07777) == 0700);
  // A check of the image in the work folder under a 64 MiB bound.
  auto check_of = [&](const std::string& name) {
    CheckRequest r;
    r.name = name + "-" + std::to_string(::getpid());
    r.work = work;
    r.in = "in";
    r.image = "image";
    r.memory = 64ull << 20;
    return r;
  };

  SECTION("a layer: root in the container is the build user, other ids are subordinate") {
    LayerRequest r;
    r.name = "airheal-rootless-" + std::to_string(::getpid());
    r.work = work;
    r.in = "in";
    r.image = "image";
    r.base_layers = 1;
    r.commands = {{"/bin/busybox", "sh", "-c",
                   "cat /proc/self/uid_map > /uid_map && /bin/busybox mkdir /owned && "
                   "/bin/busybox chown 42:42 /owned"}};
    std::string log;
    auto layer = builder.add_layer(r, log, nullptr);
    INFO(log);
    REQUIRE(layer);
    CHECK_THAT(log, Catch::Contains("[rootless, uid " + std::to_string(user.uid) + "] from"));
    auto x = t / "x";
    fsys::create_directories(x);
    test::run_ok({"tar", "-xzf", layer->file.string(), "-C", x.string(), "--numeric-owner"});
    auto map = fs::read_file(x / "uid_map", 4096).value_or("");
    INFO(map);
    // Container root is the build user; the rest of the range is /etc/subuid's, never host root.
    std::istringstream in(map);
    std::uint64_t inside = 0, outside = 0, count = 0;
    REQUIRE(in >> inside >> outside >> count);
    CHECK(inside == 0);
    CHECK(outside == user.uid);
    CHECK(count == 1);
    REQUIRE(in >> inside >> outside >> count);
    CHECK(inside == 1);
    CHECK(outside >= 100000);
    CHECK(count >= 65535);
    // A chown inside the container works (an image's own users exist): the layer records it.
    REQUIRE(::stat((x / "owned").c_str(), &st) == 0);
    CHECK(st.st_uid == 42);
    // Nothing the build wrote in the work folder is root's.
    for (auto it = fsys::recursive_directory_iterator(work);
         it != fsys::recursive_directory_iterator(); ++it) {
      REQUIRE(::lstat(it->path().c_str(), &st) == 0);
      INFO(it->path());
      CHECK(st.st_uid != 0);
    }
  }

  SECTION("checks: under a memory cgroup of their own; one that exceeds it fails") {
    auto r = check_of("airheal-rootless-check");
    r.runs = {{{"/bin/busybox", "sh", "-c",
                "/bin/busybox grep -q airheal-rootless-check /proc/self/cgroup"},
               {}},
              {{"/bin/busybox", "sh", "-c",
                "x=$(/bin/busybox head -c 300000000 /dev/zero | /bin/busybox tr '\\0' a); "
                "echo ${#x}; test ${#x} = 300000000"},
               {}}};
    std::string log;
    auto outcomes = builder.check(r, log);
    INFO(log);
    REQUIRE(outcomes);
    REQUIRE(outcomes->size() == 2);
    CHECK((*outcomes)[0].passed);
    CHECK_FALSE((*outcomes)[1].passed);
    CHECK_THAT(log, Catch::Contains("# memory bound: the cgroup"));
    CHECK_THAT(log, Catch::Contains("[rootless, uid " + std::to_string(user.uid) + "] run"));
    CHECK_THAT(log, !Catch::Contains("--memory"));
    // The cgroup went with the check.
    CHECK_FALSE(fsys::exists(space->base / r.name));
  }

  SECTION("with no memory cgroup to be had, checks with a bound do not run at all") {
    o.memory.reset();
    o.memory_error = "none here (the test says so)";
    BuildahBuilder without(o);
    auto r = check_of("airheal-unbound-check");
    r.runs = {{{"/bin/busybox", "true"}, {}}};
    std::string log;
    auto outcomes = without.check(r, log);
    REQUIRE_FALSE(outcomes);
    CHECK_THAT(outcomes.error().message, Catch::Contains("needs a memory cgroup") &&
                                             Catch::Contains("none here (the test says so)") &&
                                             Catch::Contains("Delegate=memory"));
    CHECK(log.find("$ buildah") == std::string::npos);  // nothing ran, rootful or not
    // Without a bound, the check runs rootless as any other.
    r.memory = 0;
    outcomes = without.check(r, log);
    INFO(log);
    REQUIRE(outcomes);
    CHECK((*outcomes)[0].passed);
    CHECK_THAT(log, Catch::Contains("[rootless, uid " + std::to_string(user.uid) + "] run"));
  }
  builder.reset();
}
