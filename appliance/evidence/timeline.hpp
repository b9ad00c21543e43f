// Per vulnerability and image, what an auditor asks: severity, first detected, when a fix was
// inside the gap, staged, promoted, days open against the SLA for its severity, and who accepted
// the risk if anyone did. Pure: built from findings and heal records, tested from data.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace airheal::evidence {

// Days allowed from detection to remediation, by severity (evidence.sla_days in the
// configuration); the defaults follow common FedRAMP/PCI practice.
struct SlaDays {
  std::map<std::string, int> days = {{"critical", 15}, {"high", 30}, {"medium", 90}, {"low", 180}};
  std::optional<int> for_severity(const std::string& severity) const;  // none: no SLA
};

struct TimelineHeal {
  std::int64_t id = 0;
  std::string state;  // heal::to_string
  std::vector<std::string> targeted;
  std::optional<std::int64_t> fix_imported_at, staged_at, promoted_at;
  nlohmann::json original_findings = nlohmann::json::array();  // of the image it healed
};

struct TimelineImage {
  std::string image;                                  // repository:tag
  nlohmann::json findings = nlohmann::json::array();  // now served, suppressed ones included
  std::vector<TimelineHeal> heals;
};

// One row per (image, vulnerability): overdue first, then by severity and days open.
nlohmann::json timeline_rows(const std::vector<TimelineImage>& images, const SlaDays& sla,
                             std::int64_t period_end);
// {"open": {severity: n}, "fixed": {...}, "accepted": {...}, "not_affected": {...}, "overdue": n}
nlohmann::json timeline_counts(const nlohmann::json& rows);
// The rows as RFC 4180 CSV; a cell that a spreadsheet would run as a formula is quoted with '.
std::string timeline_csv(const nlohmann::json& rows);
// The rows as an OSCAL 1.0.6 Plan of Action and Milestones (NIST's machine-readable POA&M): one
// observation, risk and POA&M item per row; the risk's status is open, closed (fixed or not
// affected) or deviation-approved (accepted by a person's exception), its deadline first detection
// plus the SLA. UUIDs are derived from SYSTEM_ID and the row, so a re-export names the same items.
nlohmann::json timeline_poam(const nlohmann::json& rows, const std::string& system_id,
                             const std::string& title, std::int64_t now);

}  // namespace airheal::evidence
