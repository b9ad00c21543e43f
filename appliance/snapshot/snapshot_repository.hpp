// The imported snapshots table: one typed row per snapshot accepted, read here and nowhere else
// (the importer writes it inside its commit transaction).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace airheal::snapshot {

struct SnapshotRow {
  std::string digest;  // sha256 of the manifest bytes
  std::string channel;
  std::int64_t sequence = 0;
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
  std::int64_t imported_at = 0;
  std::optional<std::string> previous;               // a delta's base snapshot
  nlohmann::json signers = nlohmann::json::array();  // primary key fingerprints
  nlohmann::json counts =
      nlohmann::json::object();  // images, advisories, packages, artifacts, bytes
  std::string manifest;          // the signed manifest's bytes (only when asked for)
};

struct SnapshotQuery {
  std::optional<std::int64_t> imported_from, imported_to;  // inclusive bounds on imported_at
  bool newest_first = false;  // by import time (default: oldest first, then channel and sequence)
  bool with_manifest = false;
};

class SnapshotRepository {
 public:
  explicit SnapshotRepository(store::Store& store) : store_(store) {}

  std::vector<SnapshotRow> list(const SnapshotQuery& q = {}) const;

  // Inside the importer's transactions: when DIGEST was imported (nullopt: never), and the
  // accepted snapshot's row (manifest included).
  static std::optional<std::int64_t> imported_at(sqlite::Connection& c, const std::string& digest);
  static void insert(sqlite::Connection& c, const SnapshotRow& row);
  // Per channel (by name): its highest sequence, newest import, and the expiry of the snapshot
  // with the highest sequence.
  struct ChannelState {
    std::string channel;
    std::int64_t sequence = 0, imported_at = 0, expires_at = 0;
  };
  static std::vector<ChannelState> channels(sqlite::Connection& c);

 private:
  store::Store& store_;
};

// The row as the API, the CLI and evidence bundles show it: times in RFC 3339.
nlohmann::json to_json(const SnapshotRow& r);

}  // namespace airheal::snapshot
