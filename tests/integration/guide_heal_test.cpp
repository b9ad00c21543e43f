// The operator guide's approval and rollback commands (its `sh-heal` blocks), run unchanged with
// bash against a real staged heal: a FROM scratch image whose vendored Go module has a fixed
// advisory and a gold artefact inside the gap. (Its `sh` blocks run in a clean root with the
// packages installed: tests/packaging/packages_test.cpp.)
#include <catch2/catch.hpp>
#include <thread>

#include "core/fs.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
namespace fsys = std::filesystem;

TEST_CASE("The operator guide's approval and rollback commands work on a real heal",
          "[integration][guide][slow]") {
  auto guide = fsys::path(AIRHEAL_SOURCE_DIR) / "docs/airgap/operator-guide.md";
  auto blocks = markdown_blocks(guide, "sh-heal");
  REQUIRE(blocks.size() == 1);

  TempDir tmp;
  // The operator at the console is alice: the test's Unix user (root) is mapped to the airheal
  // user alice, who may approve and roll back.
  fsys::create_directories(tmp / "state");
  run_ok({airhealctl_path().string(), "--state-dir", (tmp / "state").string(), "user", "add",
          "alice", "--no-password", "--role", "approver", "--role", "operator"});
  Daemon daemon(Daemon::Options{
      tmp / "state", "scan:\n  poll_interval: 1s\nauth:\n  local_users: {root: alice}\n", {}});
  auto state = daemon.state_dir();
  Signer signer(tmp / "gpg", "Go mirror");
  import_greeter_gold(tmp.path(), daemon.address(), state, {"apps/greeter:1"}, signer, false);

  std::string id;
  for (int i = 0; i < 300 && id.empty(); ++i) {
    for (const auto& h : nlohmann::json::parse(
             run_ok({airhealctl_path().string(), "--state-dir", state.string(), "--json", "heals"})
                 .out))
      if (h["state"] == "staged") id = std::to_string(h["id"].get<std::int64_t>());
    if (id.empty()) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(daemon.log().substr(0, 20000));
  REQUIRE_FALSE(id.empty());

  // As an operator's shell on the appliance: airhealctl on PATH, the configuration it reads.
  auto config = tmp / "airheal.yaml";
  REQUIRE(fs::write_file_atomic(
      config, "state_dir: " + state.string() + "\nauth:\n  local_users: {root: alice}\n"));
  auto script = tmp / "guide-heal.sh";
  REQUIRE(fs::write_file_atomic(script, blocks[0].text));
  auto r =
      run({"env", "PATH=" + airhealctl_path().parent_path().string() + ":" + std::getenv("PATH"),
           "AIRHEAL_CONFIG=" + config.string(), "HEAL_ID=" + id, "IMAGE=apps/greeter:1",
           "USER=mallory", "bash", "-euo", "pipefail", script.string()},
          std::chrono::seconds(600));
  INFO("operator-guide.md line " << blocks[0].line << ":\n"
                                 << blocks[0].text << describe_run({"bash", script.string()}, r));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("promoted") != std::string::npos);

  // The heal was approved, then rolled back: the tag serves the original image again.
  auto heals = nlohmann::json::parse(
      run_ok({airhealctl_path().string(), "--state-dir", state.string(), "--json", "heals"}).out);
  REQUIRE(heals.size() == 1);
  CHECK(heals[0]["state"] == "rolled_back");
  auto journal =
      run_ok({airhealctl_path().string(), "--state-dir", state.string(), "--json", "journal"}).out;
  CHECK(journal.find(R"("actor":"airhealctl:alice")") != std::string::npos);
  CHECK(journal.find("mallory") == std::string::npos);  // $USER names nobody
  CHECK(heals[0]["reason"].get<std::string>().find("alice") != std::string::npos);
  for (const char* home : {"trust/gnupg", "keys/gnupg"})
    run({"gpgconf", "--homedir", (state / home).string(), "--kill", "all"});
}
