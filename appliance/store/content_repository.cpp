#include "store/content_repository.hpp"

namespace airheal::store {

void ContentRepository::clear_channel(sqlite::Connection& c, const std::string& channel) {
  c.prepare("DELETE FROM content WHERE channel = ?").bind(1, channel).run();
}

void ContentRepository::add(sqlite::Connection& c, const ContentRow& row) {
  c.prepare(
       "INSERT OR IGNORE INTO content(digest, kind, name, version, metadata, channel, snapshot) "
       "VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind(1, row.digest)
      .bind(2, row.kind)
      .bind(3, row.name)
      .bind(4, row.version)
      .bind(5, row.metadata)
      .bind(6, row.channel)
      .bind(7, row.snapshot)
      .run();
}

std::vector<ContentRow> ContentRepository::fixes(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT c.digest, c.kind, c.name, c.version, c.metadata, c.channel, c.snapshot, "
      "ifnull(s.imported_at, 0) FROM content c LEFT JOIN snapshots s ON s.digest = c.snapshot "
      "WHERE c.kind IN ('package', 'artifact') "
      "ORDER BY c.channel, c.kind, c.name, c.version, c.digest");
  enum Col { digest, kind, name, version, metadata, channel, snapshot, imported_at };
  std::vector<ContentRow> out;
  while (st.step())
    out.push_back(ContentRow{st.get_text(digest), st.get_text(kind), st.get_text(name),
                             st.get_text(version), st.get_text(metadata), st.get_text(channel),
                             st.get_text(snapshot), st.get_int(imported_at)});
  return out;
}

std::vector<std::string> ContentRepository::artifact_metadata(sqlite::Connection& c) {
  auto st = c.prepare("SELECT metadata FROM content WHERE kind = 'artifact'");
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

std::vector<ContentRow> ContentRepository::packages_named(sqlite::Connection& c,
                                                          const std::string& name) {
  auto st = c.prepare(
      "SELECT digest, version, metadata, channel, snapshot FROM content WHERE kind = 'package' "
      "AND name = ?");
  st.bind(1, name);
  enum Col { digest, version, metadata, channel, snapshot };
  std::vector<ContentRow> out;
  while (st.step()) {
    ContentRow r;
    r.digest = st.get_text(digest);
    r.kind = "package";
    r.name = name;
    r.version = st.get_text(version);
    r.metadata = st.get_text(metadata);
    r.channel = st.get_text(channel);
    r.snapshot = st.get_text(snapshot);
    out.push_back(std::move(r));
  }
  return out;
}

std::string ContentRepository::fixes_generation(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT (SELECT count(*) FROM content WHERE kind IN ('package', 'artifact')) || '/' || "
      "(SELECT ifnull(max(imported_at), 0) FROM snapshots)");
  return st.step() ? st.get_text(0) : "";
}

std::string ContentRepository::import_marker(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT (SELECT count(*) || '/' || ifnull(max(imported_at), 0) FROM snapshots) || '|' || "
      "(SELECT count(*) FROM content WHERE kind IN ('package', 'artifact'))");
  return st.step() ? st.get_text(0) : "";
}

}  // namespace airheal::store
