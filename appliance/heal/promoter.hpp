// Where a healed image goes after verification: a staging tag of its own, then (on approval) the
// image's tag, with the original retained as the rollback target; rollback and hold. Each change
// moves the heal's state through the engine's transition (events, journal, webhooks).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "core/result.hpp"
#include "heal/heal_repository.hpp"
#include "heal/heal_state.hpp"
#include "store/store.hpp"

namespace airheal::heal {

class Promoter {
 public:
  // Moves heal ID to STATE with DETAIL; EXTRA runs in the same transaction; ACTOR (may be empty)
  // is the journal's actor for the change.
  using Transition = std::function<void(std::int64_t id, HealState state, const std::string& detail,
                                        const std::function<void(sqlite::Connection&)>& extra,
                                        const std::string& actor)>;
  Promoter(store::Store& store, Transition transition)
      : store_(store), transition_(std::move(transition)) {}

  // A free tag for REPO's staged image healed from TAG: TAG-airheal-YYYYMMDD.N, N from 1, not a tag
  // REPO has or a staged tag an earlier heal used (a removed tag's name is not reused).
  std::string staging_tag(const std::string& repo, const std::string& tag, const std::string& day);
  // The staged heal and its staged image, or why it cannot be approved: not staged, its tag moved
  // since the heal started (a tag serving an earlier heal of the same original has not), or the
  // staged image gone.
  Result<std::pair<HealRecord, store::ManifestRecord>> approvable(std::int64_t id);
  // Points the tag at the staged image; the original is retained for rollback.
  Result<HealRecord> approve(std::int64_t id, const std::string& by, const std::string& actor = {});
  // Restores the digest the tag had before its latest promoted heal.
  Result<HealRecord> rollback(const std::string& repo, const std::string& tag,
                              const std::string& by, const std::string& actor = {});
  // A staged heal is kept from promotion: held, with BY and WHY as the reason.
  Result<HealRecord> hold(std::int64_t id, const std::string& by, const std::string& why,
                          const std::string& actor = {});

 private:
  Result<HealRecord> record(std::int64_t id);
  store::Store& store_;
  Transition transition_;
};

}  // namespace airheal::heal
