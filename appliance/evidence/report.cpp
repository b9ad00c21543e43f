// report.html: one self-contained page (inline CSS, no scripts, no external resources) that
// reads well on screen and prints on A4. Every figure comes from summary.json in the same bundle.
#include <algorithm>
#include <cmath>
#include <map>

#include "evidence/evidence.hpp"

namespace airheal::evidence {
namespace {
using nlohmann::json;

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump();
}

std::string duration(const json& seconds) {
  if (!seconds.is_number()) return "&ndash;";
  auto s = seconds.get<double>();
  if (s < 120) return std::to_string(static_cast<long>(std::lround(s))) + " s";
  if (s < 7200) return std::to_string(static_cast<long>(std::lround(s / 60))) + " min";
  char buf[32];
  if (s < 172800)
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  else
    std::snprintf(buf, sizeof buf, "%.1f d", s / 86400);
  return buf;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

std::string render_report(const json& s) {
  const std::vector<std::string> severities = {"critical", "high",       "medium",
                                               "low",      "negligible", "unknown"};
  std::map<std::string, long> sev, states;
  long open = 0, suppressed = 0;
  for (const auto& i : s.value("images", json::array())) {
    open += i.value("open", 0L);
    suppressed += i.value("suppressed", 0L);
    for (auto it = i["severity"].begin(); it != i["severity"].end(); ++it)
      sev[it.key()] += it.value().get<long>();
  }
  std::vector<double> tts;
  long rollbacks = 0;
  for (const auto& h : s.value("heals", json::array())) {
    states[h.value("state", "")]++;
    if (h["time_to_stage_seconds"].is_number())
      tts.push_back(h["time_to_stage_seconds"].get<double>());
    if (h.value("state", "") == "rolled_back") ++rollbacks;
  }
  long open_exceptions = 0;
  for (const auto& e : s.value("exceptions", json::array()))
    if (e.value("active", false)) ++open_exceptions;

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>airheal evidence "
       "report " +
       esc(s["period"].value("from", "")) + " to " + esc(s["period"].value("to", "")) +
       "</title>\n";
  h += R"(<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1b1f24;margin:2rem auto;max-width:72rem;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:2px solid #d0d7de;padding-bottom:.2rem}
.meta{color:#57606a}.figures{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.figure{border:1px solid #d0d7de;border-radius:6px;padding:.6rem .9rem;min-width:9rem}
.figure b{font-size:1.6rem;margin-right:.25rem}.id{white-space:nowrap}table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .4rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
.sev-critical{color:#a40e26;font-weight:600}.sev-high{color:#bc4c00;font-weight:600}.state-held,.state-failed,.state-rolled_back{color:#a40e26}
.state-promoted,.state-staged{color:#116329}tr.overdue td{background:#fff1f0}code{font-size:.85em;word-break:break-all}.small{font-size:.85em;color:#57606a}
@media print{body{margin:0;max-width:none;font-size:10pt}.figure{break-inside:avoid}tr{break-inside:avoid}h2{break-after:avoid}}
</style></head><body>
)";
  h += "<h1>airheal evidence report</h1>\n<p class=\"meta\">Period <b id=\"period\">" +
       esc(s["period"].value("from", "")) + " to " + esc(s["period"].value("to", "")) +
       "</b>; images: " +
       esc(s.value("images_filter", "").empty() ? "all" : s.value("images_filter", "")) +
       "; made " + esc(s.value("created", "")) + " and signed by the appliance key <code>" +
       esc(s.value("appliance_key", "")) +
       "</code>. Verify the bundle before relying on this page (README.md).</p>\n"
       "<p class=\"meta\">Images, findings and the timeline show the state at <b "
       "id=\"state-as-of\">" +
       esc(s.value("state_as_of", "")) +
       "</b>, the end of the period (or the export, for a period still running): the digests "
       "the tags served then and the findings known then.</p>\n";
  auto figure = [&](const std::string& id, const std::string& label, const std::string& value) {
    h += "<div class=\"figure\" id=\"" + id + "\"><b>" + value + "</b> " + esc(label) + "</div>";
  };
  h += "<div class=\"figures\">";
  figure("fig-images", "images", std::to_string(s.value("images", json::array()).size()));
  figure("fig-open", "open findings", std::to_string(open));
  figure("fig-critical", "critical", std::to_string(sev["critical"]));
  figure("fig-high", "high", std::to_string(sev["high"]));
  figure("fig-heals", "heals", std::to_string(s.value("heals", json::array()).size()));
  figure("fig-promoted", "promoted", std::to_string(states["promoted"]));
  figure("fig-staged", "staged", std::to_string(states["staged"]));
  figure("fig-held", "held or failed", std::to_string(states["held"] + states["failed"]));
  figure("fig-rollbacks", "rolled back", std::to_string(rollbacks));
  figure("fig-tts-median", "median time to stage",
         tts.empty() ? "&ndash;" : duration(percentile(tts, 0.5)));
  figure("fig-tts-p95", "P95 time to stage",
         tts.empty() ? "&ndash;" : duration(percentile(tts, 0.95)));
  figure("fig-exceptions", "open exceptions", std::to_string(open_exceptions));
  const auto& tth = s.value("time_to_heal", json::object());
  figure("fig-tth-publication", "median time to heal, CVE published to promoted",
         duration(tth.value("from_publication", json::object()).value("median_seconds", json())));
  figure("fig-tth-fix", "median time to heal, fix imported to promoted",
         duration(tth.value("from_fix_import", json::object()).value("median_seconds", json())));
  const auto& cov = s.value("coverage", json::object());
  figure("fig-coverage", "images scanned of those served",
         text(cov.value("scanned", json(0))) + "/" + text(cov.value("served", json(0))));
  h += "</div>\n";

  // How current the advisory data was, per channel, and how much of the fleet was scanned.
  h += "<h2>Advisory data currency and scan coverage</h2>\n<p id=\"coverage\">" +
       text(cov.value("scanned", json(0))) + " of " + text(cov.value("served", json(0))) +
       " images served were scanned (" +
       [&] {
         char b[16];
         std::snprintf(b, sizeof b, "%.0f%%", cov.value("percent", 0.0));
         return std::string(b);
       }() +
       ").</p>\n<table id=\"currency\"><tr><th>Channel</th><th>Newest snapshot</th><th>Made on "
       "the connected side</th><th>Imported</th><th>Age at the end of the period</th><th>Expires"
       "</th><th>Advisories</th></tr>\n";
  if (s.value("advisory_currency", json::array()).empty())
    h += "<tr><td colspan=\"7\">No snapshot had been imported by the end of the period: no "
         "advisory data.</td></tr>\n";
  for (const auto& c : s.value("advisory_currency", json::array()))
    h += "<tr><td>" + esc(text(c["channel"])) + "</td><td>" + text(c["sequence"]) + "</td><td>" +
         esc(text(c["created"])) + "</td><td>" + esc(text(c["imported"])) + "</td><td>" +
         text(c["age_days"]) + " days" + (c.value("expired", false) ? " <b>EXPIRED</b>" : "") +
         "</td><td>" + esc(text(c["expires"])) + "</td><td>" + text(c["advisories"]) +
         "</td></tr>\n";
  h += "</table>\n";

  // Open, fixed and accepted separately, by severity: accepted is what a person accepted with an
  // exception (who, why, until), never what the appliance could not fix.
  const auto& tc = s.value("timeline_counts", json::object());
  h += "<h2>Vulnerabilities by status</h2>\n<table id=\"status-counts\"><tr><th>Status</th>";
  for (const auto& v : severities) h += "<th>" + v + "</th>";
  h += "<th>Total</th></tr>\n";
  for (const auto& [key, label] :
       std::vector<std::pair<std::string, std::string>>{{"open", "open"},
                                                        {"fixed", "fixed"},
                                                        {"accepted", "accepted by a person"},
                                                        {"not_affected", "not affected (VEX)"}}) {
    const auto& b = tc.value(key, json::object());
    long total = 0;
    h += "<tr><td>" + esc(label) + "</td>";
    for (const auto& v : severities) {
      long n = b.value(v, 0L);
      total += n;
      h += "<td class=\"sev-" + v + "\">" + std::to_string(n) + "</td>";
    }
    h += "<td><b>" + std::to_string(total) + "</b></td></tr>\n";
  }
  h += "</table>\n";

  // Per vulnerability and image against the SLA, overdue on top.
  const auto& sla = s.value("sla_days", json::object());
  std::string sla_text;
  for (const auto& v : severities)
    if (sla.contains(v))
      sla_text += (sla_text.empty() ? "" : ", ") + v + " " + text(sla[v]) + " days";
  h += "<h2>Vulnerability timeline</h2>\n<p class=\"small\">Days open count from first detection "
       "to promotion of the fix (or to the end of the period). SLA: " +
       esc(sla_text) + ". <b id=\"overdue\">" + text(tc.value("overdue", json(0))) +
       " overdue</b>.</p>\n<table id=\"timeline\"><tr><th>Image</th><th>Vulnerability</th>"
       "<th>Severity</th><th>Status</th><th>Published</th><th>First detected</th><th>Fix inside "
       "the gap</th>"
       "<th>Staged</th><th>Promoted</th><th>Days open / SLA</th><th>Note</th></tr>\n";
  for (const auto& r : s.value("timeline", json::array())) {
    bool overdue = r.value("overdue", false);
    h += std::string("<tr") + (overdue ? " class=\"overdue\"" : "") + "><td>" +
         esc(text(r["image"])) + "</td><td class=\"id\">" + esc(text(r["vulnerability"])) +
         "<br><span class=\"small\">" + esc(text(r["package"])) + "</span></td><td class=\"sev-" +
         esc(text(r["severity"])) + "\">" + esc(text(r["severity"])) + "</td><td>" +
         esc(text(r["status"])) + (overdue ? " <b>OVERDUE</b>" : "") + "</td><td>" +
         esc(text(r["published"])) + "</td><td>" + esc(text(r["first_detected"])) + "</td><td>" +
         esc(text(r["fix_inside_gap"])) + "</td><td>" + esc(text(r["staged"])) + "</td><td>" +
         esc(text(r["promoted"])) + "</td><td>" + text(r["days_open"]) + " / " +
         text(r["sla_days"]) + "</td><td>" + esc(text(r["note"])) + "</td></tr>\n";
  }
  h += "</table>\n";

  h += "<h2>Images</h2>\n<table id=\"images\"><tr><th>Image</th><th>Open findings</th>";
  for (const auto& v : severities) h += "<th>" + v + "</th>";
  h += "<th>Accepted (VEX, exceptions)</th><th>Digest</th></tr>\n";
  for (const auto& i : s.value("images", json::array())) {
    h += "<tr><td>" + esc(i.value("image", "")) + "</td><td>" + std::to_string(i.value("open", 0)) +
         "</td>";
    for (const auto& v : severities)
      h += "<td class=\"sev-" + v + "\">" + std::to_string(i["severity"].value(v, 0)) + "</td>";
    h += "<td>" + std::to_string(i.value("suppressed", 0)) + "</td><td><code>" +
         esc(i.value("digest", "").substr(0, 19)) + "</code></td></tr>\n";
  }
  h += "</table>\n";

  h += "<h2>Heals</h2>\n";
  if (s.value("heals", json::array()).empty())
    h += "<p>No heal started in this period.</p>\n";
  else {
    h += "<table id=\"heals\"><tr><th>#</th><th>Image</th><th>How</th><th>State</th><th>Findings "
         "before &rarr; after</th>"
         "<th>Time to stage</th><th>Time to promote</th><th>Promoted by</th><th>Signed "
         "attestations</th></tr>\n";
    for (const auto& x : s["heals"]) {
      h += "<tr><td>" + std::to_string(x.value("id", 0)) + "</td><td>" + esc(x.value("image", "")) +
           "</td><td>" + esc(x.value("strategy", "")) + "<br><span class=\"small\">" +
           esc(x.value("mode", "")) + "</span></td><td class=\"state-" + esc(x.value("state", "")) +
           "\">" + esc(x.value("state", "")) + "</td><td>" + text(x["findings_before"]) +
           " &rarr; " + (x["findings_after"].is_null() ? "&ndash;" : text(x["findings_after"])) +
           "</td><td>" + duration(x["time_to_stage_seconds"]) + "</td><td>" +
           duration(x["time_to_promote_seconds"]) + "</td><td>" + esc(text(x["promoted_by"])) +
           "</td><td>" + std::to_string(x.value("attestations", 0)) + "</td></tr>\n";
      std::string gates, digests;
      for (const auto& g : x.value("gates", json::array()))
        gates += "<li class=\"gate-" + esc(text(g["result"])) + "\">" + esc(text(g["gate"])) +
                 ": <b>" + esc(text(g["result"])) + "</b> &mdash; " + esc(text(g["detail"])) +
                 "</li>";
      for (const auto& a : x.value("attestation_digests", json::array())) {
        auto type = text(a["predicate_type"]);  // a URI; shown without its scheme (no links)
        if (auto sep = type.find("://"); sep != std::string::npos) type = type.substr(sep + 3);
        digests += "<li>" + esc(type) + " <code>" + esc(text(a["digest"])) + "</code></li>";
      }
      h += "<tr><td></td><td colspan=\"8\" class=\"small\">" + esc(x.value("explanation", "")) +
           (x.value("reason", "").empty() ? ""
                                          : "<br><b>Reason:</b> " + esc(x.value("reason", ""))) +
           (x.value("first_published", json()).is_string()
                ? "<br><b>Oldest vulnerability removed published</b> " +
                      esc(text(x.value("first_published", json()))) + "; promoted " +
                      duration(x.value("time_from_publication_seconds", json())) + " later"
                : std::string()) +
           (gates.empty() ? ""
                          : "<br><b>Verification gates</b><ul class=\"gates\">" + gates + "</ul>") +
           (digests.empty() ? ""
                            : "<b>Attestations</b> (DSSE, in this bundle under heals/" +
                                  std::to_string(x.value("id", 0)) + "/)<ul>" + digests + "</ul>") +
           "</td></tr>\n";
    }
    h += "</table>\n";
  }

  h += "<h2>Exceptions</h2>\n<table "
       "id=\"exceptions\"><tr><th>#</th><th>Vulnerability</th><th>Image</th><th>Reason</th><th>By</"
       "th>"
       "<th>Expires</th><th>Status</th></tr>\n";
  for (const auto& e : s.value("exceptions", json::array()))
    h += "<tr><td>" + text(e["id"]) + "</td><td class=\"id\">" + esc(text(e["vulnerability"])) +
         "</td><td>" + esc(text(e["product"])) + "</td><td>" + esc(text(e["reason"])) +
         "</td><td>" + esc(text(e["created_by"])) + "</td><td>" + esc(text(e["expires"])) +
         "</td><td>" + (e.value("active", false) ? "open" : "closed") + "</td></tr>\n";
  h += "</table>\n";

  h += "<h2>Approvals, rollbacks and other decisions</h2>\n<table "
       "id=\"actions\"><tr><th>Record</th><th>Time</th><th>What</th>"
       "<th>Who</th><th>Detail</th></tr>\n";
  for (const auto& a : s.value("actions", json::array()))
    h += "<tr><td>" + text(a["seq"]) + "</td><td>" + esc(text(a["time"])) + "</td><td>" +
         esc(text(a["type"])) +
         (a["image"].is_string() ? " " + esc(a["image"].get<std::string>()) : "") + "</td><td>" +
         esc(text(a["actor"])) + "</td><td>" + esc(text(a["detail"])) + "</td></tr>\n";
  h += "</table>\n";

  h += "<h2>Snapshots imported</h2>\n<table "
       "id=\"snapshots\"><tr><th>Channel</th><th>Sequence</th><th>Imported</th><th>Expires</th>"
       "<th>Signed by</th></tr>\n";
  for (const auto& x : s.value("snapshots", json::array())) {
    std::string signers;
    for (const auto& f : x.value("signers", json::array()))
      signers += "<code>" + esc(text(f)) + "</code> ";
    h += "<tr><td>" + esc(text(x["channel"])) + "</td><td>" + text(x["sequence"]) + "</td><td>" +
         esc(text(x["imported"])) + "</td><td>" + esc(text(x["expires"])) + "</td><td>" + signers +
         "</td></tr>\n";
  }
  h += "</table>\n";
  const auto& au = s.value("audit", json::object());
  h += "<h2>Audit journal</h2>\n<p id=\"audit\">" +
       (au.value("records", 0) == 0
            ? std::string("No audit record falls in this period.")
            : "Records " + text(au["first_seq"]) + " to " + text(au["last_seq"]) + " (" +
                  text(au["records"]) + " records) are included, anchored by signed checkpoint" +
                  (au.value("start_checkpoint", 0) ? "s " + text(au["start_checkpoint"]) + " and "
                                                   : " ") +
                  text(au["end_checkpoint"]) + ".") +
       "</p>\n</body></html>\n";
  return h;
}

}  // namespace airheal::evidence
