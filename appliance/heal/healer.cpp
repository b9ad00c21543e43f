#include "heal/healer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>

#include "core/fs.hpp"

namespace airheal::heal {

Healer::Healer(store::Store& store, Engine& engine, std::chrono::milliseconds poll,
               unsigned concurrency)
    : store_(store),
      engine_(engine),
      concurrency_(std::max(1u, concurrency)),
      worker_("healer", poll, [this] { pass(); }) {}

Healer::~Healer() { stop(); }

std::size_t Healer::recover() {
  std::vector<std::int64_t> ids;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(
        "SELECT id FROM heals WHERE state IN ('detected', 'planned', 'building', 'verifying')");
    while (st.step()) ids.push_back(st.get_int(0));
  });
  auto now = store_.now_seconds();
  for (auto id : ids) {
    store_.transaction([&](sqlite::Connection& c) {
      c.prepare("UPDATE heals SET state = 'failed', reason = ?, updated_at = ? WHERE id = ?")
          .bind(1,
                "interrupted (airheald stopped during the heal); the original tag was not changed")
          .bind(2, now)
          .bind(3, id)
          .run();
      c.prepare(
           "INSERT INTO heal_events (heal, state, at, detail) VALUES (?, 'failed', ?, 'interrupted "
           "by a restart')")
          .bind(1, id)
          .bind(2, now)
          .run();
    });
    std::error_code ec;
    std::filesystem::remove_all(store_.root() / "heal" / std::to_string(id), ec);
    std::filesystem::remove_all(store_.root() / "heal" / (std::to_string(id) + "-canary"), ec);
    spdlog::warn("heal {} was interrupted by a restart: marked failed", id);
  }
  engine_.reset_buildah_storage();
  return ids.size();
}

std::size_t Healer::pass() {
  std::vector<std::pair<std::string, std::string>> pending;
  store_.read([&](sqlite::Connection& c) {
    auto generation = Engine::content_generation(c);
    auto st = c.prepare(
        "SELECT r.name, t.name FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE t.name "
        "NOT LIKE '%-airheal-%' "
        "AND EXISTS (SELECT 1 FROM findings f WHERE f.manifest = t.digest AND f.fix_available IN "
        "('package', 'artifact', 'dependency')) "
        "AND NOT EXISTS (SELECT 1 FROM heals h WHERE h.repository = r.name AND h.tag = t.name AND "
        "(h.original = t.digest OR h.staged = t.digest) AND "
        "(h.generation = ? OR h.state IN ('detected', 'planned', 'building', 'verifying'))) ORDER "
        "BY r.name, t.name");
    st.bind(1, generation);
    while (st.step()) pending.emplace_back(st.get_text(0), st.get_text(1));
    // Upstream bumps: images with findings whose named base has moved on in this registry.
    auto bases = c.prepare(
        "SELECT r.name, t.name, json_extract(m.annotations, "
        "'$.\"org.opencontainers.image.base.name\"'), "
        "json_extract(m.annotations, '$.\"org.opencontainers.image.base.digest\"') FROM tags t "
        "JOIN repositories r ON r.id = t.repo_id JOIN manifests m ON m.digest = t.digest WHERE "
        "t.name NOT LIKE '%-airheal-%' "
        "AND json_valid(m.annotations) AND json_type(m.annotations, "
        "'$.\"org.opencontainers.image.base.digest\"') = 'text' "
        "AND json_type(m.annotations, '$.\"org.opencontainers.image.base.name\"') = 'text' "
        "AND EXISTS (SELECT 1 FROM findings f WHERE f.manifest = t.digest) "
        "AND NOT EXISTS (SELECT 1 FROM heals h WHERE h.repository = r.name AND h.tag = t.name AND "
        "(h.original = t.digest OR h.staged = t.digest) AND "
        "(h.generation = ? OR h.state IN ('detected', 'planned', 'building', 'verifying')))");
    bases.bind(1, generation);
    while (bases.step()) {
      auto ref = base_reference(bases.get_text(2));
      if (!ref) continue;
      auto now = c.prepare(
          "SELECT t.digest FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE r.name = ? "
          "AND t.name = ?");
      now.bind(1, ref->first).bind(2, ref->second);
      if (!now.step() || now.get_text(0) == bases.get_text(3)) continue;
      std::pair<std::string, std::string> item{bases.get_text(0), bases.get_text(1)};
      if (std::find(pending.begin(), pending.end(), item) == pending.end()) pending.push_back(item);
    }
    // Upstream bumps for images that do not name their base: an earlier version of some tag
    // (tag_history) whose layers lead the image's, where that tag has since moved on and the image
    // has not been healed since it moved.
    auto moved = c.prepare(
        "SELECT th.digest, max(th.until) FROM tag_history th JOIN tags t ON t.repo_id = th.repo_id "
        "AND t.name = th.tag "
        "WHERE t.digest != th.digest GROUP BY th.digest ORDER BY max(th.until) DESC LIMIT 200");
    while (moved.step()) {
      auto old_base = moved.get_text(0);
      auto until = moved.get_int(1);
      auto od = Digest::parse(old_base);
      auto ob = od ? fs::read_file(store_.blob_path(*od), 8 << 20)
                   : Result<std::string>(make_error(Errc::not_found, ""));
      if (!ob) continue;
      auto om = oci::parse_manifest(*ob, oci::media::kOciManifest);
      if (!om || om->is_index || om->layers.empty()) continue;
      auto users = c.prepare(
          "SELECT DISTINCT r.name, t.name, t.digest FROM manifest_refs mr JOIN tags t ON t.digest "
          "= mr.manifest "
          "JOIN repositories r ON r.id = t.repo_id JOIN manifests m ON m.digest = t.digest "
          "WHERE mr.child = ? AND mr.kind = 'blob' AND t.digest != ? AND t.name NOT LIKE "
          "'%-airheal-%' "
          "AND NOT ifnull(json_valid(m.annotations) AND json_type(m.annotations, "
          "'$.\"org.opencontainers.image.base.digest\"') = 'text', 0) "
          "AND EXISTS (SELECT 1 FROM findings f WHERE f.manifest = t.digest) "
          "AND NOT EXISTS (SELECT 1 FROM heals h WHERE h.repository = r.name AND h.tag = t.name "
          "AND "
          "(h.original = t.digest OR h.staged = t.digest) AND "
          "(h.created_at >= ? OR h.state IN ('detected', 'planned', 'building', 'verifying')))");
      users.bind(1, om->layers[0].digest.str()).bind(2, old_base).bind(3, until);
      while (users.step()) {
        auto ud = Digest::parse(users.get_text(2));
        auto ub = ud ? fs::read_file(store_.blob_path(*ud), 8 << 20)
                     : Result<std::string>(make_error(Errc::not_found, ""));
        if (!ub) continue;
        auto um = oci::parse_manifest(*ub, oci::media::kOciManifest);
        if (!um || um->is_index || um->layers.size() <= om->layers.size()) continue;
        bool prefix = true;
        for (std::size_t i = 0; i < om->layers.size(); ++i)
          prefix = prefix && um->layers[i].digest == om->layers[i].digest;
        if (!prefix) continue;
        std::pair<std::string, std::string> item{users.get_text(0), users.get_text(1)};
        if (std::find(pending.begin(), pending.end(), item) == pending.end())
          pending.push_back(item);
      }
    }
  });
  std::atomic<std::size_t> next{0}, done{0};
  auto work = [&] {
    while (true) {
      if (worker_.stopping()) return;
      auto i = next++;
      if (i >= pending.size()) return;
      const auto& [repo, tag] = pending[i];
      try {
        auto r = engine_.heal(repo, tag);
        if (!r) {
          spdlog::warn("heal {}:{}: {}", repo, tag, r.error().message);
          continue;
        }
        ++done;
        spdlog::info("heal {} of {}:{}: {}{}", r->id, repo, tag, to_string(r->state),
                     r->reason.empty() ? "" : " (" + r->reason + ")");
      } catch (const std::exception& e) {
        spdlog::error("heal {}:{}: {}", repo, tag, e.what());
      }
    }
  };
  auto n = std::min<std::size_t>(concurrency_, pending.size());
  if (n <= 1) {
    work();
  } else {
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < n; ++i) threads.emplace_back(work);
    for (auto& t : threads) t.join();
  }
  return done;
}

void Healer::start() { worker_.start(); }
void Healer::stop() { worker_.stop(); }
void Healer::notify() { worker_.notify(); }

}  // namespace airheal::heal
