#include "heal/promoter.hpp"

#include <set>

namespace airheal::heal {

Result<HealRecord> Promoter::record(std::int64_t id) {
  auto h = store_.read([&](sqlite::Connection& c) { return HealRepository::get(c, id); });
  if (!h) return make_error(Errc::not_found, "no heal " + std::to_string(id));
  return std::move(*h);
}

std::string Promoter::staging_tag(const std::string& repo, const std::string& tag,
                                  const std::string& day) {
  auto base = tag.substr(0, 100) + "-airheal-" + day + ".";
  std::set<std::string> taken;
  if (auto tags = store_.list_tags(repo, 0, ""); tags)
    for (const auto& t : *tags) taken.insert(t);
  // Staged tags of heals whose tag was since removed count too.
  for (auto& t :
       store_.read([&](sqlite::Connection& c) { return HealRepository::staged_tags(c, repo); }))
    taken.insert(t);
  for (int n = 1;; ++n)
    if (!taken.count(base + std::to_string(n))) return base + std::to_string(n);
}

Result<std::pair<HealRecord, store::ManifestRecord>> Promoter::approvable(std::int64_t id) {
  auto h = record(id);
  if (!h) return h.error();
  if (h->state != HealState::staged)
    return make_error(Errc::conflict,
                      "heal " + std::to_string(id) + " is " + to_string(h->state) + ", not staged");
  auto current = store_.get_manifest(h->repository, h->tag);
  if (current && current->digest.str() != h->original) {
    // Promoting over an earlier promoted heal of the same original is a re-heal, not a conflict.
    auto promoted_from = store_.read([&](sqlite::Connection& c) {
      return HealRepository::original_of_promoted(c, h->repository, h->tag, current->digest.str());
    });
    if (promoted_from != h->original)
      return make_error(Errc::conflict, h->repository + ":" + h->tag +
                                            " has moved since the heal started (now " +
                                            current->digest.str() + "); heal it again");
  }
  auto staged = store_.get_manifest(h->repository, h->staged);
  if (!staged)
    return make_error(Errc::manifest_unknown,
                      "the staged image is gone: " + staged.error().message);
  return std::pair{std::move(*h), std::move(*staged)};
}

Result<HealRecord> Promoter::approve(std::int64_t id, const std::string& by,
                                     const std::string& actor) {
  auto a = approvable(id);
  if (!a) return a.error();
  const auto& h = a->first;
  const auto& staged = a->second;
  if (auto st = store_.retain(h.repository, *Digest::parse(h.original),
                              "rollback target of heal " + std::to_string(id));
      !st)
    return st.error();
  auto put = store_.put_manifest(h.repository, h.tag, *staged.bytes, staged.media_type, "heal");
  if (!put) return put.error();
  auto now = store_.now_seconds();
  transition_(
      id, HealState::promoted,
      "approved by " + by + ": " + h.repository + ":" + h.tag + " -> " + h.staged,
      [&](sqlite::Connection& c) {
        // An earlier promoted heal of the same tag is superseded; this one is what rollback undoes.
        HealRepository::set_promoted(c, id, h.repository, h.tag, now, "approved by " + by);
      },
      actor);
  return record(id);
}

Result<HealRecord> Promoter::rollback(const std::string& repo, const std::string& tag,
                                      const std::string& by, const std::string& actor) {
  auto h = store_.read(
      [&](sqlite::Connection& c) { return HealRepository::latest_promoted(c, repo, tag); });
  if (!h)
    return make_error(Errc::not_found, "no promoted heal of " + repo + ":" + tag + " to roll back");
  auto original = store_.get_manifest(repo, h->original);
  if (!original)
    return make_error(Errc::manifest_unknown, "the original image " + h->original +
                                                  " is gone: " + original.error().message);
  auto put = store_.put_manifest(repo, tag, *original->bytes, original->media_type, "heal");
  if (!put) return put.error();
  transition_(
      h->id, HealState::rolled_back,
      "rolled back by " + by + ": " + repo + ":" + tag + " -> " + h->original,
      [&](sqlite::Connection& c) { HealRepository::set_reason(c, h->id, "rolled back by " + by); },
      actor);
  return record(h->id);
}

Result<HealRecord> Promoter::hold(std::int64_t id, const std::string& by, const std::string& why,
                                  const std::string& actor) {
  auto h = record(id);
  if (!h) return h.error();
  if (h->state != HealState::staged)
    return make_error(Errc::conflict, "heal " + std::to_string(id) + " is " + to_string(h->state) +
                                          "; only a staged heal can be held");
  auto reason = "held by " + by + (why.empty() ? "" : ": " + why);
  transition_(
      id, HealState::held, reason,
      [&](sqlite::Connection& c) { HealRepository::set_reason(c, id, reason); }, actor);
  return record(id);
}

}  // namespace airheal::heal
