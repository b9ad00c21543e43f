#include "evidence/timeline.hpp"

#include <algorithm>
#include <cmath>

#include "core/digest.hpp"
#include "core/time.hpp"

namespace airheal::evidence {
using nlohmann::json;

std::optional<int> SlaDays::for_severity(const std::string& severity) const {
  auto it = days.find(severity);
  if (it == days.end()) return std::nullopt;
  return it->second;
}

namespace {

int severity_rank(const std::string& s) {
  static const char* order[] = {"critical", "high", "medium", "low", "negligible", "unknown"};
  for (int i = 0; i < 6; ++i)
    if (s == order[i]) return i;
  return 6;
}

std::optional<std::int64_t> field_time(const json& f, const char* key) {
  if (!f.contains(key) || !f[key].is_string()) return std::nullopt;
  return parse_time(f[key].get<std::string>());
}

json time_or_null(const std::optional<std::int64_t>& t) {
  return t ? json(format_time(*t)) : json();
}

}  // namespace

json timeline_rows(const std::vector<TimelineImage>& images, const SlaDays& sla,
                   std::int64_t period_end) {
  std::vector<json> rows;
  for (const auto& img : images) {
    struct Row {
      std::string severity = "unknown", package;
      std::optional<std::int64_t> first, fix_inside, staged, promoted, closed, published;
      std::string status = "fixed", accepted_by, accepted_until, note;
    };
    std::map<std::string, Row> by_id;
    // What the image had before each heal: detection times and the fixed ones.
    for (const auto& h : img.heals)
      for (const auto& f : h.original_findings) {
        auto id = f.value("advisory", "");
        if (id.empty()) continue;
        auto& r = by_id[id];
        if (f.value("severity", "") != "" && r.severity == "unknown")
          r.severity = f.value("severity", "unknown");
        if (r.package.empty()) r.package = f.value("package", "");
        auto seen = field_time(f, "first_seen");
        if (seen && (!r.first || *seen < *r.first)) r.first = seen;
        if (!r.published) r.published = field_time(f, "published");
        if (std::find(h.targeted.begin(), h.targeted.end(), id) != h.targeted.end()) {
          if (h.fix_imported_at && (!r.fix_inside || *h.fix_imported_at < *r.fix_inside))
            r.fix_inside = h.fix_imported_at;
          if (h.staged_at && (!r.staged || *h.staged_at < *r.staged)) r.staged = h.staged_at;
          if (h.state == "promoted" && h.promoted_at) r.promoted = h.promoted_at;
        }
      }
    // What it serves now decides the status.
    for (const auto& f : img.findings) {
      auto id = f.value("advisory", "");
      if (id.empty()) continue;
      auto& r = by_id[id];
      r.severity = f.value("severity", r.severity);
      if (r.package.empty()) r.package = f.value("package", "");
      auto seen = field_time(f, "first_seen");
      if (seen && (!r.first || *seen < *r.first)) r.first = seen;
      if (!r.published) r.published = field_time(f, "published");
      const auto fix = f.value("fix_available", "");
      if (f.contains("suppressed") && f["suppressed"].is_object()) {
        const auto& s = f["suppressed"];
        r.status = s.value("by", "") == "vex" ? "not_affected" : "accepted";
        r.note = s.value("detail", "");
      } else {
        r.status = "open";
        r.promoted.reset();  // served again (a rollback, or a heal that did not fix it)
        r.note = fix == "no-fix" ? "no upstream fix"
                 : fix == "none" ? "no fix inside the gap (airhealctl needs export asks for it)"
                                 : "fix inside the gap (" + fix + "); not yet promoted";
      }
    }
    for (auto& [id, r] : by_id) {
      if (r.status == "fixed") r.closed = r.promoted;
      auto end = r.closed.value_or(period_end);
      json days = r.first ? json(std::max<std::int64_t>(0, (end - *r.first) / 86400)) : json();
      auto limit = sla.for_severity(r.severity);
      bool overdue = r.status == "open" && limit && r.first &&
                     (period_end - *r.first) > static_cast<std::int64_t>(*limit) * 86400;
      rows.push_back(
          {{"image", img.image},
           {"vulnerability", id},
           {"package", r.package},
           {"severity", r.severity},
           {"status", r.status},
           {"published", time_or_null(r.published)},
           {"first_detected", time_or_null(r.first)},
           {"fix_inside_gap", time_or_null(r.fix_inside)},
           {"staged", time_or_null(r.staged)},
           {"promoted", time_or_null(r.promoted)},
           {"days_open", days},
           {"sla_days", limit ? json(*limit) : json()},
           {"overdue", overdue},
           // Time to heal per vulnerability, in hours: from its publication and from
           // the import of its fix to the promotion that removed it.
           {"hours_published_to_promoted",
            r.published && r.promoted ? json((*r.promoted - *r.published) / 3600) : json()},
           {"hours_fix_to_promoted",
            r.fix_inside && r.promoted ? json((*r.promoted - *r.fix_inside) / 3600) : json()},
           {"note", r.note}});
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
    if (a["overdue"] != b["overdue"]) return a["overdue"].get<bool>();
    auto sa = severity_rank(a["severity"]), sb = severity_rank(b["severity"]);
    if (sa != sb) return sa < sb;
    auto da = a["days_open"].is_number() ? a["days_open"].get<std::int64_t>() : -1;
    auto db = b["days_open"].is_number() ? b["days_open"].get<std::int64_t>() : -1;
    return da > db;
  });
  return json(rows);
}

json timeline_counts(const json& rows) {
  json out = {{"open", json::object()},
              {"fixed", json::object()},
              {"accepted", json::object()},
              {"not_affected", json::object()},
              {"overdue", 0}};
  for (const auto& r : rows) {
    auto& bucket = out[r.value("status", "open")];
    auto sev = r.value("severity", "unknown");
    bucket[sev] = bucket.value(sev, 0) + 1;
    if (r.value("overdue", false)) out["overdue"] = out["overdue"].get<int>() + 1;
  }
  return out;
}

namespace {
// A name-based (version 5 form) UUID from SHA-256 of TEXT: stable across exports.
std::string stable_uuid(const std::string& text) {
  auto h = Sha256::of(text).hex();
  h[12] = '5';
  h[16] = "89ab"[std::stoi(std::string(1, h[16]), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}
}  // namespace

json timeline_poam(const json& rows, const std::string& system_id, const std::string& title,
                   std::int64_t now) {
  const std::string ns = "https://airheal.dev/ns/oscal";
  json observations = json::array(), risks = json::array(), items = json::array();
  for (const auto& r : rows) {
    auto key = system_id + " " + r.value("image", "") + " " + r.value("vulnerability", "");
    auto obs = stable_uuid("observation " + key), risk = stable_uuid("risk " + key);
    auto vuln = r.value("vulnerability", ""), image = r.value("image", "");
    auto status = r.value("status", "open");
    auto prop = [&](const std::string& name, const json& v) {
      return json{{"name", name},
                  {"ns", ns},
                  {"value", v.is_string() ? v.get<std::string>()
                            : v.is_null() ? std::string("none")
                                          : v.dump()}};
    };
    json props =
        json::array({prop("severity", r["severity"]), prop("image", r["image"]),
                     prop("package", r.value("package", "") == "" ? json("none") : r["package"]),
                     prop("days-open", r["days_open"]),
                     prop("overdue", r.value("overdue", false) ? "true" : "false")});
    json o = {{"uuid", obs},
              {"title", vuln + " in " + image},
              {"description", "airheal's scan of " + image + " matched " + vuln + "."},
              {"methods", json::array({"TEST"})},
              {"types", json::array({"finding"})},
              {"collected",
               r["first_detected"].is_string() ? r["first_detected"] : json(format_time(now))},
              {"props", props}};
    observations.push_back(o);
    json k = {
        {"uuid", risk},
        {"title", vuln + " (" + r.value("severity", "unknown") + ") in " + image},
        {"description", r.value("note", "").empty() ? vuln + " in " + image : r.value("note", "")},
        {"statement", status == "fixed"          ? "Remediated: the fixed image was promoted."
                      : status == "not_affected" ? "Not affected, per a VEX statement."
                      : status == "accepted"
                          ? "Accepted by a person's exception: " + r.value("note", "")
                          : "Open: " + r.value("note", "")},
        {"status", status == "open"       ? "open"
                   : status == "accepted" ? "deviation-approved"
                                          : "closed"},
        {"props", props},
        {"related-observations", json::array({{{"observation-uuid", obs}}})}};
    if (r["first_detected"].is_string() && r["sla_days"].is_number()) {
      auto first = parse_time(r["first_detected"].get<std::string>());
      if (first) k["deadline"] = format_time(*first + r["sla_days"].get<std::int64_t>() * 86400);
    }
    risks.push_back(k);
    json item = {{"uuid", stable_uuid("item " + key)},
                 {"title", vuln + " in " + image},
                 {"description", k["statement"]},
                 {"props", props},
                 {"related-observations", json::array({{{"observation-uuid", obs}}})},
                 {"related-risks", json::array({{{"risk-uuid", risk}}})}};
    items.push_back(item);
  }
  json poam = {{"uuid", stable_uuid("poam " + system_id + " " + std::to_string(now))},
               {"metadata",
                {{"title", title},
                 {"last-modified", format_time(now)},
                 {"version", format_time(now)},
                 {"oscal-version", "1.0.6"}}},
               {"system-id",
                {{"identifier-type", "https://ietf.org/rfc/rfc4122"},
                 {"id", stable_uuid("system " + system_id)}}}};
  // OSCAL wants these arrays non-empty when present; a period with nothing to report has an item
  // saying so.
  if (items.empty())
    items.push_back({{"uuid", stable_uuid("empty " + system_id + std::to_string(now))},
                     {"title", "No vulnerability in the period"},
                     {"description", "No image in scope had a finding in this period."}});
  else {
    poam["observations"] = observations;
    poam["risks"] = risks;
  }
  poam["poam-items"] = items;
  return {{"plan-of-action-and-milestones", poam}};
}

std::string timeline_csv(const json& rows) {
  static const char* columns[] = {"image",
                                  "vulnerability",
                                  "package",
                                  "severity",
                                  "status",
                                  "published",
                                  "first_detected",
                                  "fix_inside_gap",
                                  "staged",
                                  "promoted",
                                  "days_open",
                                  "sla_days",
                                  "overdue",
                                  "hours_published_to_promoted",
                                  "hours_fix_to_promoted",
                                  "note"};
  auto cell = [](const json& v) {
    std::string s = v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
    if (!s.empty() && std::string("=+-@\t\r").find(s[0]) != std::string::npos) s = "'" + s;
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  for (std::size_t i = 0; i < std::size(columns); ++i)
    out += (i ? "," : "") + std::string(columns[i]);
  out += "\r\n";
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < std::size(columns); ++i)
      out += (i ? "," : "") + cell(r.value(columns[i], json()));
    out += "\r\n";
  }
  return out;
}

}  // namespace airheal::evidence
