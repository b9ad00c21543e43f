// Named, authenticated people: airhealctl's requests arrive on the daemon's local socket, where
// the kernel names the Unix user (SO_PEERCRED); auth.local_users maps it to an airheal user whose
// roles decide what it may do. Real Unix users (useradd), a real HTTP client (curl over the Unix
// socket) run as each of them (setpriv), the real daemon.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/fs.hpp"
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
