// The advisory database: tables in the appliance's metadata database (store/schema.cpp),
// written only inside a snapshot import's transaction and read by lookups.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "advisory/advisory.hpp"
#include "core/sqlite.hpp"

namespace airheal::advisory {

struct Counts {
  std::size_t advisories = 0;
  std::size_t affected = 0;
  std::size_t withdrawn = 0;
};

// Replaces everything the channel said before with `all` (a snapshot is the channel's full
// state). Runs inside the caller's transaction.
Counts replace_channel(sqlite::Connection& c, const std::string& channel,
                       const std::vector<Advisory>& all);

struct StoredAffected {
  std::string ecosystem, package;
  nlohmann::json data;
};
struct StoredAdvisory {
  std::string channel, source, id, summary, published, modified, withdrawn;
  std::vector<std::string> aliases;
  nlohmann::json severity, document;
  std::vector<StoredAffected> affected;
};

// By id or alias, across channels and sources.
std::vector<StoredAdvisory> find(sqlite::Connection& c, const std::string& id_or_alias);
// Every advisory naming (ecosystem, package). Ecosystem matches exactly, or by its base when
// `ecosystem` has no release part ("Debian" matches "Debian:bookworm").
std::vector<StoredAdvisory> for_package(sqlite::Connection& c, const std::string& ecosystem,
                                        const std::string& package);
nlohmann::json to_json(const StoredAdvisory& a);

// Advisories per channel and source, and how many of them are withdrawn.
struct SourceCount {
  std::string channel, source;
  std::int64_t advisories = 0, withdrawn = 0;
};
std::vector<SourceCount> counts_by_source(sqlite::Connection& c);
// Every advisory held, withdrawn ones included.
std::int64_t count(sqlite::Connection& c);

// A fingerprint (SHA-256, hex) of everything the database says about each match key
// (ecosystem base, package): which advisories name it, from where, how modified, withdrawn,
// severe, and their affected ranges. A key whose fingerprint changed needs its images re-matched.
std::map<std::pair<std::string, std::string>, std::string> fingerprints_by_key(
    sqlite::Connection& c);

}  // namespace airheal::advisory
