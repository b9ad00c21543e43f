// The tamper-evident audit journal and signed evidence bundles, end to end: a daemon heals a
// FROM scratch image with a gold artefact, a person approves it, an exception is granted; then
// `airhealctl audit verify`, `airhealctl evidence export`, the auditor's `airheal-evidence verify`
// and the bundle README's plain gpg + sha256sum steps; then every kind of tampering.
#include "evidence/evidence.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "audit/checkpoint.hpp"
#include "core/fs.hpp"
#include "format/verify.hpp"
#include "heal/attest.hpp"
#include "snapshot/format.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

// The bundle's files, for building tampered copies.
std::map<std::string, std::string> files_of(const fsys::path& bundle) {
  std::vector<std::string> problems;
  bool unreadable = false;
  auto f = evidence::read_bundle(bundle, problems, unreadable);
  REQUIRE(problems.empty());
  return f;
}

// A tar holding exactly FILES (no manifest recomputed): what an attacker editing the tar makes.
void write_raw(const fsys::path& out, const std::map<std::string, std::string>& files) {
  std::vector<RawEntry> entries;
  for (const auto& [p, b] : files) entries.push_back(RawEntry{p, b});
  write_tar(out, entries);
}

}  // namespace

TEST_CASE("The audit journal verifies, exports as a signed bundle, and every tampering is detected",
          "[integration][audit][evidence]") {
  TempDir tmp;
  Daemon daemon(Daemon::Options{tmp / "state", "scan:\n  poll_interval: 1s\n", {}});
  auto state = daemon.state_dir();
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    return run(args);
  };
  auto ctl_ok = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    return run_ok(args);
  };
  // A FROM scratch image whose binary has a known vulnerability; a snapshot with the advisory and
  // a gold artefact that fixes it; a second advisory with no fix.
  Signer signer(tmp / "gpg", "Go mirror");
  import_greeter_gold(tmp.path(), daemon.address(), state, {"apps/greeter:1"}, signer, true);
  json heal;
  for (int i = 0; i < 300; ++i) {
    auto hs = json::parse(ctl_ok({"--json", "heals"}).out);
    if (!hs.empty() &&
        (hs[0]["state"] == "staged" || hs[0]["state"] == "held" || hs[0]["state"] == "failed")) {
      heal = hs[0];
      break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(heal.dump(2) << daemon.log().substr(0, 20000));
  REQUIRE(heal.is_object());
  REQUIRE(heal["state"] == "staged");
  ctl_ok({"heal", "approve", std::to_string(heal["id"].get<int>())});
  ctl_ok({"exception", "add", "--vulnerability", "GO-2026-9002", "--product", "apps/*", "--reason",
          "not reachable in our use", "--expires", "30d"});

  // The live journal: intact, and signed checkpoints made on demand.
  auto cp = ctl_ok({"audit", "checkpoint"});
  CHECK(cp.out.find("checkpoint ") != std::string::npos);
  ctl_ok({"exception", "add", "--vulnerability", "GO-2026-9002", "--product", "apps/other",
          "--reason", "later record", "--expires", "10d"});
  auto verified = ctl_ok({"audit", "verify"});
  CHECK(verified.out.find("audit journal intact") != std::string::npos);
  CHECK(verified.out.find("1 signed checkpoint(s) valid") != std::string::npos);

  // The compliance officer's export.
  auto today = snapshot::format_time(std::time(nullptr)).substr(0, 10);
  auto bundle = tmp / "evidence.tar";
  auto exported =
      ctl_ok({"evidence", "export", "--from", today, "--to", today, "--out", bundle.string()});
  INFO(exported.out << exported.err);
  auto key = heal::ApplianceKey::open(state);
  REQUIRE(key);
  auto fpr = key->fingerprint();
  CHECK(exported.out.find("signed by " + fpr) != std::string::npos);
  auto files = files_of(bundle);
  for (auto p :
       {"bundle.json", "summary.json", "report.html", "README.md", "MANIFEST.sha256",
        "MANIFEST.sha256.asc", "keys/appliance.asc", "audit/journal.jsonl", "exceptions.json",
        "vex/openvex.json", "snapshots/index.json", "snapshots/go-1.manifest.json",
        "images/apps/greeter/1/findings.json", "images/apps/greeter/1/sbom.cdx.json",
        "timeline.json", "timeline.csv", "poam.oscal.json"})
    CHECK(files.count(p) == 1);
  // The timeline per vulnerability and image: the fixed one with its dates, the excepted one
  // accepted by a named person; the CSV has the same rows.
  auto timeline = json::parse(files["timeline.json"]);
  INFO(timeline.dump(2));
  std::map<std::string, json> rows;
  for (const auto& r : timeline)
    if (r["image"] == "apps/greeter:1") rows[r["vulnerability"].get<std::string>()] = r;
  REQUIRE(rows.count("GO-2026-9001"));
  CHECK(rows["GO-2026-9001"]["status"] == "fixed");
  CHECK(rows["GO-2026-9001"]["promoted"].is_string());
  CHECK(rows["GO-2026-9001"]["fix_inside_gap"].is_string());
  CHECK(rows["GO-2026-9001"]["sla_days"].is_number());
  REQUIRE(rows.count("GO-2026-9002"));
  CHECK(rows["GO-2026-9002"]["status"] == "accepted");
  CHECK(rows["GO-2026-9002"]["note"].get<std::string>().find("root") != std::string::npos);
  CHECK(std::count(files["timeline.csv"].begin(), files["timeline.csv"].end(), '\n') ==
        static_cast<long>(timeline.size()) + 1);
  // The OSCAL POA&M passes NIST's OSCAL schema.
  std::ofstream(tmp / "poam.json") << files["poam.oscal.json"];
  auto oscal =
      run({"/usr/bin/python3", (source_dir() / "tests/support/validate_json_schema.py").string(),
           (source_dir() / "tests/data/oscal/oscal_poam_schema.json").string(),
           (tmp / "poam.json").string()});
  INFO(oscal.out << oscal.err);
  CHECK(oscal.exit_code == 0);
  CHECK(
      json::parse(files["poam.oscal.json"])["plan-of-action-and-milestones"]["poam-items"].size() ==
      timeline.size());
  auto hid = std::to_string(heal["id"].get<int>());
  CHECK(files.count("heals/" + hid + "/heal.json"));
  CHECK(files.count("heals/" + hid + "/findings-before.json"));
  CHECK(files.count("heals/" + hid + "/findings-after.json"));
  std::size_t envelopes = 0;
  for (const auto& [p, b] : files)
    if (p.rfind("heals/" + hid + "/attestations/", 0) == 0 &&
        json::parse(b).contains("payloadType"))
      ++envelopes;
  CHECK(envelopes == 3);
  auto summary = json::parse(files["summary.json"]);
  REQUIRE(summary["heals"].size() == 1);
  CHECK(summary["heals"][0]["state"] == "promoted");
  CHECK(summary["heals"][0]["promoted_by"].get<std::string>().rfind("airhealctl:", 0) == 0);
  CHECK(summary["heals"][0]["findings_before"] == 2);
  CHECK(summary["snapshots"][0]["signers"][0] == signer.fingerprint());
  // The audit questions: state as of the period's end, scan coverage, advisory currency per
  // channel, each heal's gates and attestation digests, and time to heal from publication.
  CHECK(summary["state_as_of"].is_string());
  CHECK(summary["coverage"]["served"] == 1);
  CHECK(summary["coverage"]["scanned"] == 1);
  REQUIRE(summary["advisory_currency"].size() == 1);
  CHECK(summary["advisory_currency"][0]["channel"] == "go");
  CHECK(summary["advisory_currency"][0]["sequence"] == 1);
  CHECK(summary["advisory_currency"][0]["age_days"] == 0);
  CHECK(summary["advisory_currency"][0]["expired"] == false);
  const auto& gates = summary["heals"][0]["gates"];
  REQUIRE(gates.size() == 5);
  for (const auto& g : gates) CHECK(g["result"] != "failed");
  CHECK(gates[2]["gate"] == "targeted vulnerabilities gone");
  CHECK(gates[2]["result"] == "passed");
  REQUIRE(summary["heals"][0]["attestation_digests"].size() == 3);
  for (const auto& a : summary["heals"][0]["attestation_digests"])
    CHECK(a["digest"].get<std::string>().rfind("sha256:", 0) == 0);
  // GO-2026-9001's record says it was published on 2026-11-01 (the fixture's OSV date).
  CHECK(summary["heals"][0]["first_published"] == "2026-11-01T00:00:00Z");
  CHECK(summary["time_to_heal"]["from_publication"]["count"] == 1);
  CHECK(summary["time_to_heal"]["from_fix_import"]["count"] == 1);
  CHECK(rows["GO-2026-9001"]["published"] == "2026-11-01T00:00:00Z");
  CHECK(rows["GO-2026-9001"]["hours_published_to_promoted"].is_number());
  auto& report = files["report.html"];
  CHECK(report.find("Advisory data currency and scan coverage") != std::string::npos);
  CHECK(report.find("Verification gates") != std::string::npos);
  CHECK(report.find("id=\"state-as-of\"") != std::string::npos);
  CHECK(report.find("http://") == std::string::npos);
  CHECK(report.find("https://") == std::string::npos);
  CHECK(report.find("<script") == std::string::npos);
  CHECK(report.find("apps/greeter:1") != std::string::npos);
  CHECK(report.find("GO-2026-9002") != std::string::npos);
  CHECK(report.find("<td>root</td>") != std::string::npos);  // the exceptions' granter, as named
  CHECK(report.find("Vulnerability timeline") != std::string::npos);
  CHECK(report.find("accepted by a person") != std::string::npos);

  // The auditor: the verifier with the fingerprint from the operator, and by hand per the README.
  auto ok = run({airheal_evidence_path().string(), "verify", bundle.string(), "--key", fpr});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("VERIFIED") != std::string::npos);
  auto wrong = run(
      {airheal_evidence_path().string(), "verify", bundle.string(), "--key", signer.fingerprint()});
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.out.find("not the appliance key you expect") != std::string::npos);
  // No key named: not verified, and the signer's fingerprint is printed for the auditor to check.
  auto unnamed = run({airheal_evidence_path().string(), "verify", bundle.string()});
  CHECK(unnamed.exit_code == 1);
  CHECK_THAT(unnamed.out,
             Catch::Contains("signed by " + fpr) && Catch::Contains("no key to trust was given"));
  // A keyring the auditor trusts works like --key.
  {
    auto appliance_key = tmp / "appliance-key.asc";
    run_ok({"sh", "-c",
            "tar -xOf '" + bundle.string() + "' keys/appliance.asc > '" + appliance_key.string() +
                "'"});
    CHECK(run({airheal_evidence_path().string(), "verify", bundle.string(), "--keyring",
               appliance_key.string()})
              .exit_code == 0);
    auto other = signer.write_public_key(tmp.path());
    CHECK(run({airheal_evidence_path().string(), "verify", bundle.string(), "--keyring",
               other.string()})
              .exit_code == 1);
  }
  // One bundle, one form: a gzipped copy and a copy with bytes appended are refused.
  run_ok({"sh", "-c",
          "gzip -c '" + bundle.string() + "' > '" + (tmp / "bundle.tar.gz").string() + "'"});
  CHECK(run({airheal_evidence_path().string(), "verify", (tmp / "bundle.tar.gz").string(), "--key",
             fpr})
            .exit_code != 0);
  fsys::copy_file(bundle, tmp / "appended.tar");
  std::ofstream(tmp / "appended.tar", std::ios::app) << "trailing garbage";
  auto appended = run(
      {airheal_evidence_path().string(), "verify", (tmp / "appended.tar").string(), "--key", fpr});
  CHECK(appended.exit_code == 1);
  CHECK_THAT(appended.out, Catch::Contains("after the end of the tar archive"));
  auto unpacked = tmp / "unpacked";
  fsys::create_directories(unpacked);
  run_ok({"tar", "-xf", bundle.string(), "-C", unpacked.string()});
  auto home = tmp / "auditor-gpg";
  fsys::create_directories(home);
  fsys::permissions(home, fsys::perms::owner_all);
  run_ok({"gpg", "--batch", "--homedir", home.string(), "--import",
          (unpacked / "keys/appliance.asc").string()});
  auto gv = run_ok({"gpg", "--batch", "--homedir", home.string(), "--status-fd", "1", "--verify",
                    (unpacked / "MANIFEST.sha256.asc").string(),
                    (unpacked / "MANIFEST.sha256").string()});
  CHECK(gv.out.find("[GNUPG:] VALIDSIG " + fpr) != std::string::npos);
  run_ok({"env", "--chdir=" + unpacked.string(), "sha256sum", "--strict", "--quiet", "-c",
          "MANIFEST.sha256"});
  for (const auto& e : fsys::directory_iterator(unpacked / "audit/checkpoints"))
    if (e.path().extension() == ".json")
      run_ok({"gpg", "--batch", "--homedir", home.string(), "--verify", e.path().string() + ".asc",
              e.path().string()});
  run({"gpgconf", "--homedir", home.string(), "--kill", "all"});

  // The report renders in headless Chromium with nothing but the file: printed to PDF its text
  // holds the figures in order, and the screenshot, read back by OCR, shows the page.
  if (!have_program("chromium") || !have_program("pdftotext") || !have_program("tesseract"))
    FAIL("chromium, poppler-utils and tesseract-ocr are needed (scripts/setup.sh installs them)");
  auto chromium = [&](const std::string& flag) {
    return run_ok(
        {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--user-data-dir=" + (tmp / "chromium").string(), "--window-size=1280,2600",
         "--no-pdf-header-footer", flag, "file://" + (unpacked / "report.html").string()},
        std::chrono::seconds(120));
  };
  chromium("--print-to-pdf=" + (tmp / "report.pdf").string());
  chromium("--screenshot=" + (tmp / "report.png").string());
  auto pdf_text = run_ok({"pdftotext", (tmp / "report.pdf").string(), "-"}).out;
  std::set<std::string> pdf_lines;
  {
    std::string line;
    for (char c : pdf_text + "\n") {
      if (c == '\n' || c == '\f') {
        while (!line.empty() && line.back() == ' ') line.pop_back();
        if (!line.empty()) pdf_lines.insert(line);
        line.clear();
      } else if (!(c == ' ' && (line.empty() || line.back() == ' '))) {
        line += c;
      }
    }
  }
  INFO(pdf_text);
  // The figures, each as the page shows it: the number and what it counts.
  for (auto figure :
       {"1 images", "0 open findings", "0 critical", "0 high", "1 heals", "1 promoted", "0 staged",
        "0 held or failed", "0 rolled back", "2 open exceptions"})  // granted by people only
    CHECK(pdf_lines.count(figure));
  CHECK(pdf_text.find("apps/greeter:1") != std::string::npos);
  CHECK(pdf_text.find("GO-2026-9002") != std::string::npos);
  if (const char* keep = std::getenv("AIRHEAL_KEEP_REPORT"))  // for looking at the page by hand
    fsys::copy_file(tmp / "report.png", keep, fsys::copy_options::overwrite_existing);
  auto png = *fs::read_file(tmp / "report.png", 64 << 20);
  REQUIRE(png.size() > 24);
  CHECK(png.compare(1, 3, "PNG") == 0);
  auto ocr = run_ok({"tesseract", (tmp / "report.png").string(), "-"}).out;
  INFO(ocr);
  for (auto word :
       {"evidence report", "open findings", "promoted", "greeter", "Exceptions", "root"})
    CHECK(ocr.find(word) != std::string::npos);

  // Tampering with the tar: every file modified, every file removed, one added, one duplicated.
  auto verdict = [&](const std::map<std::string, std::string>& f) {
    auto t = tmp / "tampered.tar";
    write_raw(t, f);
    return evidence::verify_bundle(t, {fpr});
  };
  REQUIRE(verdict(files).ok);
  for (const auto& [path, bytes] : files) {
    INFO("modified " << path);
    auto f = files;
    if (path == "MANIFEST.sha256.asc") {
      // Whitespace after an armour block is not part of the signature: alter the signature itself.
      auto body = bytes.find("\n\n") + 10;
      f[path][body] = f[path][body] == 'A' ? 'B' : 'A';
    } else {
      f[path] = bytes + " ";
    }
    auto v = verdict(f);
    CHECK_FALSE(v.ok);
    if (path != "MANIFEST.sha256.asc" && path != "MANIFEST.sha256" &&
        path != "keys/appliance.asc") {
      bool named = false;
      for (const auto& p : v.problems)
        named = named || p.find(path + " was modified") != std::string::npos;
      CHECK(named);
    }
  }
  for (const auto& [path, bytes] : files) {
    INFO("removed " << path);
    auto f = files;
    f.erase(path);
    CHECK_FALSE(verdict(f).ok);
  }
  {
    auto f = files;
    f["extra/notes.txt"] = "added later";
    auto v = verdict(f);
    CHECK_FALSE(v.ok);
    CHECK(
        v.problems.back().find("extra/notes.txt is in the bundle but not in the signed manifest") !=
        std::string::npos);
  }
  // Re-signed by someone else's key, with their key put in the bundle: refused for the expected
  // key.
  {
    auto f = files;
    f.erase("MANIFEST.sha256");
    f.erase("MANIFEST.sha256.asc");
    f["keys/appliance.asc"] = signer.public_key();
    auto t = tmp / "forged.tar";
    REQUIRE(evidence::write_bundle(
        t, f, [&](const std::string& d) -> Result<std::string> { return signer.sign(d); }, 0));
    auto v = evidence::verify_bundle(t, {fpr});
    CHECK_FALSE(v.ok);
    CHECK(run({airheal_evidence_path().string(), "verify", t.string(), "--key", fpr}).exit_code ==
          1);
  }
  // Audit records edited, deleted, reordered or inserted, even with the manifest re-signed by the
  // appliance key itself: the chain and the signed checkpoints still catch it.
  auto lines = std::vector<std::string>();
  {
    std::string j = files["audit/journal.jsonl"];
    std::size_t pos = 0;
    while (pos < j.size()) {
      auto e = j.find('\n', pos);
      lines.push_back(j.substr(pos, e - pos));
      pos = e + 1;
    }
  }
  REQUIRE(lines.size() >= 4);
  auto resigned = [&](const std::vector<std::string>& ls) {
    auto f = files;
    f.erase("MANIFEST.sha256");
    f.erase("MANIFEST.sha256.asc");
    std::string j;
    for (const auto& l : ls) j += l + "\n";
    f["audit/journal.jsonl"] = j;
    auto t = tmp / "resigned.tar";
    REQUIRE(evidence::write_bundle(
        t, f, [&](const std::string& d) { return key->sign(d); }, 0));
    return evidence::verify_bundle(t, {fpr});
  };
  REQUIRE(resigned(lines).ok);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO("record index " << i);
    auto edited = lines;
    auto at = edited[i].find("\"time\":");
    REQUIRE(at != std::string::npos);
    edited[i].insert(at + 7, "1");
    CHECK_FALSE(resigned(edited).ok);
    auto deleted = lines;
    deleted.erase(deleted.begin() + static_cast<long>(i));
    CHECK_FALSE(resigned(deleted).ok);
    auto inserted = lines;
    inserted.insert(inserted.begin() + static_cast<long>(i), lines[i]);
    CHECK_FALSE(resigned(inserted).ok);
    if (i + 1 < lines.size()) {
      auto swapped = lines;
      std::swap(swapped[i], swapped[i + 1]);
      CHECK_FALSE(resigned(swapped).ok);
    }
  }
  // Not a bundle at all: exit 2.
  std::ofstream(tmp / "junk.tar") << "junk";
  CHECK(run({airheal_evidence_path().string(), "verify", (tmp / "junk.tar").string()}).exit_code ==
        2);

  // A period that ended before any of this: the state then had no image, no advisory data and
  // no finding, whatever the appliance serves now.
  {
    auto past = tmp / "past.tar";
    ctl_ok({"evidence", "export", "--from", "2020-01-01", "--to", "2020-01-31", "--out",
            past.string()});
    auto pf = files_of(past);
    auto ps = json::parse(pf["summary.json"]);
    CHECK(ps["state_as_of"] == "2020-01-31T23:59:59Z");
    CHECK(ps["images"].empty());
    CHECK(ps["coverage"]["served"] == 0);
    CHECK(ps["advisory_currency"].empty());
    CHECK(json::parse(pf["timeline.json"]).empty());
  }

  // The live journal edited on the appliance: `audit verify` names the first broken record.
  auto jp = audit::journal_path(state);
  auto text = *fs::read_file(jp, 64 << 20);
  auto second = text.find('\n') + 1;
  auto broken =
      text.substr(0, second) + text.substr(text.find('\n', second) + 1);  // record 2 deleted
  REQUIRE(fs::write_file_atomic(jp, broken));
  auto bad = ctl({"audit", "verify"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("record 2") != std::string::npos);
  // An export from a broken journal is refused.
  CHECK(ctl({"evidence", "export", "--from", today, "--to", today, "--out",
             (tmp / "e2.tar").string()})
            .exit_code != 0);
  CHECK_FALSE(fsys::exists(tmp / "e2.tar"));
  daemon.stop();
  run({"gpgconf", "--homedir", (state / "trust" / "gnupg").string(), "--kill", "all"});
  run({"gpgconf", "--homedir", (state / "keys" / "gnupg").string(), "--kill", "all"});
}

TEST_CASE(
    "airhealctl import-folder imports settled snapshots from the drop folder and quarantines "
    "refused ones",
    "[integration][import]") {
  TempDir tmp;
  auto state = tmp / "state";
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    return run(args);
  };
  Signer signer(tmp / "gpg", "Go mirror");
  fsys::create_directories(tmp / "adv");
  std::ofstream(tmp / "adv" / "GO-2026-9001.json") << greeter_osv("GO-2026-9001", "1.2.4").dump();
  REQUIRE(ctl({"trust", "add", signer.write_public_key(tmp.path()).string(), "--channel", "go"})
              .exit_code == 0);
  auto drop = state / "import";
  fsys::create_directories(drop);
  for (int seq : {1, 2}) {
    auto snap = tmp / ("go-" + std::to_string(seq) + ".snapshot");
    run_ok({airheal_snapshot_path().string(), "create", "--channel", "go", "--sequence",
            std::to_string(seq), "--expires", "30d", "--out", snap.string(), "--advisories",
            (tmp / "adv").string()});
    run_ok({airheal_snapshot_path().string(), "sign", snap.string(), "--key", signer.fingerprint(),
            "--gpg-home", signer.home().string()});
    fsys::copy_file(snap, drop / snap.filename());
  }
  // The second one is damaged on the way: refused and quarantined with its reason.
  {
    std::fstream f(drop / "go-2.snapshot", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fsys::file_size(drop / "go-2.snapshot") / 2));
    f.put('X');
  }
  auto r = ctl({"import-folder"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("2 snapshot file(s) handled") != std::string::npos);
  CHECK(ctl({"snapshots"}).out.find("go") != std::string::npos);
  CHECK_FALSE(fsys::exists(drop / "go-1.snapshot"));
  CHECK(fsys::exists(drop / "imported" / "go-1.snapshot"));
  CHECK(fsys::exists(state / "quarantine" / "go-2.snapshot"));
  CHECK(fsys::exists(state / "quarantine" / "go-2.snapshot.reason.txt"));
  auto journal = ctl({"--json", "journal"}).out;
  CHECK(journal.find("snapshot.accepted") != std::string::npos);
  CHECK(journal.find("snapshot.refused") != std::string::npos);
  run({"gpgconf", "--homedir", (state / "trust" / "gnupg").string(), "--kill", "all"});
}
