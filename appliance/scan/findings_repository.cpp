#include "scan/findings_repository.hpp"

#include <nlohmann/json.hpp>

namespace airheal::scan {

void FindingsRepository::replace(sqlite::Connection& c, const std::string& manifest,
                                 const std::vector<Finding>& findings, std::int64_t now) {
  std::map<std::pair<std::int64_t, std::string>, std::int64_t> first_seen;
  auto old =
      c.prepare("SELECT component, advisory_id, first_seen FROM findings WHERE manifest = ?");
  old.bind(1, manifest);
  while (old.step()) first_seen[{old.get_int(0), old.get_text(1)}] = old.get_int(2);
  remove(c, manifest);
  for (const auto& f : findings) {
    auto it = first_seen.find({static_cast<std::int64_t>(f.component), f.advisory_id});
    auto ins = c.prepare(
        "INSERT OR REPLACE INTO findings (manifest, component, advisory_id, aliases, channel, "
        "source, severity, score, installed, fixed, vendor_status, fix_available, summary, "
        "first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, manifest)
        .bind(2, static_cast<std::int64_t>(f.component))
        .bind(3, f.advisory_id)
        .bind(4, nlohmann::json(f.aliases).dump())
        .bind(5, f.channel)
        .bind(6, f.source)
        .bind(7, f.severity);
    if (f.score)
      ins.bind(8, std::to_string(*f.score));
    else
      ins.bind_null(8);
    ins.bind(9, f.installed)
        .bind(10, f.fixed)
        .bind(11, f.vendor_status)
        .bind(12, f.fix_available)
        .bind(13, f.summary.substr(0, 500))
        .bind(14, it == first_seen.end() ? now : it->second)
        .run();
  }
}

void FindingsRepository::remove(sqlite::Connection& c, const std::string& manifest) {
  c.prepare("DELETE FROM findings WHERE manifest = ?").bind(1, manifest).run();
}

void FindingsRepository::prune(sqlite::Connection& c) {
  c.exec("DELETE FROM findings WHERE manifest NOT IN (SELECT digest FROM manifests)");
}

std::vector<FindingRow> FindingsRepository::of_image(sqlite::Connection& c,
                                                     const std::string& manifest) {
  auto st = c.prepare(
      "SELECT f.component, f.advisory_id, f.aliases, f.channel, f.source, f.severity, f.score, "
      "f.installed, f.fixed, f.vendor_status, f.fix_available, f.summary, f.first_seen, "
      "a.published FROM findings f LEFT JOIN advisories a ON a.channel = f.channel AND "
      "a.source = f.source AND a.advisory_id = f.advisory_id WHERE f.manifest = ?");
  st.bind(1, manifest);
  std::vector<FindingRow> out;
  while (st.step()) {
    FindingRow r;
    r.component = st.get_int(0);
    r.advisory_id = st.get_text(1);
    r.aliases = nlohmann::json::parse(st.get_text(2)).get<std::vector<std::string>>();
    r.channel = st.get_text(3);
    r.source = st.get_text(4);
    r.severity = st.get_text(5);
    if (!st.is_null(6)) r.score = std::stod(st.get_text(6));
    r.installed = st.get_text(7);
    r.fixed = st.get_text(8);
    r.vendor_status = st.get_text(9);
    r.fix_available = st.get_text(10);
    r.summary = st.get_text(11);
    r.first_seen = st.get_int(12);
    if (!st.is_null(13)) r.published = st.get_text(13);
    out.push_back(std::move(r));
  }
  return out;
}

std::set<std::string> FindingsRepository::waiting_for_fix(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT DISTINCT manifest FROM findings WHERE fix_available IN ('none', 'artifact')");
  std::set<std::string> out;
  while (st.step()) out.insert(st.get_text(0));
  return out;
}

std::map<std::pair<std::string, std::string>, std::string> FindingsRepository::key_fingerprints(
    sqlite::Connection& c) {
  std::map<std::pair<std::string, std::string>, std::string> out;
  auto s = c.prepare("SELECT ecosystem, package, fingerprint FROM advisory_keys");
  while (s.step()) out[{s.get_text(0), s.get_text(1)}] = s.get_text(2);
  return out;
}

void FindingsRepository::set_key_fingerprint(sqlite::Connection& c, const std::string& ecosystem,
                                             const std::string& package,
                                             const std::optional<std::string>& fingerprint) {
  if (!fingerprint) {
    c.prepare("DELETE FROM advisory_keys WHERE ecosystem = ? AND package = ?")
        .bind(1, ecosystem)
        .bind(2, package)
        .run();
    return;
  }
  c.prepare(
       "INSERT OR REPLACE INTO advisory_keys (ecosystem, package, fingerprint) VALUES (?, ?, ?)")
      .bind(1, ecosystem)
      .bind(2, package)
      .bind(3, *fingerprint)
      .run();
}

}  // namespace airheal::scan
