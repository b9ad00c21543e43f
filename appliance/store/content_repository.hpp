// The content table: what snapshots carried besides images (advisory sources, trust keys,
// packages, artefacts), one row per entry and channel; the bytes live in the blob store and this
// keeps them from garbage collection. Each import replaces its channel's rows. The only SQL for
// the table (the store level, because the importer writes it and the scanner and the heal engine
// read it, and neither may depend on the other).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/sqlite.hpp"

namespace airheal::store {

struct ContentRow {
  std::string digest;  // of the bytes, in the blob store
  std::string kind;    // advisory, trust, package, artifact
  std::string name, version;
  std::string metadata = "{}";  // JSON object text, as stored
  std::string channel;
  std::string snapshot;          // digest of the snapshot that carried it
  std::int64_t imported_at = 0;  // when that snapshot was imported (read only)
};

class ContentRepository {
 public:
  // Inside the importing transaction: drop CHANNEL's rows, then add the new snapshot's.
  static void clear_channel(sqlite::Connection& c, const std::string& channel);
  static void add(sqlite::Connection& c, const ContentRow& row);  // a repeated row is ignored
  // Packages and artefacts (what heals are made of), by channel, kind, name, version and
  // digest, each with its snapshot's import time.
  static std::vector<ContentRow> fixes(sqlite::Connection& c);
  // The metadata text of every artefact (what a matcher asks: is there one for this path or
  // this dependency?).
  static std::vector<std::string> artifact_metadata(sqlite::Connection& c);
  // The packages imported under NAME (version and metadata filled; no import time).
  static std::vector<ContentRow> packages_named(sqlite::Connection& c, const std::string& name);
  // "FIXES/NEWEST_IMPORT": changes when a package or artefact arrives or any snapshot is imported.
  static std::string fixes_generation(sqlite::Connection& c);
  // "SNAPSHOTS/NEWEST_IMPORT|FIXES": changes with every import that brings anything.
  static std::string import_marker(sqlite::Connection& c);
};

}  // namespace airheal::store
