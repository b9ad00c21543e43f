// Matching an image's components against the advisory database. Policy (docs/scanning.md):
// Debian by source package and source version; OSV ranges evaluated per the OSV spec; Debian
// tracker statuses mapped explicitly; Alpine by origin; Go modules and the standard library.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/sqlite.hpp"
#include "scan/inventory.hpp"

namespace airheal::scan {

struct Finding {
  std::size_t component = 0;  // index into the inventory's components
  std::string advisory_id;
  std::vector<std::string> aliases;
  std::string channel, source;       // where the advisory came from
  std::string severity = "unknown";  // critical high medium low negligible unknown
  std::optional<double> score;       // CVSS base score when a v3 vector was given
  std::string installed;             // the version that was compared (source version for Debian)
  std::string fixed;                 // the first fixed version above it, or empty
  std::string
      vendor_status;  // fixed, unfixed, no-dsa, postponed, ignored, end-of-life, undetermined
  std::string fix_available;  // package: fixed package imported; none; no-fix
  std::string summary;
};

// CVSS v3.0/v3.1 base score of a vector string; nullopt when malformed.
std::optional<double> cvss3_base_score(std::string_view vector);
std::string severity_from_score(double score);
// The most useful severity an advisory carries: CVSS v3 vector, database_specific.severity,
// Debian urgency.
std::pair<std::string, std::optional<double>> advisory_severity(
    const nlohmann::json& severity_array, const nlohmann::json& document,
    const std::string& urgency);
int severity_rank(const std::string& s);  // critical 5 ... unknown 0

// The key a component is matched (and reverse-indexed) by.
struct MatchKey {
  std::string ecosystem, package;
};
MatchKey match_key(const Component& c);
// Every key a component is matched by: match_key, and for an rpm also its source rpm's name.
std::vector<MatchKey> match_keys(const Component& c);

std::vector<Finding> match(sqlite::Connection& c, const ImageInventory& inv);

}  // namespace airheal::scan
