// The heals and heal_events tables: one typed row per heal, its state changes in order. The SQL
// for them is here; the engine composes these calls inside its own transactions (each takes the
// connection of the read or transaction it runs in).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/sqlite.hpp"
#include "heal/heal_state.hpp"

namespace airheal::heal {

struct HealRecord {
  std::int64_t id = 0;
  std::string repository, tag, original;
  HealState state = HealState::detected;
  std::string mode, strategy, staged_tag, staged, reason, log;
  nlohmann::json plan;
  std::int64_t created_at = 0, updated_at = 0;
  std::optional<std::int64_t> staged_at, promoted_at, fix_imported_at;
  std::int64_t heal_layer_size = 0, image_size = 0;
  nlohmann::json attestations =
      nlohmann::json::array();  // referrer digests with their predicate types
  std::string generation;       // imported content the heal was planned against
  std::string failure;  // why it failed or was held, classified (heal::to_slug), empty otherwise
  std::string failure_lines;  // the package manager's (or test's) own error lines
  nlohmann::json gates = nlohmann::json::array();  // verification: [{gate, result, detail}]
  nlohmann::json to_json() const;
};

class HealRepository {
 public:
  // A new heal in state detected, with its first event. Returns its id.
  static std::int64_t create(sqlite::Connection& c, const std::string& repository,
                             const std::string& tag, const std::string& original,
                             const std::string& mode, const std::string& generation,
                             std::int64_t now);
  // Moves a heal to STATE and records the event.
  static void set_state(sqlite::Connection& c, std::int64_t id, HealState state,
                        const std::string& detail, std::int64_t now);
  // What a state change's journal record and webhook carry: "repository:tag" and the failure.
  struct Summary {
    std::string image, failure, failure_lines;
  };
  static Summary summary(sqlite::Connection& c, std::int64_t id);

  static void set_plan(sqlite::Connection& c, std::int64_t id, const std::string& strategy,
                       const nlohmann::json& plan, std::int64_t fix_imported_at);
  // The outcome of a failed or held heal: the reason, the (bounded) log and the classified failure.
  static void set_outcome(sqlite::Connection& c, std::int64_t id, const std::string& reason,
                          const std::string& log, const std::string& failure,
                          const std::string& failure_lines);
  static void set_gates(sqlite::Connection& c, std::int64_t id, const nlohmann::json& gates);
  static void set_reason(sqlite::Connection& c, std::int64_t id, const std::string& reason);
  static void set_generation(sqlite::Connection& c, std::int64_t id, const std::string& generation);
  static void set_staged_image(sqlite::Connection& c, std::int64_t id,
                               const std::string& staged_tag, const std::string& staged,
                               std::int64_t heal_layer_size, std::int64_t image_size);
  static void set_staged(sqlite::Connection& c, std::int64_t id, std::int64_t now,
                         const std::string& log, const std::string& reason);
  // Marks ID promoted at NOW; an earlier promoted heal of the same tag is superseded (rolled back).
  static void set_promoted(sqlite::Connection& c, std::int64_t id, const std::string& repository,
                           const std::string& tag, std::int64_t now, const std::string& reason);

  static std::optional<HealRecord> get(sqlite::Connection& c, std::int64_t id);
  // Every heal in id order, without the build logs (up to 4 MiB each).
  static std::vector<HealRecord> list(sqlite::Connection& c);
  static std::vector<nlohmann::json> events(sqlite::Connection& c, std::int64_t id);
  // The latest promoted heal of REPOSITORY:TAG.
  static std::optional<HealRecord> latest_promoted(sqlite::Connection& c,
                                                   const std::string& repository,
                                                   const std::string& tag);
  // The latest held, staged or promoted heal of REPOSITORY:TAG from ORIGINAL.
  static std::optional<HealRecord> latest_settled(sqlite::Connection& c,
                                                  const std::string& repository,
                                                  const std::string& tag,
                                                  const std::string& original);
  // The original a promoted heal of REPOSITORY:TAG staged as STAGED was made from.
  static std::optional<std::string> original_of_promoted(sqlite::Connection& c,
                                                         const std::string& repository,
                                                         const std::string& tag,
                                                         const std::string& staged);
  // Staged tags every heal of REPOSITORY used (also those whose tag was since removed).
  static std::set<std::string> staged_tags(sqlite::Connection& c, const std::string& repository);
  // Heals in flight (detected, planned, building, verifying): after a restart, interrupted ones.
  static std::vector<std::int64_t> in_flight(sqlite::Connection& c);
  // The promoted heal each tag serves now (its latest promotion, the tag still at the staged
  // digest), by repository and tag: what nodes pin.
  struct Serving {
    std::string repository, tag, staged, original;
    std::int64_t id = 0, promoted_at = 0;
  };
  static std::vector<Serving> serving(sqlite::Connection& c);
  // Staged or promoted heals by STRATEGY with a staged image, newest first, at most LIMIT: the
  // heals whose layer another image may reuse (PLAN is the plan's JSON text).
  struct Reusable {
    std::int64_t id = 0;
    std::string original, staged, plan;
  };
  static std::vector<Reusable> reusable(sqlite::Connection& c, const std::string& strategy,
                                        int limit);
  // Every build's duration in seconds: from a heal entering "building" to its next state.
  static std::vector<double> build_durations(sqlite::Connection& c);
  // The attestations stored for ID's staged image (digest and predicate type each).
  static void set_attestations(sqlite::Connection& c, std::int64_t id,
                               const nlohmann::json& attestations);
};

}  // namespace airheal::heal
