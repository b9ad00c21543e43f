// airheal-builder's socket side, driven by the client airheald uses (heal::RemoteBuilder): who may
// ask, what is refused before anything runs, and what the client reports when no builder is there.
// Builds with real buildah through this server are in the integration test "Heals build in
// airheal-builder ...".
#include "builder/server.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <thread>

#include "heal/remote_builder.hpp"
#include "support/test_support.hpp"

using namespace airheal;
namespace fsys = std::filesystem;

namespace {

struct RunningBuilder {
  test::TempDir dir;
  std::atomic<bool> stop{false};
  std::vector<std::string> said;
  std::mutex m;
  std::unique_ptr<builder::Server> server;
  std::thread thread;
  explicit RunningBuilder(std::set<uid_t> uids) {
    builder::ServerOptions o;
    o.socket = dir / "builder.sock";
    o.policy.work_root = dir / "state" / "heal";
    o.policy.blobs_root = dir / "state" / "blobs" / "sha256";
    fsys::create_directories(o.policy.work_root / "1");
    o.buildah.storage = dir / "state" / "heal" / "buildah";
    o.allowed_uids = std::move(uids);
    o.log = [this](const std::string& s) {
      std::lock_guard l(m);
      said.push_back(s);
    };
    server = std::make_unique<builder::Server>(o);
    REQUIRE(server->listen());
    thread = std::thread([this] { server->serve(stop); });
  }
  ~RunningBuilder() {
    stop = true;
    thread.join();
  }
  heal::LayerRequest request() {
    heal::LayerRequest r;
    r.name = "airheal-heal-1";
    r.work = dir / "state" / "heal" / "1";
    r.commands = {{"true"}};
    return r;
  }
};

}  // namespace

TEST_CASE("The builder answers only the users it is told to, and only valid requests",
          "[builder]") {
  SECTION("a request outside the policy runs nothing and says why") {
    RunningBuilder b({::getuid()});
    heal::RemoteBuilder client(b.dir / "builder.sock");
    auto r = b.request();
    r.work = "/etc";
    std::string log;
    auto out = client.add_layer(r, log, nullptr);
    REQUIRE_FALSE(out);
    CHECK_THAT(out.error().message,
               Catch::Contains("airheal-builder refused the request: the work folder /etc is not "
                               "inside"));
    r = b.request();
    r.mounts = {{"/", "/host", false}};
    out = client.add_layer(r, log, nullptr);
    REQUIRE_FALSE(out);
    CHECK_THAT(out.error().message, Catch::Contains("is not inside the work folder"));
    std::lock_guard l(b.m);
    CHECK(b.said.size() == 2);
    CHECK_THAT(b.said[0], Catch::StartsWith("refused: "));
  }
  SECTION("a user it was not told to serve is refused") {
    RunningBuilder b({::getuid() + 4242});
    heal::RemoteBuilder client(b.dir / "builder.sock");
    std::string log;
    auto out = client.add_layer(b.request(), log, nullptr);
    REQUIRE_FALSE(out);
    CHECK_THAT(out.error().message,
               Catch::Contains("uid " + std::to_string(::getuid()) + " may not use the builder"));
  }
  SECTION("reset with nothing built is done at once") {
    RunningBuilder b({::getuid()});
    heal::RemoteBuilder client(b.dir / "builder.sock");
    client.reset();
    std::lock_guard l(b.m);
    REQUIRE_FALSE(b.said.empty());
    CHECK_THAT(b.said.back(), Catch::StartsWith("reset"));
  }
  SECTION("garbage on the socket is refused, and the builder goes on") {
    RunningBuilder b({::getuid()});
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, (b.dir / "builder.sock").c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(heal::builder::write_frame(fd, "hello"));
    auto reply = heal::builder::read_frame(fd, 1 << 20);
    ::close(fd);
    REQUIRE(reply);
    CHECK_THAT(*reply, Catch::Contains("refused") && Catch::Contains("\"ok\":false"));
    heal::RemoteBuilder client(b.dir / "builder.sock");
    client.reset();
    std::lock_guard l(b.m);
    CHECK_THAT(b.said.back(), Catch::StartsWith("reset"));
  }
}

TEST_CASE("With no builder listening a build fails at once with one line", "[builder]") {
  test::TempDir dir;
  heal::RemoteBuilder client(dir / "nobody.sock");
  heal::LayerRequest r;
  r.work = dir.path();
  std::string log;
  auto out = client.add_layer(r, log, nullptr);
  REQUIRE_FALSE(out);
  CHECK_THAT(out.error().message, Catch::Contains("airheal-builder is not reachable at " +
                                                  (dir / "nobody.sock").string()));
  heal::CheckRequest c;
  auto checked = client.check(c, log);
  REQUIRE_FALSE(checked);
}
