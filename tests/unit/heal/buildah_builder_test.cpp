// The buildah commands a heal build and its checks run: every command that runs something in an
// image has no network, imported content is mounted read-only, and what comes from images and
// snapshots (paths, argument vectors) stays one argument each. The real buildah runs these in the
// heal integration tests.
#include "heal/buildah_builder.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace airheal;
using namespace airheal::heal;

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
