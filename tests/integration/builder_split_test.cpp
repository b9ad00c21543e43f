// Privilege separation, issue 24: the heal's build runs in airheal-builder, a separate process
// reached over a Unix socket, and each side dying mid-build leaves the other in a clean state.
// Real processes: airheald, airheal-builder, buildah and runc; a FROM scratch image healed with a
// signed gold artefact (tests/support/scan_fixtures.hpp).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "core/fs.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

// airheal-builder as its own process, its stderr in a file.
struct BuilderProcess {
  pid_t pid = -1;
  fsys::path log;
  BuilderProcess(const fsys::path& state, const fsys::path& socket, const fsys::path& log_file)
      : log(log_file) {
    fsys::create_directories(state);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      ::execl(airheal_builder_path().c_str(), "airheal-builder", "--state-dir", state.c_str(),
              "--socket", socket.c_str(), "--runtime", "runc", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !fsys::exists(socket); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(fsys::is_socket(socket));
  }
  std::string said() const { return fs::read_file(log, 16 << 20).value_or(""); }
  bool wait_for(const std::string& text, int seconds) const {
    for (int i = 0; i < seconds * 10; ++i) {
      if (said().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  void kill(int sig) {
    if (pid > 0) {
      ::kill(pid, sig);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ~BuilderProcess() { kill(SIGTERM); }
};

json wait_heal(const Ctl& ctl, std::initializer_list<const char*> states, int seconds) {
  for (int i = 0; i < seconds; ++i) {
    auto hs = ctl.json_of({"--json", "heals"});
    if (!hs.empty())
      for (const auto* s : states)
        if (hs[0]["state"] == s) return hs[0];
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return nullptr;
}

}  // namespace

TEST_CASE("Heals build in airheal-builder and survive either side being killed",
          "[integration][heal][builder]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  TempDir t;
  auto state = t / "state";
  auto socket = t / "builder.sock";
  BuilderProcess builder(state, socket, t / "builder.log");
  // The heal's checks run /app (the greeter prints and exits) or /app sleep (it sleeps ten
  // minutes: the build is still running when a side is killed).
  auto start = [&](const std::string& test) {
    return std::make_unique<Daemon>(Daemon::Options{
        state,
        "scan:\n  poll_interval: 1s\nheal:\n  builder_socket: " + socket.string() +
            "\n  rules:\n    - {repository: \"apps/greeter\", test: " + test + "}\n",
        {}});
  };
  Ctl ctl{state};
  Signer signer(t / "gpg", "Go mirror");

  SECTION("the build runs in the builder and the heal is staged") {
    auto daemon = start(R"(["/app"])");
    import_greeter_gold(t.path(), daemon->address(), state, {"apps/greeter:1"}, signer, false);
    auto heal = wait_heal(ctl, {"staged", "held", "failed"}, 300);
    INFO(heal.dump(2) << builder.said() << daemon->log().substr(0, 20000));
    REQUIRE(heal.is_object());
    CHECK(heal["state"] == "staged");
    auto id = std::to_string(heal["id"].get<int>());
    auto said = builder.said();
    CHECK(said.find("check airheal-check-" + id + " in " +
                    (state / "heal" / id / "check").string() + " for uid 0: started") !=
          std::string::npos);
    CHECK(said.find("airheal-check-" + id + ": done") != std::string::npos);
    // The heal's log holds the builder's buildah commands, each run with --network none.
    auto shown = ctl.json_of({"--json", "heal", "show", id});
    auto log = shown["log"].get<std::string>();
    CHECK(log.find("$ buildah from") != std::string::npos);
    CHECK(log.find("run --runtime runc --network none") != std::string::npos);
  }

  SECTION("the builder killed mid-build fails the heal cleanly; the registry keeps serving") {
    auto daemon = start(R"(["/app", "sleep"])");
    import_greeter_gold(t.path(), daemon->address(), state, {"apps/greeter:1"}, signer, false);
    REQUIRE(builder.wait_for(": started", 300));
    std::this_thread::sleep_for(std::chrono::seconds(3));  // into buildah run
    builder.kill(SIGKILL);
    auto heal = wait_heal(ctl, {"staged", "held", "failed"}, 120);
    INFO(heal.dump(2) << builder.said() << daemon->log().substr(0, 20000));
    REQUIRE(heal.is_object());
    CHECK(heal["state"] != "staged");
    CHECK_THAT(heal["reason"].get<std::string>(),
               Catch::Contains("airheal-builder stopped before it answered"));
    HttpClient http(daemon->host(), daemon->port());
    auto m = http.get("/v2/apps/greeter/manifests/1",
                      {{"Accept", "application/vnd.oci.image.manifest.v1+json"}});
    CHECK(m.status == 200);
    CHECK(http.get("/v2/").status == 200);
  }

  SECTION("airheald killed mid-build: the builder stops the build and cleans up") {
    auto daemon = start(R"(["/app", "sleep"])");
    import_greeter_gold(t.path(), daemon->address(), state, {"apps/greeter:1"}, signer, false);
    REQUIRE(builder.wait_for(": started", 300));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    daemon->stop(SIGKILL);
    REQUIRE(
        builder.wait_for("the client went away; build stopped, container and output removed", 120));
    auto said = builder.said();
    INFO(said);
    auto at = said.find("check airheal-check-") + std::string("check ").size();
    auto name = said.substr(at, said.find(' ', at) - at);
    auto containers =
        run({"buildah", "--root", (state / "heal" / "buildah" / "root").string(), "--runroot",
             (state / "heal" / "buildah" / "run").string(), "--storage-driver", "vfs", "containers",
             "--format", "{{.ContainerName}}"});
    INFO(containers.out << containers.err);
    CHECK(containers.exit_code == 0);
    CHECK(containers.out.find(name) == std::string::npos);
    // No buildah or runc is left running under the builder, and the builder still answers.
    CHECK(run({"pgrep", "-P", std::to_string(builder.pid)}).out.empty());
    CHECK(::kill(builder.pid, 0) == 0);
  }
}
