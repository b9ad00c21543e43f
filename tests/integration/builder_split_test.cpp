// Privilege separation, issue 24: the heal's build runs in airheal-builder, a separate process
// reached over a Unix socket, and each side dying mid-build leaves the other in a clean state.
// Real processes: airheald, airheal-builder, buildah and runc; a FROM scratch image healed with a
// signed gold artefact (tests/support/scan_fixtures.hpp).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "core/fs.hpp"
#include "support/builder_fixtures.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

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
  AIRHEAL_REQUIRE_ROOT("needs root for airheal-builder and its build user");
  TempDir t;
  fsys::permissions(t.path(), fsys::perms(0755));  // the build user passes through
  auto state = t / "state";
  auto socket = t / "builder.sock";
  // Rootless, under the unit's capability bounding set: as the packages run it.
  auto build_user = test_build_user();
  BuilderProcess builder(state, socket, t / "builder.log", {"--build-user", build_user.name},
                         unit_bounding_set("airheal-builder.service"));
  auto rootless = "$ buildah [rootless, uid " + std::to_string(build_user.uid) + "] ";
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
    CHECK(log.find(rootless + "from") != std::string::npos);
    CHECK(log.find(rootless + "run --runtime runc --network none") != std::string::npos);
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
    // The build user's storage (rootless), read as the build user.
    auto storage = state / "heal" / "buildah" / "rootless";
    auto containers = run({"setpriv",
                           "--reuid",
                           std::to_string(build_user.uid),
                           "--regid",
                           std::to_string(build_user.gid),
                           "--clear-groups",
                           "env",
                           "HOME=" + (storage / "home").string(),
                           "XDG_RUNTIME_DIR=" + (storage / "xdg").string(),
                           "TMPDIR=" + (storage / "tmp").string(),
                           "buildah",
                           "--root",
                           (storage / "root").string(),
                           "--runroot",
                           (storage / "run").string(),
                           "--storage-driver",
                           "vfs",
                           "containers",
                           "--format",
                           "{{.ContainerName}}"});
    INFO(containers.out << containers.err);
    CHECK(fsys::is_directory(storage / "root" / "vfs-containers"));  // the storage the build used
    CHECK(containers.exit_code == 0);
    CHECK(containers.out.find(name) == std::string::npos);
    // No buildah or runc is left running under the builder, and the builder still answers.
    CHECK(run({"pgrep", "-P", std::to_string(builder.pid)}).out.empty());
    CHECK(::kill(builder.pid, 0) == 0);
  }
}

// airheald as the packaged unit runs it: an unprivileged user (here nobody, 65534, who owns the
// state folder; started as root, the daemon becomes the folder's owner) and --confine (no
// capabilities, no_new_privs, a seccomp filter against namespaces). Its heals build in
// airheal-builder, rootless as the packaged unit runs it (--build-user: buildah, runc and the
// build containers as an unprivileged user with subordinate ids; the builder lends it the work
// folder and gives the files back to the requester); without the builder, the daemon's own
// attempt to run buildah fails.
TEST_CASE("airheald runs unprivileged and confined while airheal-builder builds its heals",
          "[integration][heal][builder]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  AIRHEAL_REQUIRE_ROOT("needs root to give the state folder to nobody");
  constexpr uid_t kNobody = 65534;
  TempDir t;
  fsys::permissions(t.path(), fsys::perms(0755));
  auto state = t / "state";
  fsys::create_directories(state);
  REQUIRE(::chown(state.c_str(), kNobody, kNobody) == 0);
  auto socket = t / "builder.sock";
  Ctl ctl{state};
  Signer signer(t / "gpg", "Go mirror");
  auto start = [&](const std::string& heal_yaml) {
    Daemon::Options o{state,
                      "scan:\n  poll_interval: 1s\nheal:\n" + heal_yaml +
                          "  rules:\n    - {repository: \"apps/greeter\", test: [\"/app\"]}\n",
                      {"--confine"}};
    o.owner = kNobody;
    return std::make_unique<Daemon>(o);
  };

  SECTION("through the builder the heal is built, checked and staged") {
    auto build_user = test_build_user();
    // Under the unit's own capability bounding set, as systemd would start it.
    BuilderProcess builder(state, socket, t / "builder.log",
                           {"--socket-group", "65534", "--build-user", build_user.name},
                           unit_bounding_set("airheal-builder.service"));
    REQUIRE(builder.wait_for("rootless builds as " + build_user.name, 10));
    auto daemon = start("  builder_socket: " + socket.string() + "\n");
    INFO(daemon->log().substr(0, 20000));
    // The daemon process: nobody, no capabilities at all, no privilege gains, seccomp-filtered.
    auto pid = daemon->pid();
    CHECK(proc_status(pid, "Uid") == "65534\t65534\t65534\t65534");
    CHECK(proc_status(pid, "Gid") == "65534\t65534\t65534\t65534");
    CHECK(proc_status(pid, "CapEff") == "0000000000000000");
    CHECK(proc_status(pid, "CapPrm") == "0000000000000000");
    CHECK(proc_status(pid, "CapAmb") == "0000000000000000");
    CHECK(proc_status(pid, "NoNewPrivs") == "1");
    CHECK(proc_status(pid, "Seccomp") == "2");
    import_greeter_gold(t.path(), daemon->address(), state, {"apps/greeter:1"}, signer, false);
    auto heal = wait_heal(ctl, {"staged", "held", "failed"}, 300);
    INFO(heal.dump(2) << builder.said() << daemon->log().substr(0, 20000));
    REQUIRE(heal.is_object());
    CHECK(heal["state"] == "staged");
    auto id = std::to_string(heal["id"].get<int>());
    CHECK(builder.said().find("for uid 65534: started") != std::string::npos);
    // Every buildah step ran as the build user, the check under a memory cgroup of its own.
    auto shown = ctl.json_of({"--json", "heal", "show", id});
    auto log = shown["log"].get<std::string>();
    INFO(log);
    auto rootless = "$ buildah [rootless, uid " + std::to_string(build_user.uid) + "] ";
    // (This heal's layer is the gold artefact, made without buildah: the check is buildah's.)
    CHECK_THAT(log, Catch::Contains(rootless + "from") && Catch::Contains(rootless + "run"));
    CHECK_THAT(log, Catch::Contains("# memory bound: the cgroup"));
    std::size_t steps = 0;
    for (std::size_t at = log.find("$ buildah "); at != std::string::npos;
         at = log.find("$ buildah ", at + 1), ++steps)
      CHECK(log.compare(at, rootless.size(), rootless) == 0);
    CHECK(steps >= 4);
    // What the heal left in the state folder belongs to nobody, including what the builder made:
    // airhealctl run as root became the folder's owner too.
    std::vector<std::string> foreign;
    for (auto it = fsys::recursive_directory_iterator(state);
         it != fsys::recursive_directory_iterator(); ++it) {
      if (it->path().string().find("/heal/buildah") != std::string::npos) {
        it.disable_recursion_pending();  // the builder's own storage (root's)
        continue;
      }
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) == 0 && st.st_uid != kNobody)
        foreign.push_back(it->path().string());
    }
    std::string listed;
    for (const auto& f : foreign) listed += f + "\n";
    INFO(listed);
    CHECK(foreign.empty());
    // The provenance names the builder's tools, as airheal-builder reports them.
    std::string slsa;
    for (const auto& a : shown["attestations"])
      if (a["predicateType"] == "https://slsa.dev/provenance/v1") slsa = a["digest"];
    REQUIRE_FALSE(slsa.empty());
    HttpClient http(daemon->host(), daemon->port());
    auto am = json::parse(http.get("/v2/apps/greeter/manifests/" + slsa,
                                   {{"Accept", "application/vnd.oci.image.manifest.v1+json"}})
                              .body);
    auto envelope = json::parse(
        http.get("/v2/apps/greeter/blobs/" + am["layers"][0]["digest"].get<std::string>()).body);
    std::ofstream(t / "payload.b64") << envelope["payload"].get<std::string>();
    auto statement = json::parse(run({"base64", "-d", (t / "payload.b64").string()}).out);
    const auto& versions = statement["predicate"]["runDetails"]["builder"]["version"];
    CHECK(versions.value("buildah", "").find("buildah version") != std::string::npos);
    CHECK(versions.value("runc", "").find("runc version") != std::string::npos);
  }

  SECTION("without the builder the confined daemon cannot run buildah: the heal fails") {
    // A runtime folder of nobody's own, so that buildah gets as far as making its user namespace
    // (without one it may stop earlier, wherever it looked for one).
    auto xdg = t / "xdg";
    fsys::create_directories(xdg);
    fsys::permissions(xdg, fsys::perms(0700));
    REQUIRE(::chown(xdg.c_str(), kNobody, kNobody) == 0);
    std::string old_xdg = std::getenv("XDG_RUNTIME_DIR") ? std::getenv("XDG_RUNTIME_DIR") : "";
    ::setenv("XDG_RUNTIME_DIR", xdg.c_str(), 1);
    auto daemon = start("");
    if (old_xdg.empty())
      ::unsetenv("XDG_RUNTIME_DIR");
    else
      ::setenv("XDG_RUNTIME_DIR", old_xdg.c_str(), 1);
    import_greeter_gold(t.path(), daemon->address(), state, {"apps/greeter:1"}, signer, false);
    auto heal = wait_heal(ctl, {"staged", "held", "failed"}, 300);
    INFO(heal.dump(2) << daemon->log().substr(0, 20000));
    REQUIRE(heal.is_object());
    CHECK(heal["state"] == "failed");
    // buildah, run by the daemon as nobody, tries a rootless build and the filter refuses it the
    // user namespace ...
    CHECK_THAT(heal["reason"].get<std::string>(),
               Catch::Contains("buildah from failed") &&
                   Catch::Contains("unshare(CLONE_NEWUSER): Operation not permitted"));
    // ... which this kernel gives the same user unconfined: the refusal is the confinement's.
    auto control = run({"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                        "unshare", "--user", "true"});
    INFO(control.err);
    CHECK(control.exit_code == 0);
    // The registry still serves what it had.
    HttpClient http(daemon->host(), daemon->port());
    CHECK(http.get("/v2/").status == 200);
  }
}
