// The audit journal against someone with write access to the state folder (issue 18): the
// daemon checkpoints on its own after every N records; `airhealctl audit verify` cross-checks the
// journal's checkpoint records, the checkpoint files and the anchor in the metadata database, so
// deleting the newest checkpoint and cutting back or rewriting the records after an earlier one,
// or emptying the journal, no longer verifies as intact; a crash between a checkpoint and its
// record is repaired by the next checkpoint. Also: no gpg-agent outlives the commands that signed,
// and `trust add` refuses an expired key without touching the trust keyring.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "audit/checkpoint.hpp"
#include "audit/journal.hpp"
#include "core/fs.hpp"
#include "core/sqlite.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

std::vector<std::string> journal_lines(const fsys::path& state) {
  auto l = audit::Journal(audit::journal_path(state)).lines();
  REQUIRE(l);
  return *l;
}

void write_lines(const fsys::path& state, const std::vector<std::string>& lines, std::size_t keep) {
  std::string text;
  for (std::size_t i = 0; i < keep && i < lines.size(); ++i) text += lines[i] + "\n";
  REQUIRE(fs::write_file_atomic(audit::journal_path(state), text));
}

void delete_checkpoint(const fsys::path& state, std::int64_t seq) {
  auto base = audit::checkpoints_dir(state) / std::to_string(seq);
  REQUIRE(fsys::remove(base.string() + ".json"));
  REQUIRE(fsys::remove(base.string() + ".json.asc"));
}

bool agent_sockets_in(const fsys::path& dir) {
  std::error_code ec;
  for (auto it = fsys::recursive_directory_iterator(dir, ec);
       !ec && it != fsys::recursive_directory_iterator(); it.increment(ec))
    if (it->path().filename().string().rfind("S.gpg-agent", 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE(
    "Audit checkpoints are automatic, cross-checked and anchored: deletions, cut-backs, rewrites "
    "and emptying are named",
    "[integration][audit]") {
  TempDir tmp;
  auto state = tmp / "state";
  {
    Daemon daemon(
        Daemon::Options{state, "audit:\n  checkpoint_interval: 0\n  checkpoint_records: 4\n", {}});
    HttpClient http(daemon.host(), daemon.port());
    // Journalled writes through the API, five at a time: after each batch the daemon signs a
    // checkpoint on its own (checkpoint_records: 4; no interval).
    std::vector<audit::Checkpoint> cps;
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 5; ++i) {
        auto made = http.request(
            "POST", "/api/v1/exceptions", {{"Content-Type", "application/json"}},
            json{{"vulnerability", "CVE-2026-" + std::to_string(1000 + round * 10 + i)},
                 {"product", "apps/*"},
                 {"reason", "reviewed"},
                 {"expires_in_days", 5}}
                .dump());
        INFO(made.body);
        REQUIRE(made.status == 201);
      }
      for (int i = 0; i < 150 && cps.size() < static_cast<std::size_t>(round + 1); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        cps = audit::load_checkpoints(audit::checkpoints_dir(state));
      }
      INFO(daemon.log());
      REQUIRE(cps.size() == static_cast<std::size_t>(round + 1));
    }
    auto audit_api = json::parse(http.get("/api/v1/audit").body);
    CHECK(audit_api["intact"] == true);
    CHECK(audit_api["uncovered_records"].get<int>() < 5);
    CHECK(daemon.stop() == 0);
  }
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    return run(args);
  };
  // No agent is left behind by the daemon's or the command's signing.
  CHECK_FALSE(agent_sockets_in(state));
  auto cp = ctl({"audit", "checkpoint"});
  REQUIRE(cp.exit_code == 0);
  CHECK_FALSE(agent_sockets_in(state));

  auto ok = ctl({"audit", "verify"});
  INFO(ok.out << ok.err);
  REQUIRE(ok.exit_code == 0);
  CHECK(ok.out.find("record(s) after it not yet covered by a signed checkpoint") !=
        std::string::npos);
  auto report = json::parse(ctl({"--json", "audit", "verify"}).out);
  CHECK(report["intact"] == true);
  CHECK(report["uncovered_records"] ==
        0);  // the checkpoint just made covers everything but its own record

  auto baseline = tmp / "baseline";
  fsys::copy(state, baseline, fsys::copy_options::recursive);
  auto restore = [&] {
    fsys::remove_all(state);
    fsys::copy(baseline, state, fsys::copy_options::recursive);
  };
  auto cps = audit::load_checkpoints(audit::checkpoints_dir(state));
  REQUIRE(cps.size() >= 3);
  auto newest = cps.back().seq, earlier = cps[cps.size() - 2].seq;
  auto lines = journal_lines(state);

  struct Attack {
    std::string what;
    std::function<void()> apply;
    std::string named;  // a phrase `audit verify` must print
  };
  std::vector<Attack> attacks = {
      {"the newest checkpoint deleted and the journal cut back to the earlier checkpoint's own "
       "record",
       [&] {
         delete_checkpoint(state, newest);
         write_lines(state, lines, static_cast<std::size_t>(earlier + 1));
       },
       "the metadata database records checkpoint " + std::to_string(newest)},
      {"the newest checkpoint deleted and the journal cut back to the earlier checkpoint",
       [&] {
         delete_checkpoint(state, newest);
         write_lines(state, lines, static_cast<std::size_t>(earlier));
       },
       "checkpoint " + std::to_string(earlier) + "'s own record"},
      {"the newest checkpoint deleted and every record after the earlier one rewritten with a "
       "valid chain",
       [&] {
         delete_checkpoint(state, newest);
         write_lines(state, lines, static_cast<std::size_t>(earlier + 1));
         audit::Journal j(audit::journal_path(state));
         for (std::size_t i = static_cast<std::size_t>(earlier + 1); i < lines.size(); ++i)
           REQUIRE(j.append({{"type", "exception.created"}, {"actor", "mallory"}}));
         REQUIRE(j.verify().empty());
       },
       "the metadata database records checkpoint " + std::to_string(newest)},
      {"only the newest checkpoint's files deleted", [&] { delete_checkpoint(state, newest); },
       "says checkpoint " + std::to_string(newest) + " was signed"},
      {"the journal emptied and its checkpoints deleted",
       [&] {
         write_lines(state, lines, 0);
         fsys::remove_all(audit::checkpoints_dir(state));
       },
       "records were removed"},
      {"the journal deleted, its checkpoints and the database anchor too",
       [&] {
         fsys::remove(audit::journal_path(state));
         fsys::remove_all(audit::checkpoints_dir(state));
         sqlite::Connection db(state / "metadata.db");
         db.exec("DELETE FROM audit_anchor");
       },
       "the journal was emptied or deleted"},
  };
  for (const auto& a : attacks) {
    DYNAMIC_SECTION(a.what) {
      restore();
      a.apply();
      auto r = ctl({"audit", "verify"});
      INFO(r.out << r.err);
      CHECK(r.exit_code == 1);
      CHECK(r.err.find("NOT intact") != std::string::npos);
      CHECK(r.err.find(a.named) != std::string::npos);
    }
  }

  SECTION(
      "a crash between a checkpoint and its record is reported, then repaired by the next "
      "checkpoint") {
    restore();
    auto all = journal_lines(state);
    write_lines(state, all, all.size() - 1);  // the last record is the newest checkpoint's own
    auto r = ctl({"audit", "verify"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("audit checkpoint` restores it") != std::string::npos);
    REQUIRE(ctl({"audit", "checkpoint"}).exit_code == 0);
    auto again = ctl({"audit", "verify"});
    INFO(again.out << again.err);
    CHECK(again.exit_code == 0);
  }

  SECTION("trust add refuses an expired key and leaves the trust keyring as it was") {
    restore();
    auto home = tmp / "publisher";
    fsys::create_directories(home);
    fsys::permissions(home, fsys::perms::owner_all);
    // A key made "on 2020-01-01" for one year (365 days: it expired on 2020-12-31) (gpg's own clock
    // option; nothing else is faked).
    run_ok({"gpg", "--homedir", home.string(), "--batch", "--passphrase", "", "--faked-system-time",
            "20200101T000000", "--quick-gen-key", "Old Publisher <old@example.org>", "ed25519",
            "sign", "1y"});
    auto exported =
        run_ok({"gpg", "--homedir", home.string(), "--armor", "--export", "old@example.org"});
    run({"gpgconf", "--homedir", home.string(), "--kill", "all"});
    std::ofstream(tmp / "old.asc") << exported.out;
    auto before = run_ok({"gpg", "--homedir", (state / "trust" / "gnupg").string(), "--list-keys",
                          "--with-colons"})
                      .out;
    auto r = ctl({"trust", "add", (tmp / "old.asc").string(), "--channel", "debian"});
    INFO(r.out << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("expired on 2020-12-31") != std::string::npos);
    CHECK(r.err.find('\n') == r.err.size() - 1);  // one line
    CHECK(run_ok({"gpg", "--homedir", (state / "trust" / "gnupg").string(), "--list-keys",
                  "--with-colons"})
              .out == before);
    CHECK(ctl({"--json", "trust", "list"}).out.find("old@example.org") == std::string::npos);
    std::size_t probes = 0;
    for (const auto& e : fsys::directory_iterator(state / "trust"))
      if (e.path().filename().string().rfind("probe-", 0) == 0) ++probes;
    CHECK(probes == 0);
  }
  run({"gpgconf", "--homedir", (state / "trust" / "gnupg").string(), "--kill", "all"});
}
