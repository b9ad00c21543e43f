// The metadata database's schema: forward-only migrations keyed on PRAGMA user_version. Each
// component keeps the SQL for its own tables in appliance/<component>/schema/NNN-name.sql; the
// build embeds every file (scripts/embed-schema.cmake) and migration NNN is the files numbered
// NNN, joined in path order. Add a file with the next number; never edit a released one.
#pragma once

#include <string>
#include <vector>

#include "core/sqlite.hpp"

namespace airheal::store {

struct SchemaFile {
  int version;
  const char* path;  // relative to appliance/
  const char* sql;
};
// Every migration file, by version and path (generated at build time).
const std::vector<SchemaFile>& schema_files();

const std::vector<sqlite::Migration>& migrations();

}  // namespace airheal::store
