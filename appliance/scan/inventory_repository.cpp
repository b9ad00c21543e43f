#include "scan/inventory_repository.hpp"

#include <nlohmann/json.hpp>

#include "core/oci.hpp"
#include "scan/layer.hpp"
#include "scan/match.hpp"

namespace airheal::scan {

std::optional<ImageInventory> InventoryRepository::load(sqlite::Connection& c,
                                                        const std::string& manifest) {
  auto st = c.prepare(
      "SELECT os, layers, files, problems FROM image_inventory WHERE manifest = ? AND parser = ?");
  st.bind(1, manifest).bind(2, std::int64_t{kLayerParserVersion});
  if (!st.step()) return std::nullopt;
  ImageInventory inv;
  auto os = nlohmann::json::parse(st.get_text(0));
  inv.os.id = os.value("id", "");
  inv.os.version_id = os.value("version_id", "");
  inv.os.codename = os.value("codename", "");
  inv.os.pretty_name = os.value("pretty_name", "");
  inv.layers = nlohmann::json::parse(st.get_text(1)).get<std::vector<std::string>>();
  inv.files = static_cast<std::size_t>(st.get_int(2));
  inv.problems = nlohmann::json::parse(st.get_text(3)).get<std::vector<std::string>>();
  auto cs = c.prepare("SELECT data FROM image_components WHERE manifest = ? ORDER BY idx");
  cs.bind(1, manifest);
  while (cs.step())
    inv.components.push_back(Component::from_json(nlohmann::json::parse(cs.get_text(0))));
  return inv;
}

std::optional<std::int64_t> InventoryRepository::scanned_at(sqlite::Connection& c,
                                                            const std::string& manifest) {
  auto q = c.prepare("SELECT scanned_at FROM image_inventory WHERE manifest = ?");
  q.bind(1, manifest);
  if (q.step()) return q.get_int(0);
  return std::nullopt;
}

std::vector<std::string> InventoryRepository::layers(sqlite::Connection& c,
                                                     const std::string& manifest) {
  auto st = c.prepare("SELECT layers FROM image_inventory WHERE manifest = ?");
  st.bind(1, manifest);
  if (!st.step()) return {};
  return nlohmann::json::parse(st.get_text(0)).get<std::vector<std::string>>();
}

void InventoryRepository::save(sqlite::Connection& c, const std::string& manifest,
                               const ImageInventory& inv, std::int64_t created, std::int64_t now) {
  nlohmann::json os = {{"id", inv.os.id},
                       {"version_id", inv.os.version_id},
                       {"codename", inv.os.codename},
                       {"pretty_name", inv.os.pretty_name}};
  c.prepare("DELETE FROM image_components WHERE manifest = ?").bind(1, manifest).run();
  c.prepare(
       "INSERT OR REPLACE INTO image_inventory (manifest, parser, os, layers, files, problems, "
       "scanned_at, matched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, manifest)
      .bind(2, std::int64_t{kLayerParserVersion})
      .bind(3, os.dump())
      .bind(4, nlohmann::json(inv.layers).dump())
      .bind(5, static_cast<std::int64_t>(inv.files))
      .bind(6, nlohmann::json(inv.problems).dump())
      .bind(7, created)
      .bind(8, now)
      .run();
  for (std::size_t i = 0; i < inv.components.size(); ++i) {
    const auto& comp = inv.components[i];
    auto key = match_key(comp);
    c.prepare(
         "INSERT INTO image_components (manifest, idx, type, ecosystem, name, version, source, "
         "source_version, match_ecosystem, match_package, purl, layer, location, data) VALUES (?, "
         "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, manifest)
        .bind(2, static_cast<std::int64_t>(i))
        .bind(3, comp.type)
        .bind(4, comp.ecosystem)
        .bind(5, comp.name)
        .bind(6, comp.version)
        .bind(7, comp.source)
        .bind(8, comp.source_version)
        .bind(9, key.ecosystem)
        .bind(10, key.package)
        .bind(11, comp.purl)
        .bind(12, comp.layer)
        .bind(13, comp.location)
        .bind(14, comp.to_json().dump())
        .run();
  }
}

void InventoryRepository::set_matched(sqlite::Connection& c, const std::string& manifest,
                                      std::int64_t now) {
  c.prepare("UPDATE image_inventory SET matched_at = ? WHERE manifest = ?")
      .bind(1, now)
      .bind(2, manifest)
      .run();
}

std::map<std::int64_t, Component> InventoryRepository::components(sqlite::Connection& c,
                                                                  const std::string& manifest) {
  std::map<std::int64_t, Component> out;
  auto cs = c.prepare("SELECT idx, data FROM image_components WHERE manifest = ?");
  cs.bind(1, manifest);
  while (cs.step())
    out[cs.get_int(0)] = Component::from_json(nlohmann::json::parse(cs.get_text(1)));
  return out;
}

std::vector<std::string> InventoryRepository::images_with(sqlite::Connection& c,
                                                          const std::string& ecosystem,
                                                          const std::string& package) {
  // (an rpm is matched by its source rpm's name too: scan::match_keys)
  auto st = c.prepare(
      "SELECT DISTINCT manifest FROM image_components WHERE match_ecosystem = ? AND "
      "(match_package = ? OR (type = 'rpm' AND source = ?))");
  st.bind(1, ecosystem).bind(2, package).bind(3, package);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

std::vector<std::string> InventoryRepository::unscanned(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT m.digest FROM manifests m WHERE m.subject IS NULL AND m.media_type IN (?, ?) AND "
      "NOT EXISTS (SELECT 1 FROM image_inventory i WHERE i.manifest = m.digest AND i.parser = ?) "
      "ORDER BY m.created_at");
  st.bind(1, oci::media::kOciManifest)
      .bind(2, oci::media::kDockerManifest)
      .bind(3, std::int64_t{kLayerParserVersion});
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

void InventoryRepository::prune(sqlite::Connection& c) {
  c.exec("DELETE FROM image_components WHERE manifest NOT IN (SELECT digest FROM manifests)");
  c.exec("DELETE FROM image_inventory WHERE manifest NOT IN (SELECT digest FROM manifests)");
}

std::vector<std::string> InventoryRepository::served(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT manifest FROM image_inventory i WHERE EXISTS (SELECT 1 FROM repo_manifests rm "
      "WHERE rm.digest = i.manifest) ORDER BY manifest");
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

std::int64_t InventoryRepository::count(sqlite::Connection& c) {
  auto st = c.prepare("SELECT count(*) FROM image_inventory");
  return st.step() ? st.get_int(0) : 0;
}

std::vector<InventoryRepository::Unreferred> InventoryRepository::without_referrer(
    sqlite::Connection& c, const std::string& artifact_type) {
  auto st = c.prepare(
      "SELECT DISTINCT rm.digest, m.media_type, m.size FROM repo_manifests rm JOIN "
      "image_inventory i ON i.manifest = rm.digest JOIN manifests m ON m.digest = rm.digest WHERE "
      "NOT EXISTS (SELECT 1 FROM manifests a JOIN repo_manifests ra ON ra.digest = a.digest WHERE "
      "a.subject = rm.digest AND ra.repo_id = rm.repo_id AND a.artifact_type = ?)");
  st.bind(1, artifact_type);
  std::vector<Unreferred> out;
  while (st.step()) out.push_back({st.get_text(0), st.get_text(1), st.get_int(2)});
  return out;
}

std::vector<std::string> InventoryRepository::index_children(sqlite::Connection& c,
                                                             const std::string& manifest,
                                                             bool inventoried) {
  auto q = c.prepare(
      inventoried
          ? "SELECT child FROM manifest_refs r JOIN image_inventory i ON i.manifest = r.child "
            "WHERE r.manifest = ? AND r.kind = 'manifest'"
          : "SELECT child FROM manifest_refs WHERE manifest = ? AND kind = 'manifest'");
  q.bind(1, manifest);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.get_text(0));
  return out;
}

}  // namespace airheal::scan
