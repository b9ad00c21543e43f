// Named, authenticated people: airhealctl's requests arrive on the daemon's local socket, where
// the kernel names the Unix user (SO_PEERCRED); auth.local_users maps it to an airheal user whose
// roles decide what it may do. Real Unix users (useradd), a real HTTP client (curl over the Unix
// socket) run as each of them (setpriv), the real daemon.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
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

void ensure_unix_user(const std::string& name) {
  if (run({"id", "-u", name}).exit_code == 0) return;
  run_ok({"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name});
}

// curl as Unix user AS over the daemon's socket: "STATUS\nBODY".
std::pair<int, std::string> curl_as(const std::string& as, const fsys::path& socket,
                                    const std::string& method, const std::string& path,
                                    const std::string& body = "") {
  std::vector<std::string> argv = {
      "setpriv", "--reuid=" + as,  "--regid=" + as, "--clear-groups", "curl", "-s",  "-o", "-",
      "-w",      "\n%{http_code}", "--unix-socket", socket.string(),  "-X",   method};
  if (!body.empty())
    argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", body});
  argv.push_back("http://localhost" + path);
  auto r = run(argv);
  INFO(r.err);
  auto nl = r.out.rfind('\n');
  REQUIRE(nl != std::string::npos);
  return {std::stoi(r.out.substr(nl + 1)), r.out.substr(0, nl)};
}

}  // namespace

TEST_CASE("Approvers and exception granters are the Unix users the kernel names, with their roles",
          "[integration][auth][users]") {
  for (const char* p : {"useradd", "setpriv", "curl"})
    if (!have_program(p)) FAIL(p << " is needed (scripts/setup.sh installs it)");
  for (const char* u : {"airheal-t-alice", "airheal-t-bob", "airheal-t-eve"}) ensure_unix_user(u);
  TempDir t;
  // The socket must be reachable by the test's Unix users: the folders on the way are 0711.
  fsys::permissions(t.path(),
                    fsys::perms::owner_all | fsys::perms::group_exec | fsys::perms::others_exec);
  auto state = t / "state";
  fsys::create_directories(state);
  Ctl ctl{state};
  // alice grants exceptions; bob only reads; eve is a Unix user airheal does not know.
  REQUIRE(run({airhealctl_path().string(), "--state-dir", state.string(), "user", "add", "alice",
               "--no-password", "--role", "security-admin"})
              .exit_code == 0);
  REQUIRE(run({airhealctl_path().string(), "--state-dir", state.string(), "user", "add", "bob",
               "--no-password"})
              .exit_code == 0);
  auto users = ctl.json_of({"user", "list", "--json"});
  REQUIRE(users.size() == 2);
  CHECK(users[0]["roles"] == json::array({"security-admin"}));
  CHECK(users[1]["roles"] == json::array());
  Daemon daemon(Daemon::Options{state,
                                "auth:\n  local_users: {airheal-t-alice: alice, airheal-t-bob: "
                                "bob}\n",
                                {}});
  fsys::permissions(state,
                    fsys::perms::owner_all | fsys::perms::group_exec | fsys::perms::others_exec);
  auto socket = state / "airheald.sock";
  REQUIRE(fsys::is_socket(socket));

  const std::string exception =
      R"({"vulnerability": "CVE-2026-0101", "product": "apps/*", "reason": "compensating control",
          "expires_in_days": 5, "by": "mallory"})";
  // alice: granted, recorded as alice whatever the body says.
  auto [made_status, made_body] =
      curl_as("airheal-t-alice", socket, "POST", "/api/v1/exceptions", exception);
  INFO(made_body << daemon.log());
  REQUIRE(made_status == 201);
  CHECK(json::parse(made_body)["created_by"] == "alice");
  // bob: may read, may not accept risk.
  auto [read_status, read_body] = curl_as("airheal-t-bob", socket, "GET", "/api/v1/exceptions");
  CHECK(read_status == 200);
  CHECK(json::parse(read_body).size() == 1);
  auto [bob_status, bob_body] =
      curl_as("airheal-t-bob", socket, "POST", "/api/v1/exceptions", exception);
  CHECK(bob_status == 403);
  CHECK(bob_body.find("airheal user bob has only the viewer role") != std::string::npos);
  // eve: not an airheal user at all.
  auto [eve_status, eve_body] =
      curl_as("airheal-t-eve", socket, "POST", "/api/v1/exceptions", exception);
  CHECK(eve_status == 403);
  CHECK(eve_body.find("Unix user 'airheal-t-eve' is not an airheal user") != std::string::npos);
  // alice may not approve or hold heals (no approver or operator role).
  auto [hold_status, hold_body] =
      curl_as("airheal-t-alice", socket, "POST", "/api/v1/heals/1/hold", "{}");
  CHECK((hold_status == 403 || hold_status == 404));  // 404 when healing is off on this host

  // What the journal and the store say: the people, never the body's words.
  auto listed = ctl.json_of({"exception", "list", "--json"});
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["created_by"] == "alice");
  auto journal = *fs::read_file(state / "audit" / "journal.jsonl", 64 << 20);
  CHECK(journal.find(R"("actor":"airhealctl:alice")") != std::string::npos);
  CHECK(journal.find("mallory") == std::string::npos);
  // root, at the keyboard with airhealctl: named root, never $USER.
  auto revoked = run({"env", "USER=mallory", "SUDO_USER=mallory", airhealctl_path().string(),
                      "--state-dir", state.string(), "exception", "revoke", "1"});
  INFO(revoked.err);
  CHECK(revoked.exit_code == 0);
  auto all = ctl.json_of({"exception", "export"});
  CHECK(all[0]["revoked_by"] == "root");
  // A stopped daemon leaves no socket behind.
  CHECK(daemon.stop() == 0);
  CHECK_FALSE(fsys::exists(fsys::symlink_status(socket)));
}

// A real heal (a FROM scratch image healed with a signed gold artefact) staged and waiting for
// approval, approved with airhealctl by a Unix user who is not root, through the daemon's socket.
TEST_CASE("A staged heal is approved by a named non-root approver with airhealctl",
          "[integration][auth][users][heal]") {
  for (const char* p : {"useradd", "setpriv"})
    if (!have_program(p)) FAIL(p << " is needed (scripts/setup.sh installs it)");
  for (const char* u : {"airheal-t-carol", "airheal-t-dave", "airheal-t-erin"}) ensure_unix_user(u);
  TempDir t;
  fsys::permissions(t.path(),
                    fsys::perms::owner_all | fsys::perms::group_exec | fsys::perms::others_exec);
  auto state = t / "state";
  fsys::create_directories(state);
  auto add_user = [&](const std::string& name, std::vector<std::string> roles) {
    std::vector<std::string> argv = {airhealctl_path().string(),
                                     "--state-dir",
                                     state.string(),
                                     "user",
                                     "add",
                                     name,
                                     "--no-password"};
    for (const auto& r : roles) argv.insert(argv.end(), {"--role", r});
    run_ok(argv);
  };
  add_user("carol", {"approver"});                   // approves
  add_user("dave", {"operator"});                    // holds and rolls back, does not approve
  add_user("erin", {"approver", "security-admin"});  // accepts risk, so may not approve that heal
  Daemon daemon(Daemon::Options{
      state,
      "scan:\n  poll_interval: 1s\nauth:\n  separation_of_duties: true\n  local_users: "
      "{airheal-t-carol: carol, airheal-t-dave: dave, airheal-t-erin: erin}\n",
      {}});
  fsys::permissions(state,
                    fsys::perms::owner_all | fsys::perms::group_exec | fsys::perms::others_exec);
  Ctl ctl{state};
  Signer signer(t / "gpg", "Go mirror");
  import_greeter_gold(t.path(), daemon.address(), state, {"apps/greeter:1"}, signer, true);
  json heal;
  for (int i = 0; i < 300 && !heal.is_object(); ++i) {
    auto hs = ctl.json_of({"--json", "heals"});
    if (!hs.empty() &&
        (hs[0]["state"] == "staged" || hs[0]["state"] == "held" || hs[0]["state"] == "failed"))
      heal = hs[0];
    else
      std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(heal.dump(2) << daemon.log().substr(0, 20000));
  REQUIRE(heal.is_object());
  REQUIRE(heal["state"] == "staged");
  auto id = std::to_string(heal["id"].get<int>());
  auto ctl_as = [&](const std::string& unix_user, std::vector<std::string> args) {
    std::vector<std::string> argv = {
        "setpriv",      "--reuid=" + unix_user,     "--regid=" + unix_user, "--clear-groups", "env",
        "USER=mallory", airhealctl_path().string(), "--state-dir",          state.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  };
  // erin accepts the risk of the finding no fix inside the gap removes, on this repository ...
  auto granted =
      ctl_as("airheal-t-erin", {"exception", "add", "--vulnerability", "GO-2026-9002", "--product",
                                "apps/greeter", "--reason", "not reachable", "--expires", "30d"});
  INFO(granted.out << granted.err);
  REQUIRE(granted.exit_code == 0);
  // ... so erin may not also approve the heal; dave is not an approver.
  auto by_erin = ctl_as("airheal-t-erin", {"heal", "approve", id});
  CHECK(by_erin.exit_code != 0);
  CHECK(by_erin.err.find("separation of duties") != std::string::npos);
  auto by_dave = ctl_as("airheal-t-dave", {"heal", "approve", id});
  CHECK(by_dave.exit_code != 0);
  CHECK(by_dave.err.find("approver") != std::string::npos);
  CHECK(ctl.json_of({"--json", "heals"})[0]["state"] == "staged");
  // carol approves: the heal is promoted and every record names carol.
  auto by_carol = ctl_as("airheal-t-carol", {"heal", "approve", id});
  INFO(by_carol.out << by_carol.err);
  REQUIRE(by_carol.exit_code == 0);
  auto after = ctl.json_of({"--json", "heals"})[0];
  CHECK(after["state"] == "promoted");
  CHECK(after["reason"].get<std::string>().find("carol") != std::string::npos);
  auto journal = *fs::read_file(state / "audit" / "journal.jsonl", 64 << 20);
  CHECK(journal.find(R"("actor":"airhealctl:carol")") != std::string::npos);
  CHECK(journal.find(R"("actor":"airhealctl:erin")") != std::string::npos);
  CHECK(journal.find("mallory") == std::string::npos);
}
