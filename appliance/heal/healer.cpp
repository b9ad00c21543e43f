#include "heal/healer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>

#include "core/fs.hpp"
#include "heal/candidates_repository.hpp"

namespace airheal::heal {

Healer::Healer(store::Store& store, Engine& engine, std::chrono::milliseconds poll,
               unsigned concurrency)
    : store_(store),
      engine_(engine),
      concurrency_(std::max(1u, concurrency)),
      worker_("healer", poll, [this] { pass(); }) {}

Healer::~Healer() { stop(); }

std::size_t Healer::recover() {
  auto ids = store_.read([](sqlite::Connection& c) { return HealRepository::in_flight(c); });
  auto now = store_.now_seconds();
  for (auto id : ids) {
    store_.transaction([&](sqlite::Connection& c) {
      HealRepository::set_state(c, id, HealState::failed, "interrupted by a restart", now);
      HealRepository::set_reason(
          c, id,
          "interrupted (airheald stopped during the heal); the original tag was not changed");
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
  auto add = [&](std::pair<std::string, std::string> item) {
    if (std::find(pending.begin(), pending.end(), item) == pending.end())
      pending.push_back(std::move(item));
  };
  store_.read([&](sqlite::Connection& c) {
    auto generation = Engine::content_generation(c);
    pending = CandidatesRepository::with_fixes(c, generation);
    // Upstream bumps: images with findings whose named base has moved on in this registry.
    for (const auto& b : CandidatesRepository::naming_their_base(c, generation)) {
      auto ref = base_reference(b.base_name);
      if (!ref) continue;
      auto now = CandidatesRepository::tag_digest(c, ref->first, ref->second);
      if (!now || *now == b.base_digest) continue;
      add({b.repository, b.tag});
    }
    // Upstream bumps for images that do not name their base: an earlier version of some tag
    // (tag_history) whose layers lead the image's, where that tag has since moved on and the image
    // has not been healed since it moved.
    for (const auto& [old_base, until] : CandidatesRepository::moved_versions(c, 200)) {
      auto od = Digest::parse(old_base);
      auto ob = od ? fs::read_file(store_.blob_path(*od), 8 << 20)
                   : Result<std::string>(make_error(Errc::not_found, ""));
      if (!ob) continue;
      auto om = oci::parse_manifest(*ob, oci::media::kOciManifest);
      if (!om || om->is_index || om->layers.empty()) continue;
      for (const auto& u :
           CandidatesRepository::unnamed_users_of(c, om->layers[0].digest.str(), old_base, until)) {
        auto ud = Digest::parse(u.digest);
        auto ub = ud ? fs::read_file(store_.blob_path(*ud), 8 << 20)
                     : Result<std::string>(make_error(Errc::not_found, ""));
        if (!ub) continue;
        auto um = oci::parse_manifest(*ub, oci::media::kOciManifest);
        if (!um || um->is_index || um->layers.size() <= om->layers.size()) continue;
        bool prefix = true;
        for (std::size_t i = 0; i < om->layers.size(); ++i)
          prefix = prefix && um->layers[i].digest == om->layers[i].digest;
        if (prefix) add({u.repository, u.tag});
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
