#include "snapshot/snapshot_repository.hpp"

#include "core/time.hpp"

namespace airheal::snapshot {

std::vector<SnapshotRow> SnapshotRepository::list(const SnapshotQuery& q) const {
  std::vector<SnapshotRow> out;
  std::string sql = std::string(
                        "SELECT digest, channel, sequence, created_at, expires_at, imported_at, "
                        "previous, signers, counts, ") +
                    (q.with_manifest ? "manifest" : "NULL") +
                    " FROM snapshots WHERE imported_at >= ? AND imported_at <= ? ORDER BY " +
                    (q.newest_first ? "imported_at DESC, channel, sequence DESC"
                                    : "imported_at, channel, sequence");
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(sql);
    st.bind(1, q.imported_from.value_or(INT64_MIN)).bind(2, q.imported_to.value_or(INT64_MAX));
    enum Col {
      digest,
      channel,
      sequence,
      created_at,
      expires_at,
      imported_at,
      previous,
      signers,
      counts,
      manifest
    };
    while (st.step()) {
      SnapshotRow r;
      r.digest = st.get_text(Col::digest);
      r.channel = st.get_text(Col::channel);
      r.sequence = st.get_int(Col::sequence);
      r.created_at = st.get_int(Col::created_at);
      r.expires_at = st.get_int(Col::expires_at);
      r.imported_at = st.get_int(Col::imported_at);
      r.previous = st.get_optional_text(Col::previous);
      r.signers = nlohmann::json::parse(st.get_text(Col::signers), nullptr, false);
      r.counts = nlohmann::json::parse(st.get_text(Col::counts), nullptr, false);
      if (q.with_manifest) r.manifest = std::string(st.get_blob(Col::manifest));
      out.push_back(std::move(r));
    }
  });
  return out;
}

nlohmann::json to_json(const SnapshotRow& r) {
  nlohmann::json j{{"digest", r.digest},
                   {"channel", r.channel},
                   {"sequence", r.sequence},
                   {"created", format_time(r.created_at)},
                   {"expires", format_time(r.expires_at)},
                   {"imported", format_time(r.imported_at)},
                   {"signers", r.signers},
                   {"counts", r.counts}};
  if (r.previous) j["previous"] = *r.previous;
  return j;
}

std::optional<std::int64_t> SnapshotRepository::imported_at(sqlite::Connection& c,
                                                            const std::string& digest) {
  auto q = c.prepare("SELECT imported_at FROM snapshots WHERE digest = ?");
  q.bind(1, digest);
  if (!q.step()) return std::nullopt;
  return q.get_int(0);
}

void SnapshotRepository::insert(sqlite::Connection& c, const SnapshotRow& row) {
  c.prepare(
       "INSERT INTO snapshots(digest, channel, sequence, created_at, expires_at, previous, "
       "imported_at, signers, counts, manifest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, row.digest)
      .bind(2, row.channel)
      .bind(3, row.sequence)
      .bind(4, row.created_at)
      .bind(5, row.expires_at)
      .bind(6, row.previous)
      .bind(7, row.imported_at)
      .bind(8, row.signers.dump())
      .bind(9, row.counts.dump())
      .bind(10, row.manifest)
      .run();
}

std::vector<SnapshotRepository::ChannelState> SnapshotRepository::channels(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT channel, max(sequence), max(imported_at), (SELECT expires_at FROM snapshots s2 WHERE "
      "s2.channel = s.channel ORDER BY sequence DESC LIMIT 1) FROM snapshots s GROUP BY channel "
      "ORDER BY channel");
  enum Col { channel, sequence, imported_at, expires_at };
  std::vector<ChannelState> out;
  while (st.step())
    out.push_back(ChannelState{st.get_text(channel), st.get_int(sequence), st.get_int(imported_at),
                               st.get_int(expires_at)});
  return out;
}

}  // namespace airheal::snapshot
