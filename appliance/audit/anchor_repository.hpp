// The audit anchor (table audit_anchor, one row): the newest checkpoint and the journal's length
// right after it, kept in the metadata database, outside the audit folder, so that cutting the
// journal back or deleting checkpoints is seen (audit/checkpoint.hpp compares them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/sqlite.hpp"

namespace airheal::audit {

// What the metadata database remembers of the newest checkpoint.
struct Anchor {
  std::int64_t checkpoint = 0;  // its sequence number
  std::string head;
  std::int64_t records = 0;  // the journal's length right after it (its own record included)
  std::int64_t time = 0;
};

class AnchorRepository {
 public:
  static std::optional<Anchor> read(sqlite::Connection& c);
  // Moves the anchor to A unless it already names a later checkpoint; the recorded journal
  // length never goes down.
  static void advance(sqlite::Connection& c, const Anchor& a);
};

}  // namespace airheal::audit
