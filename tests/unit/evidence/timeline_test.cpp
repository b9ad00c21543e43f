// The per-vulnerability timeline an auditor reads: statuses, days open against the SLA, overdue
// first, and CSV a spreadsheet cannot be tricked by. Made-up findings in the shape the scanner
// writes (the field names are the scanner's; the values are chosen to hit each case).
#include "evidence/timeline.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/time.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using nlohmann::json;

namespace {
constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kEnd = 1796000000;  // the end of the period

json finding(const std::string& id, const std::string& severity, std::int64_t first_seen,
             const std::string& fix = "package", json suppressed = nullptr) {
  json f = {{"advisory", id},
            {"severity", severity},
            {"package", "libfoo"},
            {"first_seen", format_time(first_seen)},
            {"fix_available", fix}};
  if (!suppressed.is_null()) f["suppressed"] = suppressed;
  return f;
}
}  // namespace

TEST_CASE("The timeline says open, fixed, accepted and overdue per vulnerability and image",
          "[evidence][timeline]") {
  evidence::TimelineImage web;
  web.image = "apps/web:1";
  // Served now: a high open for 40 days (SLA 30: overdue), a critical with no fix inside the gap
  // for 3 days, a medium an exception accepts.
  web.findings = json::array(
      {finding("CVE-1", "high", kEnd - 40 * kDay),
       finding("CVE-2", "critical", kEnd - 3 * kDay, "none"),
       finding(
           "CVE-3", "medium", kEnd - 100 * kDay, "none",
           {{"by", "exception"}, {"id", 4}, {"detail", "excepted by alice until 2027-01-01"}})});
  // A promoted heal fixed CVE-4 (detected 10 days before the end, promoted 2 days later).
  evidence::TimelineHeal h;
  h.id = 7;
  h.state = "promoted";
  h.targeted = {"CVE-4"};
  h.fix_imported_at = kEnd - 9 * kDay;
  h.staged_at = kEnd - 9 * kDay + 600;
  h.promoted_at = kEnd - 8 * kDay;
  h.original_findings = json::array(
      {finding("CVE-4", "critical", kEnd - 10 * kDay), finding("CVE-1", "high", kEnd - 40 * kDay)});
  h.original_findings[0]["published"] = format_time(kEnd - 12 * kDay);  // the advisory's date
  web.heals = {h};
  auto rows = evidence::timeline_rows({web}, {}, kEnd);
  REQUIRE(rows.size() == 4);
  // Overdue first.
  CHECK(rows[0]["vulnerability"] == "CVE-1");
  CHECK(rows[0]["overdue"] == true);
  CHECK(rows[0]["days_open"] == 40);
  CHECK(rows[0]["sla_days"] == 30);
  std::map<std::string, json> by;
  for (const auto& r : rows) by[r["vulnerability"]] = r;
  CHECK(by["CVE-2"]["status"] == "open");
  CHECK(by["CVE-2"]["overdue"] == false);  // 3 of 15 days
  CHECK(by["CVE-2"]["note"].get<std::string>().find("no fix inside the gap") != std::string::npos);
  CHECK(by["CVE-3"]["status"] == "accepted");
  CHECK(by["CVE-3"]["overdue"] == false);  // accepted by a person: not counted as overdue
  CHECK(by["CVE-4"]["status"] == "fixed");
  CHECK(by["CVE-4"]["days_open"] == 2);
  CHECK(by["CVE-4"]["fix_inside_gap"] == format_time(kEnd - 9 * kDay));
  CHECK(by["CVE-4"]["promoted"] == format_time(kEnd - 8 * kDay));
  // Time to heal: published 12 days before the end, fix imported 9, promoted 8.
  CHECK(by["CVE-4"]["published"] == format_time(kEnd - 12 * kDay));
  CHECK(by["CVE-4"]["hours_published_to_promoted"] == 4 * 24);
  CHECK(by["CVE-4"]["hours_fix_to_promoted"] == 24);
  CHECK(by["CVE-1"]["published"].is_null());  // its advisory gives no date
  CHECK(by["CVE-1"]["hours_published_to_promoted"].is_null());
  auto counts = evidence::timeline_counts(rows);
  CHECK(counts["open"] == json({{"critical", 1}, {"high", 1}}));
  CHECK(counts["fixed"] == json({{"critical", 1}}));
  CHECK(counts["accepted"] == json({{"medium", 1}}));
  CHECK(counts["overdue"] == 1);
}

TEST_CASE("A rolled-back fix is open again and the CSV quotes what a spreadsheet would run",
          "[evidence][timeline]") {
  evidence::TimelineImage img;
  img.image = "apps/api:2";
  img.findings = json::array({finding("=HYPERLINK(\"x\")", "low", kEnd - kDay)});
  evidence::TimelineHeal h;
  h.state = "rolled_back";
  h.targeted = {"=HYPERLINK(\"x\")"};
  h.promoted_at = kEnd - 1000;
  h.original_findings = img.findings;
  img.heals = {h};
  auto rows = evidence::timeline_rows({img}, {}, kEnd);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["status"] == "open");
  CHECK(rows[0]["promoted"].is_null());
  auto csv = evidence::timeline_csv(rows);
  CHECK(csv.rfind("image,vulnerability,package,severity,status,", 0) == 0);
  CHECK(csv.find("\"'=HYPERLINK(\"\"x\"\")\"") != std::string::npos);
  CHECK(csv.find("\r\n") != std::string::npos);
  evidence::SlaDays none;
  none.days.clear();
  CHECK(evidence::timeline_rows({img}, none, kEnd)[0]["sla_days"].is_null());
}

TEST_CASE("The timeline as an OSCAL POA&M passes NIST's own OSCAL 1.0.6 JSON schema",
          "[evidence][timeline][oscal]") {
  evidence::TimelineImage web;
  web.image = "apps/web:1";
  web.findings = json::array(
      {finding("CVE-1", "high", kEnd - 40 * kDay),
       finding(
           "CVE-3", "medium", kEnd - 100 * kDay, "none",
           {{"by", "exception"}, {"id", 4}, {"detail", "excepted by alice until 2027-01-01"}})});
  auto rows = evidence::timeline_rows({web}, {}, kEnd);
  auto poam = evidence::timeline_poam(rows, "appliance ABC", "airheal POA&M", kEnd);
  const auto& p = poam["plan-of-action-and-milestones"];
  REQUIRE(p["poam-items"].size() == 2);
  REQUIRE(p["risks"].size() == 2);
  std::map<std::string, json> risk;
  for (const auto& r : p["risks"]) risk[r["title"].get<std::string>().substr(0, 5)] = r;
  CHECK(risk["CVE-1"]["status"] == "open");
  CHECK(risk["CVE-1"]["deadline"] == format_time(kEnd - 40 * kDay + 30 * kDay));
  CHECK(risk["CVE-3"]["status"] == "deviation-approved");
  // The same rows name the same items in the next export.
  CHECK(
      evidence::timeline_poam(rows, "appliance ABC", "airheal POA&M",
                              kEnd + 5)["plan-of-action-and-milestones"]["poam-items"][0]["uuid"] ==
      p["poam-items"][0]["uuid"]);
  test::TempDir t;
  auto validate = [&](const json& doc) {
    std::ofstream(t / "poam.json") << doc.dump(2);
    return test::run({"/usr/bin/python3",
                      (test::source_dir() / "tests/support/validate_json_schema.py").string(),
                      (test::source_dir() / "tests/data/oscal/oscal_poam_schema.json").string(),
                      (t / "poam.json").string()});
  };
  auto ok = validate(poam);
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  // An empty period is still a valid document; a broken one is refused by the schema.
  CHECK(validate(evidence::timeline_poam(json::array(), "x", "t", kEnd)).exit_code == 0);
  auto broken = poam;
  broken["plan-of-action-and-milestones"]["risks"][0]["status"] = 7;
  CHECK(validate(broken).exit_code != 0);
}
