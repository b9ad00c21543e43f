// The findings table (each image's matched advisories per component, with when each was first
// seen) and advisory_keys (a fingerprint of what the advisory database says per match key, so a
// changed advisory re-matches only the images with that package).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/sqlite.hpp"
#include "scan/match.hpp"

namespace airheal::scan {

// A stored finding, as the listing and the report read it.
struct FindingRow {
  std::int64_t component = 0;  // index into the image's components
  std::string advisory_id;
  std::vector<std::string> aliases;
  std::string channel, source, severity;
  std::optional<double> score;
  std::string installed, fixed, vendor_status, fix_available, summary;
  std::int64_t first_seen = 0;
  std::string published;  // the advisory's own publication date (RFC 3339), when it gives one
};

class FindingsRepository {
 public:
  // Replaces the image's findings with FINDINGS; a finding seen before keeps its first_seen,
  // a new one is first seen NOW.
  static void replace(sqlite::Connection& c, const std::string& manifest,
                      const std::vector<Finding>& findings, std::int64_t now);
  static void remove(sqlite::Connection& c, const std::string& manifest);
  // Removes the findings of manifests no longer in the registry.
  static void prune(sqlite::Connection& c);
  static std::vector<FindingRow> of_image(sqlite::Connection& c, const std::string& manifest);
  // Images with a finding no imported package fixes yet (fix_available none or artifact).
  static std::set<std::string> waiting_for_fix(sqlite::Connection& c);

  // The stored fingerprint per match key (ecosystem, package).
  static std::map<std::pair<std::string, std::string>, std::string> key_fingerprints(
      sqlite::Connection& c);
  // Sets (or, with nullopt, removes) the fingerprint of one key.
  static void set_key_fingerprint(sqlite::Connection& c, const std::string& ecosystem,
                                  const std::string& package,
                                  const std::optional<std::string>& fingerprint);
};

}  // namespace airheal::scan
