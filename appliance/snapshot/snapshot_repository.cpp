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

}  // namespace airheal::snapshot
