#include "evidence/timeline.hpp"

#include <algorithm>
#include <cmath>

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
      std::optional<std::int64_t> first, fix_inside, staged, promoted, closed;
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
      rows.push_back({{"image", img.image},
                      {"vulnerability", id},
                      {"package", r.package},
                      {"severity", r.severity},
                      {"status", r.status},
                      {"first_detected", time_or_null(r.first)},
                      {"fix_inside_gap", time_or_null(r.fix_inside)},
                      {"staged", time_or_null(r.staged)},
                      {"promoted", time_or_null(r.promoted)},
                      {"days_open", days},
                      {"sla_days", limit ? json(*limit) : json()},
                      {"overdue", overdue},
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

std::string timeline_csv(const json& rows) {
  static const char* columns[] = {"image",    "vulnerability",  "package",        "severity",
                                  "status",   "first_detected", "fix_inside_gap", "staged",
                                  "promoted", "days_open",      "sla_days",       "overdue",
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
