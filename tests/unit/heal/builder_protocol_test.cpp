// The request format between airheald and airheal-builder: what goes over the socket round-trips,
// what is malformed is refused with the field named, and what a request may name is checked by
// the builder against its own policy (the cases below are the ways a compromised airheald could
// try to make the builder read, mount or write outside the heal work folders).
#include "heal/builder_protocol.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "core/digest.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

struct Roots {
  test::TempDir dir;
  builder::Policy policy;
  fsys::path work, blob;
  std::string blob_hex;
  Roots() {
    policy.work_root = dir / "state" / "heal";
    policy.blobs_root = dir / "state" / "blobs" / "sha256";
    work = policy.work_root / "7";
    fsys::create_directories(work / "repo");
    blob_hex = Sha256::of("gold artefact").hex();
    fsys::create_directories(policy.blobs_root / blob_hex.substr(0, 2));
    blob = policy.blobs_root / blob_hex.substr(0, 2) / blob_hex;
    std::ofstream(blob) << "gold artefact";
  }
  builder::Request layer() const {
    builder::Request r;
    r.op = builder::Op::add_layer;
    r.layer.name = "airheal-heal-7";
    r.layer.work = work;
    r.layer.base_layers = 2;
    r.layer.copies = {{blob, "/app/server", 0755}};
    r.layer.mounts = {{work / "repo", "/var/lib/airheal-repo", true}};
    r.layer.env = {"DEBIAN_FRONTEND=noninteractive"};
    r.layer.commands = {{"apt-get", "install", "-y", "libssl3"}};
    return r;
  }
};

}  // namespace

TEST_CASE("Builder requests and replies round-trip through their JSON", "[heal][builder]") {
  Roots roots;
  auto r = roots.layer();
  auto back = builder::request_from_json(builder::to_json(r));
  REQUIRE(back);
  CHECK(back->op == builder::Op::add_layer);
  CHECK(back->layer.name == r.layer.name);
  CHECK(back->layer.work == r.layer.work);
  CHECK(back->layer.base_layers == 2);
  CHECK(back->layer.copies[0].source == roots.blob);
  CHECK(back->layer.copies[0].mode == 0755);
  CHECK(back->layer.mounts[0].read_only);
  CHECK(back->layer.commands == r.layer.commands);
  CHECK(back->layer.cancel == nullptr);  // never on the wire
  builder::Request check;
  check.op = builder::Op::check;
  check.check.name = "airheal-check-7";
  check.check.work = roots.work;
  check.check.memory = 512 << 20;
  check.check.runs = {{{"/app/server", "--selftest"}, std::chrono::milliseconds(5000)}};
  auto cb = builder::request_from_json(builder::to_json(check));
  REQUIRE(cb);
  CHECK(cb->check.runs[0].argv == check.check.runs[0].argv);
  CHECK(cb->check.runs[0].timeout.count() == 5000);
  CHECK(cb->check.memory == 512u << 20);

  builder::Reply reply;
  reply.ok = true;
  reply.log = "$ buildah from ...\n";
  reply.failure = {FailureClass::dependency_problem, "dpkg: error"};
  LayerBlob b;
  b.digest = Sha256::of("layer");
  b.diff_id = Sha256::of("tar");
  b.size = 42;
  b.file = roots.work / "out" / "blobs" / "sha256" / b.digest.hex();
  reply.layer = b;
  reply.outcomes = {{true, false, ""}, {false, true, "timed out"}};
  auto rb = builder::reply_from_json(builder::to_json(reply));
  REQUIRE(rb);
  CHECK(rb->ok);
  CHECK(rb->failure.cls == FailureClass::dependency_problem);
  CHECK(rb->layer->digest == b.digest);
  CHECK(rb->layer->size == 42);
  CHECK(rb->outcomes.size() == 2);
  CHECK(rb->outcomes[1].timed_out);
}

TEST_CASE("Malformed builder requests are refused with the field named", "[heal][builder]") {
  Roots roots;
  auto good = builder::to_json(roots.layer());
  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    const char* says;
  };
  std::vector<Case> cases = {
      {"not an object", [](json& j) { j = json::array(); }, "not a JSON object"},
      {"another protocol version", [](json& j) { j["version"] = 2; }, "protocol version 1"},
      {"an unknown operation", [](json& j) { j["op"] = "exec"; }, "unknown op \"exec\""},
      {"no layer object", [](json& j) { j.erase("layer"); }, "no \"layer\" object"},
      {"a name that is a number", [](json& j) { j["layer"]["name"] = 7; },
       "\"name\" is not a string"},
      {"a command that is a string",
       [](json& j) { j["layer"]["commands"] = json::array({"rm -rf /"}); },
       "a command is not a list"},
      {"a NUL byte in an argument",
       [](json& j) { j["layer"]["commands"][0][1] = std::string("a\0b", 3); },
       "holds something that is not a string"},
      {"too many arguments",
       [](json& j) { j["layer"]["commands"][0] = json(std::vector<std::string>(5000, "x")); },
       "a command is not a list of at most 4096"},
      {"a mode out of range", [](json& j) { j["layer"]["copies"][0]["mode"] = 1 << 20; },
       "\"mode\" is out of range"},
      {"read_only not a boolean", [](json& j) { j["layer"]["mounts"][0]["read_only"] = "yes"; },
       "read_only"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto j = good;
      c.edit(j);
      auto r = builder::request_from_json(j);
      REQUIRE_FALSE(r);
      CHECK_THAT(r.error().message, Catch::Contains(c.says));
    }
  }
}

TEST_CASE("The builder runs only what its own policy allows, whatever airheald asks",
          "[heal][builder]") {
  Roots roots;
  CHECK_FALSE(builder::validate(roots.layer(), roots.policy));  // the good request passes
  {
    auto deeper = roots.layer();  // the checks' folder inside a heal's work folder
    deeper.layer.work = roots.work / "repo";
    deeper.layer.mounts.clear();
    CHECK_FALSE(builder::validate(deeper, roots.policy));
  }
  std::error_code ec;
  fsys::create_directories(roots.dir / "elsewhere", ec);
  fsys::create_directory_symlink(roots.dir / "elsewhere", roots.policy.work_root / "link", ec);
  fsys::create_directory_symlink("/etc", roots.work / "etc-link", ec);
  auto other_hex = Sha256::of("other").hex();
  fsys::create_directories(roots.policy.blobs_root / other_hex.substr(0, 2), ec);
  std::ofstream(roots.policy.blobs_root / other_hex.substr(0, 2) / other_hex) << "tampered";
  struct Case {
    const char* name;
    std::function<void(builder::Request&)> edit;
    const char* says;
  };
  std::vector<Case> cases = {
      {"a work folder outside the work root",
       [&](auto& r) { r.layer.work = roots.dir / "elsewhere"; }, "is not inside"},
      {"a work folder with ..", [&](auto& r) { r.layer.work = roots.policy.work_root / ".."; },
       "is not inside"},
      {"the work root itself", [&](auto& r) { r.layer.work = roots.policy.work_root; },
       "is not inside"},
      {"a work folder in the builder's own storage",
       [&](auto& r) { r.layer.work = roots.policy.work_root / "buildah" / "root"; },
       "is not inside"},
      {"a work folder that is a symlink out",
       [&](auto& r) { r.layer.work = roots.policy.work_root / "link"; }, "is not a folder inside"},
      {"a work folder that does not exist",
       [&](auto& r) { r.layer.work = roots.policy.work_root / "9"; }, "is not a folder inside"},
      {"a container name with a slash", [](auto& r) { r.layer.name = "../x"; }, "container name"},
      {"an option as the image name", [](auto& r) { r.layer.image = "--all"; }, "image name"},
      {"a copied file that is not a blob",
       [](auto& r) { r.layer.copies[0].source = "/etc/shadow"; }, "is not a blob of the store"},
      {"a blob path through ..",
       [&](auto& r) {
         r.layer.copies[0].source =
             roots.policy.blobs_root / ".." / roots.blob_hex.substr(0, 2) / roots.blob_hex;
       },
       "is not a blob of the store"},
      {"a blob whose content is not its digest",
       [&](auto& r) {
         r.layer.copies[0].source = roots.policy.blobs_root / other_hex.substr(0, 2) / other_hex;
       },
       "does not have the digest it is named by"},
      {"a copy target with ..", [](auto& r) { r.layer.copies[0].target = "/app/../etc/passwd"; },
       "copy target"},
      {"a relative copy target", [](auto& r) { r.layer.copies[0].target = "app"; }, "copy target"},
      {"a mount of the host's /", [](auto& r) { r.layer.mounts[0].host = "/"; },
       "is not inside the work folder"},
      {"a mount through a symlink out",
       [&](auto& r) { r.layer.mounts[0].host = roots.work / "etc-link"; },
       "is not inside the work folder"},
      {"a mount onto the image's /", [](auto& r) { r.layer.mounts[0].target = "/"; },
       "mount point"},
      {"an environment entry that is not NAME=VALUE", [](auto& r) { r.layer.env = {"LD_PRELOAD"}; },
       "is not NAME=VALUE"},
      {"an environment value across lines", [](auto& r) { r.layer.env = {"A=1\nB=2"}; },
       "is not NAME=VALUE"},
      {"an empty command", [](auto& r) { r.layer.commands = {{}}; }, "an empty command"},
      {"a request that does nothing",
       [](auto& r) {
         r.layer.commands.clear();
         r.layer.copies.clear();
       },
       "does nothing"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto r = roots.layer();
      c.edit(r);
      auto why = builder::validate(r, roots.policy);
      REQUIRE(why);
      CHECK_THAT(*why, Catch::Contains(c.says));
    }
  }
  builder::Request reset;
  CHECK_FALSE(builder::validate(reset, roots.policy));
}

TEST_CASE("The builder's host rpm takes store blobs into a staging root in a work folder only",
          "[heal][builder]") {
  Roots roots;
  std::error_code ec;
  fsys::create_directories(roots.work / "rpm-root", ec);
  fsys::create_directory_symlink("/", roots.work / "root-link", ec);
  auto blob = roots.policy.blobs_root / roots.blob_hex.substr(0, 2) / roots.blob_hex;
  auto good = [&] {
    builder::Request r;
    r.op = builder::Op::host_rpm;
    r.rpm.work = roots.work;
    r.rpm.root = "rpm-root";
    r.rpm.dbpath = "var/lib/rpm";
    r.rpm.packages = {blob};
    r.rpm.signed_packages = {blob};
    return r;
  };
  CHECK_FALSE(builder::validate(good(), roots.policy));
  // It travels as it was sent.
  auto back = builder::request_from_json(builder::to_json(good()));
  REQUIRE(back);
  CHECK(back->op == builder::Op::host_rpm);
  CHECK(back->rpm.packages == good().rpm.packages);
  CHECK(back->rpm.dbpath == "var/lib/rpm");
  struct Case {
    const char* name;
    std::function<void(builder::Request&)> edit;
    const char* says;
  };
  std::vector<Case> cases = {
      {"a work folder outside the work root", [&](auto& r) { r.rpm.work = roots.dir.path(); },
       "is not inside"},
      {"a staging root that is a path", [](auto& r) { r.rpm.root = "../../etc"; }, "staging root"},
      {"a staging root that is a symlink to /", [](auto& r) { r.rpm.root = "root-link"; },
       "is not a folder in the work folder"},
      {"a staging root that does not exist", [](auto& r) { r.rpm.root = "missing"; },
       "is not a folder in the work folder"},
      {"an absolute database path", [](auto& r) { r.rpm.dbpath = "/var/lib/rpm"; },
       "rpm database path"},
      {"a database path with ..", [](auto& r) { r.rpm.dbpath = "var/../../etc"; },
       "rpm database path"},
      {"a package that is not a blob", [](auto& r) { r.rpm.packages = {"/etc/shadow"}; },
       "is not a blob of the store"},
      {"no packages",
       [](auto& r) {
         r.rpm.packages.clear();
         r.rpm.signed_packages.clear();
       },
       "without packages"},
      {"a signed package that is not one of the packages",
       [](auto& r) { r.rpm.signed_packages = {"/etc/shadow"}; }, "is not one of the request's"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto r = good();
      c.edit(r);
      auto why = builder::validate(r, roots.policy);
      REQUIRE(why);
      CHECK_THAT(*why, Catch::Contains(c.says));
    }
  }
}

TEST_CASE("Builder frames: length-prefixed, bounded, and a short read is an error",
          "[heal][builder]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  REQUIRE(builder::write_frame(sv[0], "{\"op\":\"reset\"}"));
  auto f = builder::read_frame(sv[1], 100);
  REQUIRE(f);
  CHECK(*f == "{\"op\":\"reset\"}");
  REQUIRE(builder::write_frame(sv[0], std::string(200, 'x')));
  auto big = builder::read_frame(sv[1], 100);
  REQUIRE_FALSE(big);
  CHECK_THAT(big.error().message, Catch::Contains("over the limit of 100"));
  ::close(sv[0]);  // (the refused frame's bytes are left unread: the connection is done with)
  ::close(sv[1]);
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  REQUIRE(::write(sv[0], "\0\0", 2) == 2);  // half a length, then the writer is gone
  ::close(sv[0]);
  auto closed = builder::read_frame(sv[1], 100);
  REQUIRE_FALSE(closed);
  CHECK_THAT(closed.error().message, Catch::Contains("the connection closed"));
  ::close(sv[1]);
}
