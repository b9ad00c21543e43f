// airhealctl's command groups (appliance/cli/commands/), run as the real binary on a state
// directory: every command that lists things answers --json placed after the subcommand, the
// VEX and exception lifecycles are journalled, and usage errors exit 2 with one line.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;

namespace {

struct FreshCtl {
  TempDir dir;
  std::filesystem::path state = dir / "state";
  ProcessResult operator()(std::vector<std::string> args) const {
    std::vector<std::string> argv = {airhealctl_path().string(), "--state-dir", state.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, std::chrono::seconds(120));
  }
  json json_of(std::vector<std::string> args) const {
    auto r = (*this)(args);
    INFO(describe_run(args, r));
    REQUIRE(r.exit_code == 0);
    auto j = json::parse(r.out, nullptr, false);
    REQUIRE(!j.is_discarded());
    return j;
  }
};

}  // namespace

TEST_CASE("airhealctl refuses a state directory airheald never used, naming it",
          "[integration][cli]") {
  FreshCtl ctl;
  for (auto args : std::vector<std::vector<std::string>>{
           {"findings"}, {"status"}, {"heals"}, {"vex", "list"}, {"audit", "verify"}}) {
    auto r = ctl(args);
    INFO(describe_run(args, r));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::StartsWith("airhealctl: no airheal state in " + ctl.state.string()));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(!std::filesystem::exists(ctl.state / "metadata.db"));
  auto v = ctl({"version"});
  CHECK(v.exit_code == 0);
  CHECK(v.out == "airhealctl " AIRHEAL_VERSION "\n");
}

TEST_CASE("every airhealctl command that lists things takes --json after the subcommand",
          "[integration][cli]") {
  FreshCtl ctl;
  REQUIRE(ctl({"trust", "list"}).exit_code == 0);  // creates the state directory
  struct Case {
    std::vector<std::string> args;
    json::value_t type;
  };
  auto arr = json::value_t::array, obj = json::value_t::object;
  auto cases = GENERATE_COPY(values<Case>({
      {{"status", "--json"}, obj},
      {{"findings", "--json"}, arr},
      {{"findings", "--all", "--json"}, arr},
      {{"snapshots", "--json"}, obj},
      {{"trust", "list", "--json"}, arr},
      {{"user", "list", "--json"}, arr},
      {{"vex", "list", "--json"}, arr},
      {{"exception", "list", "--json"}, arr},
      {{"heals", "--json"}, arr},
      {{"advisories", "stats", "--json"}, arr},
      {{"audit", "verify", "--json"}, obj},
      {{"store", "check", "--json"}, obj},
      {{"registry", "gc", "--json"}, obj},
  }));
  INFO(cases.args.front());
  auto j = ctl.json_of(cases.args);
  CHECK(j.type() == cases.type);
  // The same with --json before the subcommand.
  std::vector<std::string> before = {"--json"};
  before.insert(before.end(), cases.args.begin(), cases.args.end() - 1);
  CHECK(ctl.json_of(before) == j);
}

TEST_CASE(
    "VEX statements and exceptions from the command line are stored, listed, ended and journalled",
    "[integration][cli][audit]") {
  FreshCtl ctl;
  REQUIRE(ctl({"trust", "list"}).exit_code == 0);
  auto added = ctl({"vex", "add", "--vulnerability", "CVE-2024-0001", "--product", "apps/*",
                    "--status", "not_affected", "--justification", "vulnerable_code_not_present"});
  INFO(added.err);
  REQUIRE(added.exit_code == 0);
  CHECK_THAT(added.out,
             Catch::StartsWith("vex statement 1: CVE-2024-0001 not_affected for apps/*"));
  auto bad = ctl({"vex", "add", "--vulnerability", "CVE-2024-0002", "--product", "apps/*",
                  "--status", "affected"});
  CHECK(bad.exit_code == 2);  // OpenVEX wants an action statement for affected
  auto listed = ctl.json_of({"vex", "list", "--json"});
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["vulnerability"] == "CVE-2024-0001");
  CHECK(listed[0]["author"] == "root");  // the authenticated user, never free text
  auto doc = ctl.json_of({"vex", "export"});
  CHECK(doc["author"] == "root");
  CHECK(doc["@context"] == "https://openvex.dev/ns/v0.2.0");
  CHECK(doc["statements"].size() == 1);
  REQUIRE(ctl({"vex", "withdraw", "1"}).exit_code == 0);
  CHECK(ctl.json_of({"vex", "list", "--json"}).empty());
  CHECK(ctl.json_of({"vex", "list", "--all", "--json"}).size() == 1);
  CHECK(ctl({"vex", "withdraw", "99"}).exit_code == 1);

  auto exc = ctl({"exception", "add", "--vulnerability", "CVE-2024-0003", "--product", "apps/web",
                  "--reason", "no exposure", "--expires", "30d"});
  INFO(exc.err);
  REQUIRE(exc.exit_code == 0);
  CHECK_THAT(exc.out, Catch::StartsWith("exception 1: CVE-2024-0003 in apps/web until "));
  CHECK(ctl({"exception", "add", "--vulnerability", "X", "--product", "p", "--reason", "r",
             "--expires", "soon"})
            .exit_code == 2);
  REQUIRE(ctl.json_of({"exception", "list", "--json"}).size() == 1);
  REQUIRE(ctl({"exception", "revoke", "1"}).exit_code == 0);
  CHECK(ctl.json_of({"exception", "list", "--json"}).empty());
  auto all = ctl.json_of({"exception", "export"});
  REQUIRE(all.size() == 1);
  CHECK(all[0]["revoked_by"] == "root");

  // Each change is one journal record naming the operator, and the chain verifies.
  std::vector<std::string> types;
  std::ifstream journal(ctl.state / "audit" / "journal.jsonl");
  for (std::string line; std::getline(journal, line);) {
    auto r = json::parse(line);
    types.push_back(r.value("type", ""));
    if (r.value("type", "").rfind("vex.", 0) == 0 ||
        r.value("type", "").rfind("exception.", 0) == 0)
      CHECK_THAT(r.value("actor", ""), Catch::StartsWith("airhealctl:"));
  }
  CHECK(std::count(types.begin(), types.end(), "vex.added") == 1);
  CHECK(std::count(types.begin(), types.end(), "vex.withdrawn") == 1);
  CHECK(std::count(types.begin(), types.end(), "exception.added") == 1);
  CHECK(std::count(types.begin(), types.end(), "exception.revoked") == 1);
  CHECK(ctl.json_of({"audit", "verify", "--json"})["intact"] == true);
}

TEST_CASE("airhealctl audit key prints and exports the appliance key",
          "[integration][cli][audit]") {
  FreshCtl ctl;
  REQUIRE(ctl({"trust", "list"}).exit_code == 0);
  auto out = ctl.dir / "appliance.asc";
  auto j = ctl.json_of({"audit", "key", "--export", out.string(), "--json"});
  auto fpr = j["fingerprint"].get<std::string>();
  CHECK(fpr.size() == 40);
  std::ifstream f(out);
  std::string armour((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK_THAT(armour, Catch::StartsWith("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
  auto again = ctl({"audit", "key"});
  CHECK(again.out == fpr + "\n");  // the same key on every run
}
