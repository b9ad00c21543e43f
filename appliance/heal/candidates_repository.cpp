#include "heal/candidates_repository.hpp"

namespace airheal::heal {

namespace {

// No heal of the tag's digest (as original or staged image) planned against GENERATION or in
// flight.
constexpr const char* kNotHealed =
    "NOT EXISTS (SELECT 1 FROM heals h WHERE h.repository = r.name AND h.tag = t.name AND "
    "(h.original = t.digest OR h.staged = t.digest) AND "
    "(h.generation = ? OR h.state IN ('detected', 'planned', 'building', 'verifying')))";

}  // namespace

std::vector<CandidatesRepository::Tag> CandidatesRepository::with_fixes(
    sqlite::Connection& c, const std::string& generation) {
  auto st = c.prepare(
      std::string("SELECT r.name, t.name FROM tags t JOIN repositories r ON r.id = t.repo_id "
                  "WHERE t.name NOT LIKE '%-airheal-%' AND EXISTS (SELECT 1 FROM findings f "
                  "WHERE f.manifest = t.digest AND f.fix_available IN ('package', 'artifact', "
                  "'dependency')) AND ") +
      kNotHealed + " ORDER BY r.name, t.name");
  st.bind(1, generation);
  std::vector<Tag> out;
  while (st.step()) out.emplace_back(st.get_text(0), st.get_text(1));
  return out;
}

std::vector<CandidatesRepository::NamedBase> CandidatesRepository::naming_their_base(
    sqlite::Connection& c, const std::string& generation) {
  auto st = c.prepare(
      std::string(
          "SELECT r.name, t.name, json_extract(m.annotations, "
          "'$.\"org.opencontainers.image.base.name\"'), json_extract(m.annotations, "
          "'$.\"org.opencontainers.image.base.digest\"') FROM tags t JOIN repositories r ON r.id = "
          "t.repo_id JOIN manifests m ON m.digest = t.digest WHERE t.name NOT LIKE '%-airheal-%' "
          "AND json_valid(m.annotations) AND json_type(m.annotations, "
          "'$.\"org.opencontainers.image.base.digest\"') = 'text' AND json_type(m.annotations, "
          "'$.\"org.opencontainers.image.base.name\"') = 'text' AND EXISTS (SELECT 1 FROM "
          "findings f WHERE f.manifest = t.digest) AND ") +
      kNotHealed);
  st.bind(1, generation);
  std::vector<NamedBase> out;
  while (st.step()) out.push_back({st.get_text(0), st.get_text(1), st.get_text(2), st.get_text(3)});
  return out;
}

std::optional<std::string> CandidatesRepository::tag_digest(sqlite::Connection& c,
                                                            const std::string& repository,
                                                            const std::string& tag) {
  auto st = c.prepare(
      "SELECT t.digest FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE r.name = ? AND "
      "t.name = ?");
  st.bind(1, repository).bind(2, tag);
  if (!st.step()) return std::nullopt;
  return st.get_text(0);
}

std::vector<std::pair<std::string, std::int64_t>> CandidatesRepository::moved_versions(
    sqlite::Connection& c, int limit) {
  auto st = c.prepare(
      "SELECT th.digest, max(th.until) FROM tag_history th JOIN tags t ON t.repo_id = th.repo_id "
      "AND t.name = th.tag WHERE t.digest != th.digest GROUP BY th.digest ORDER BY max(th.until) "
      "DESC LIMIT ?");
  st.bind(1, std::int64_t{limit});
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (st.step()) out.emplace_back(st.get_text(0), st.get_int(1));
  return out;
}

std::vector<CandidatesRepository::Tagged> CandidatesRepository::unnamed_users_of(
    sqlite::Connection& c, const std::string& first_layer, const std::string& old_base,
    std::int64_t until) {
  auto st = c.prepare(
      "SELECT DISTINCT r.name, t.name, t.digest FROM manifest_refs mr JOIN tags t ON t.digest = "
      "mr.manifest JOIN repositories r ON r.id = t.repo_id JOIN manifests m ON m.digest = t.digest "
      "WHERE mr.child = ? AND mr.kind = 'blob' AND t.digest != ? AND t.name NOT LIKE "
      "'%-airheal-%' AND NOT ifnull(json_valid(m.annotations) AND json_type(m.annotations, "
      "'$.\"org.opencontainers.image.base.digest\"') = 'text', 0) AND EXISTS (SELECT 1 FROM "
      "findings f WHERE f.manifest = t.digest) AND NOT EXISTS (SELECT 1 FROM heals h WHERE "
      "h.repository = r.name AND h.tag = t.name AND (h.original = t.digest OR h.staged = t.digest) "
      "AND (h.created_at >= ? OR h.state IN ('detected', 'planned', 'building', 'verifying')))");
  st.bind(1, first_layer).bind(2, old_base).bind(3, until);
  std::vector<Tagged> out;
  while (st.step()) out.push_back({st.get_text(0), st.get_text(1), st.get_text(2)});
  return out;
}

}  // namespace airheal::heal
