#include "advisory/advisory_repository.hpp"

#include "core/digest.hpp"

namespace airheal::advisory {

using nlohmann::json;

Counts replace_channel(sqlite::Connection& c, const std::string& channel,
                       const std::vector<Advisory>& all) {
  c.prepare("DELETE FROM advisories WHERE channel = ?").bind(1, channel).run();
  Counts n;
  for (const auto& a : all) {
    auto ins = c.prepare(
        "INSERT INTO advisories(channel, source, advisory_id, summary, severity, published, "
        "modified, withdrawn, document) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(channel, source, advisory_id) DO UPDATE SET summary = excluded.summary, "
        "severity = excluded.severity, published = excluded.published, modified = "
        "excluded.modified, "
        "withdrawn = excluded.withdrawn, document = excluded.document RETURNING id");
    ins.bind(1, channel)
        .bind(2, to_string(a.source))
        .bind(3, a.id)
        .bind(4, a.summary)
        .bind(5, a.severity.dump())
        .bind(6, a.published)
        .bind(7, a.modified)
        .bind(8, a.withdrawn)
        .bind(9, a.document.dump());
    ins.step();
    auto id = ins.get_int(0);
    ins.run();
    ++n.advisories;
    if (!a.withdrawn.empty()) ++n.withdrawn;
    for (const auto& alias : a.aliases)
      c.prepare("INSERT OR IGNORE INTO advisory_aliases(alias, advisory) VALUES (?, ?)")
          .bind(1, alias)
          .bind(2, id)
          .run();
    for (const auto& af : a.affected) {
      c.prepare(
           "INSERT INTO advisory_affected(advisory, ecosystem, package, data) VALUES (?, ?, ?, ?)")
          .bind(1, id)
          .bind(2, af.ecosystem)
          .bind(3, af.package)
          .bind(4, af.data.dump())
          .run();
      ++n.affected;
    }
  }
  return n;
}

namespace {
std::vector<StoredAdvisory> load(sqlite::Connection& c, const std::vector<std::int64_t>& ids) {
  std::vector<StoredAdvisory> out;
  for (auto id : ids) {
    auto st = c.prepare(
        "SELECT channel, source, advisory_id, summary, severity, published, modified, withdrawn, "
        "document "
        "FROM advisories WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) continue;
    StoredAdvisory a;
    a.channel = st.get_text(0);
    a.source = st.get_text(1);
    a.id = st.get_text(2);
    a.summary = st.get_text(3);
    a.severity = json::parse(st.get_text(4));
    a.published = st.get_text(5);
    a.modified = st.get_text(6);
    a.withdrawn = st.get_text(7);
    a.document = json::parse(st.get_text(8));
    auto al = c.prepare("SELECT alias FROM advisory_aliases WHERE advisory = ? ORDER BY alias");
    al.bind(1, id);
    while (al.step()) a.aliases.push_back(al.get_text(0));
    auto af = c.prepare(
        "SELECT ecosystem, package, data FROM advisory_affected WHERE advisory = ? ORDER BY rowid");
    af.bind(1, id);
    while (af.step())
      a.affected.push_back({af.get_text(0), af.get_text(1), json::parse(af.get_text(2))});
    out.push_back(std::move(a));
  }
  return out;
}
}  // namespace

std::vector<StoredAdvisory> find(sqlite::Connection& c, const std::string& key) {
  std::vector<std::int64_t> ids;
  auto st = c.prepare(
      "SELECT id FROM advisories WHERE advisory_id = ?1 "
      "UNION SELECT advisory FROM advisory_aliases WHERE alias = ?1 ORDER BY 1");
  st.bind(1, key);
  while (st.step()) ids.push_back(st.get_int(0));
  return load(c, ids);
}

std::vector<StoredAdvisory> for_package(sqlite::Connection& c, const std::string& ecosystem,
                                        const std::string& package) {
  std::vector<std::int64_t> ids;
  auto st = c.prepare(
      "SELECT DISTINCT advisory FROM advisory_affected WHERE package = ?1 AND "
      "(ecosystem = ?2 OR (instr(?2, ':') = 0 AND ecosystem LIKE ?2 || ':%')) ORDER BY advisory");
  st.bind(1, package).bind(2, ecosystem);
  while (st.step()) ids.push_back(st.get_int(0));
  return load(c, ids);
}

json to_json(const StoredAdvisory& a) {
  json aff = json::array();
  for (const auto& x : a.affected)
    aff.push_back({{"ecosystem", x.ecosystem}, {"package", x.package}, {"data", x.data}});
  json j{{"id", a.id},           {"channel", a.channel}, {"source", a.source},
         {"aliases", a.aliases}, {"summary", a.summary}, {"severity", a.severity},
         {"affected", aff}};
  for (auto [k, v] : {std::pair{"published", &a.published},
                      {"modified", &a.modified},
                      {"withdrawn", &a.withdrawn}})
    if (!v->empty()) j[k] = *v;
  return j;
}

std::int64_t count(sqlite::Connection& c) {
  auto q = c.prepare("SELECT count(*) FROM advisories");
  return q.step() ? q.get_int(0) : 0;
}

std::vector<SourceCount> counts_by_source(sqlite::Connection& c) {
  std::vector<SourceCount> out;
  auto q = c.prepare(
      "SELECT channel, source, count(*), sum(withdrawn != '') FROM advisories GROUP BY channel, "
      "source ORDER BY 1, 2");
  while (q.step()) out.push_back({q.get_text(0), q.get_text(1), q.get_int(2), q.get_int(3)});
  return out;
}

std::map<std::pair<std::string, std::string>, std::string> fingerprints_by_key(
    sqlite::Connection& c) {
  std::map<std::pair<std::string, std::string>, Sha256> hashes;
  auto st = c.prepare(
      "SELECT af.ecosystem, af.package, a.channel, a.source, a.advisory_id, a.modified, "
      "a.withdrawn, a.severity, af.data FROM advisory_affected af JOIN advisories a ON a.id = "
      "af.advisory ORDER BY a.channel, a.source, a.advisory_id, af.rowid");
  while (st.step()) {
    auto eco = st.get_text(0);
    auto& h = hashes[{eco.substr(0, eco.find(':')), st.get_text(1)}];
    for (int i = 0; i < 9; ++i) {
      h.update(st.get_text(i));
      h.update(std::string_view("\0", 1));
    }
  }
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (auto& [key, h] : hashes) out[key] = h.finish().hex();
  return out;
}

}  // namespace airheal::advisory
