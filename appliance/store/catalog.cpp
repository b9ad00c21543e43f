#include "store/catalog.hpp"

#include <algorithm>

namespace airheal::store {

std::optional<ManifestType> manifest_type(sqlite::Connection& c, const std::string& digest) {
  auto st = c.prepare("SELECT media_type, size FROM manifests WHERE digest = ?");
  st.bind(1, digest);
  if (!st.step()) return std::nullopt;
  return ManifestType{st.get_text(0), st.get_int(1)};
}

std::vector<std::string> repositories_of(sqlite::Connection& c, const std::string& digest) {
  auto st = c.prepare(
      "SELECT r.name FROM repo_manifests rm JOIN repositories r ON r.id = rm.repo_id WHERE "
      "rm.digest = ? ORDER BY r.name");
  st.bind(1, digest);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

std::vector<std::string> tags_of(sqlite::Connection& c, const std::string& digest) {
  auto st = c.prepare("SELECT t.name FROM tags t WHERE t.digest = ? ORDER BY t.name");
  st.bind(1, digest);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

std::vector<std::string> image_names(sqlite::Connection& c, const std::string& digest) {
  std::vector<std::string> out;
  std::vector<std::string> digests = {digest};
  auto parents =
      c.prepare("SELECT manifest FROM manifest_refs WHERE child = ? AND kind = 'manifest'");
  parents.bind(1, digest);
  while (parents.step()) digests.push_back(parents.get_text(0));
  for (const auto& d : digests) {
    for (auto& n : repositories_of(c, d))
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
    auto tags = c.prepare(
        "SELECT r.name, t.name FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE t.digest "
        "= ? ORDER BY r.name, t.name");
    tags.bind(1, d);
    while (tags.step()) out.push_back(tags.get_text(0) + ":" + tags.get_text(1));
  }
  return out;
}

std::optional<std::int64_t> manifest_stored_at(sqlite::Connection& c, const std::string& digest) {
  auto st = c.prepare("SELECT created_at FROM manifests WHERE digest = ?");
  st.bind(1, digest);
  if (!st.step()) return std::nullopt;
  return st.get_int(0);
}

std::vector<std::string> formerly_tagged_with_layer(sqlite::Connection& c, const std::string& layer,
                                                    const std::string& except) {
  auto st = c.prepare(
      "SELECT DISTINCT mr.manifest FROM manifest_refs mr WHERE mr.child = ? AND mr.kind = 'blob' "
      "AND mr.manifest != ? AND EXISTS (SELECT 1 FROM tag_history th WHERE th.digest = "
      "mr.manifest) ORDER BY mr.manifest");
  st.bind(1, layer).bind(2, except);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

std::optional<std::pair<std::string, std::string>> last_tag_of(sqlite::Connection& c,
                                                               const std::string& digest) {
  auto st = c.prepare(
      "SELECT r.name, th.tag FROM tag_history th JOIN repositories r ON r.id = th.repo_id WHERE "
      "th.digest = ? ORDER BY th.until DESC LIMIT 1");
  st.bind(1, digest);
  if (!st.step()) return std::nullopt;
  return std::pair{st.get_text(0), st.get_text(1)};
}

std::vector<ServedTag> served_tags(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT r.name, t.name, t.digest FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE "
      "t.name NOT LIKE '%-airheal-%' ORDER BY r.name, t.name");
  std::vector<ServedTag> out;
  while (st.step()) out.push_back(ServedTag{st.get_text(0), st.get_text(1), st.get_text(2)});
  return out;
}

std::vector<ServedTag> served_tags_at(sqlite::Connection& c, std::int64_t at) {
  // The oldest history row that ended after AT held the tag at AT; with none, the current digest
  // did. Either way only if the repository had that manifest by then (the history has no start
  // times; pushing the same digest again moves updated_at without a history row).
  auto st = c.prepare(
      "SELECT r.name, t.name, t.digest, t.updated_at, (SELECT th.digest FROM tag_history th WHERE "
      "th.repo_id = t.repo_id AND th.tag = t.name AND th.until > ?1 ORDER BY th.until ASC LIMIT "
      "1), t.repo_id FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE t.name NOT LIKE "
      "'%-airheal-%' ORDER BY r.name, t.name");
  st.bind(1, at);
  std::vector<ServedTag> out;
  while (st.step()) {
    bool from_history = !st.is_null(4);
    auto digest = from_history ? st.get_text(4) : st.get_text(2);
    auto stored =
        c.prepare("SELECT created_at FROM repo_manifests WHERE repo_id = ? AND digest = ?");
    stored.bind(1, st.get_int(5)).bind(2, digest);
    auto since = stored.step() ? stored.get_int(0) : st.get_int(3);
    if (!from_history) since = std::min(since, st.get_int(3));
    if (since <= at) out.push_back(ServedTag{st.get_text(0), st.get_text(1), digest});
  }
  return out;
}

}  // namespace airheal::store
