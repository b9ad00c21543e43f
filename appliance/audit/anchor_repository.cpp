#include "audit/anchor_repository.hpp"

namespace airheal::audit {

std::optional<Anchor> AnchorRepository::read(sqlite::Connection& c) {
  auto q = c.prepare("SELECT checkpoint, head, records, time FROM audit_anchor WHERE id = 1");
  if (!q.step()) return std::nullopt;
  enum Col { checkpoint, head, records, time };
  return Anchor{q.get_int(checkpoint), q.get_text(head), q.get_int(records), q.get_int(time)};
}

void AnchorRepository::advance(sqlite::Connection& c, const Anchor& a) {
  c.prepare(
       "INSERT INTO audit_anchor(id, checkpoint, head, records, time) VALUES (1, ?, ?, ?, ?) "
       "ON CONFLICT(id) DO UPDATE SET checkpoint = excluded.checkpoint, head = excluded.head, "
       "records = max(records, excluded.records), time = excluded.time WHERE "
       "excluded.checkpoint >= checkpoint")
      .bind(1, a.checkpoint)
      .bind(2, a.head)
      .bind(3, a.records)
      .bind(4, a.time)
      .run();
}

}  // namespace airheal::audit
