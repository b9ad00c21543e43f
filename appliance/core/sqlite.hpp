// Small RAII layer over SQLite: connections, cached prepared statements, transactions,
// and forward-only schema migrations keyed on PRAGMA user_version.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace airheal::sqlite {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();  // resets (cached statements are owned by the Connection)

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  Statement& bind_null(int index);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind(int index, const std::optional<std::string>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // Returns true while a row is available.
  bool step();
  // Runs a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }

  std::int64_t get_int(int col) const { return sqlite3_column_int64(stmt_, col); }
  int columns() const { return sqlite3_column_count(stmt_); }
  std::string get_text(int col) const;
  // A view of a BLOB (or TEXT) column, valid until the next step or reset.
  std::string_view get_blob(int col) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view{};
  }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<std::string> get_optional_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return get_text(col);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

struct Migration {
  int version;  // the schema version after this migration
  const char* sql;
};

class Connection {
 public:
  enum class Mode { read_write, read_only };
  Connection(const std::filesystem::path& path, Mode mode = Mode::read_write);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  void exec(std::string_view sql);
  // Returns a cached statement, reset and with bindings cleared.
  Statement prepare(const std::string& sql);
  std::int64_t changes() const { return sqlite3_changes64(db_); }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int user_version();

  // Applies every migration whose version is above the stored one, each in its own
  // transaction. Refuses a database newer than this build understands.
  void migrate(const std::vector<Migration>& migrations);

  sqlite3* raw() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back if destroyed uncommitted.
class Transaction {
 public:
  explicit Transaction(Connection& c);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

}  // namespace airheal::sqlite
