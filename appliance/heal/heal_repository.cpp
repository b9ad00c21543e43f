#include "heal/heal_repository.hpp"

#include "core/time.hpp"
#include "scan/sbom.hpp"

namespace airheal::heal {
using nlohmann::json;

namespace {

HealRecord read_row(const sqlite::Statement& st) {
  HealRecord h;
  h.id = st.get_int(0);
  h.repository = st.get_text(1);
  h.tag = st.get_text(2);
  h.original = st.get_text(3);
  h.state =
      parse_heal_state(st.get_text(4)).value_or(HealState::failed);  // only the engine writes it
  h.mode = st.get_text(5);
  h.strategy = st.get_text(6);
  h.plan = json::parse(st.get_text(7), nullptr, false);
  h.staged_tag = st.get_optional_text(8).value_or("");
  h.staged = st.get_optional_text(9).value_or("");
  h.reason = st.get_text(10);
  h.log = st.get_text(11);
  h.created_at = st.get_int(12);
  h.updated_at = st.get_int(13);
  if (!st.is_null(14)) h.staged_at = st.get_int(14);
  if (!st.is_null(15)) h.promoted_at = st.get_int(15);
  if (!st.is_null(16)) h.fix_imported_at = st.get_int(16);
  h.heal_layer_size = st.is_null(17) ? 0 : st.get_int(17);
  h.image_size = st.is_null(18) ? 0 : st.get_int(18);
  h.attestations = json::parse(st.get_text(19), nullptr, false);
  if (!h.attestations.is_array()) h.attestations = json::array();
  h.generation = st.get_text(20);
  h.failure = st.get_text(21);
  h.failure_lines = st.get_text(22);
  h.gates = json::parse(st.get_text(23), nullptr, false);
  if (!h.gates.is_array()) h.gates = json::array();
  return h;
}

constexpr const char* kSelect =
    "SELECT id, repository, tag, original, state, mode, strategy, plan, staged_tag, staged, "
    "reason, log, created_at, "
    "updated_at, staged_at, promoted_at, fix_imported_at, heal_layer_size, image_size, "
    "attestations, generation, failure, failure_lines, gates "
    "FROM heals";

const std::string& without_logs() {
  static const std::string q = [] {
    std::string s = kSelect;
    s.replace(s.find(" log,"), 5, " '' AS log,");
    return s;
  }();
  return q;
}

std::optional<HealRecord> one(sqlite::Statement& st) {
  if (st.step()) return read_row(st);
  return std::nullopt;
}

}  // namespace

json HealRecord::to_json() const {
  json j = {{"id", id},
            {"repository", repository},
            {"tag", tag},
            {"original", original},
            {"state", to_string(state)},
            {"mode", mode},
            {"strategy", strategy},
            {"plan", plan},
            {"reason", reason},
            {"created", scan::rfc3339(created_at)},
            {"updated", scan::rfc3339(updated_at)},
            {"attestations", attestations}};
  if (!staged_tag.empty()) j["staged_tag"] = staged_tag;
  if (!staged.empty()) j["staged"] = staged;
  if (!failure.empty()) j["failure"] = {{"class", failure}, {"lines", failure_lines}};
  if (!gates.empty()) j["gates"] = gates;
  if (staged_at) j["staged_at"] = scan::rfc3339(*staged_at);
  if (promoted_at) j["promoted_at"] = scan::rfc3339(*promoted_at);
  if (heal_layer_size) j["heal_layer_bytes"] = heal_layer_size;
  if (image_size) j["image_bytes"] = image_size;
  // Time to heal: from the import of the snapshot that carried the fix (or the heal's start when
  // the fix was already inside the gap) to staging and to promotion.
  if (fix_imported_at) j["fix_imported_at"] = scan::rfc3339(*fix_imported_at);
  auto from = fix_imported_at && *fix_imported_at <= created_at ? *fix_imported_at : created_at;
  if (staged_at) j["time_to_stage_seconds"] = *staged_at - from;
  if (promoted_at) j["time_to_promote_seconds"] = *promoted_at - from;
  // And as customers measure it: from the publication of the oldest vulnerability it removes.
  if (plan.is_object() && plan.contains("first_published") && plan["first_published"].is_string())
    if (auto pub = parse_time(plan["first_published"].get<std::string>())) {
      j["first_published"] = plan["first_published"];
      if (promoted_at) j["time_from_publication_seconds"] = *promoted_at - *pub;
    }
  return j;
}

std::int64_t HealRepository::create(sqlite::Connection& c, const std::string& repository,
                                    const std::string& tag, const std::string& original,
                                    const std::string& mode, const std::string& generation,
                                    std::int64_t now) {
  c.prepare(
       "INSERT INTO heals (repository, tag, original, state, mode, created_at, updated_at, "
       "generation) "
       "VALUES (?, ?, ?, 'detected', ?, ?, ?, ?)")
      .bind(1, repository)
      .bind(2, tag)
      .bind(3, original)
      .bind(4, mode)
      .bind(5, now)
      .bind(6, now)
      .bind(7, generation)
      .run();
  auto id = c.last_insert_rowid();
  c.prepare("INSERT INTO heal_events (heal, state, at, detail) VALUES (?, 'detected', ?, ?)")
      .bind(1, id)
      .bind(2, now)
      .bind(3, repository + ":" + tag + " at " + original)
      .run();
  return id;
}

void HealRepository::set_state(sqlite::Connection& c, std::int64_t id, HealState state,
                               const std::string& detail, std::int64_t now) {
  c.prepare("UPDATE heals SET state = ?, updated_at = ? WHERE id = ?")
      .bind(1, to_string(state))
      .bind(2, now)
      .bind(3, id)
      .run();
  c.prepare("INSERT INTO heal_events (heal, state, at, detail) VALUES (?, ?, ?, ?)")
      .bind(1, id)
      .bind(2, to_string(state))
      .bind(3, now)
      .bind(4, detail)
      .run();
}

HealRepository::Summary HealRepository::summary(sqlite::Connection& c, std::int64_t id) {
  auto st =
      c.prepare("SELECT repository || ':' || tag, failure, failure_lines FROM heals WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return {};
  return {st.get_text(0), st.get_text(1), st.get_text(2)};
}

void HealRepository::set_plan(sqlite::Connection& c, std::int64_t id, const std::string& strategy,
                              const json& plan, std::int64_t fix_imported_at) {
  auto st = c.prepare("UPDATE heals SET strategy = ?, plan = ?, fix_imported_at = ? WHERE id = ?");
  st.bind(1, strategy).bind(2, plan.dump());
  if (fix_imported_at)
    st.bind(3, fix_imported_at);
  else
    st.bind_null(3);
  st.bind(4, id).run();
}

void HealRepository::set_outcome(sqlite::Connection& c, std::int64_t id, const std::string& reason,
                                 const std::string& log, const std::string& failure,
                                 const std::string& failure_lines) {
  c.prepare("UPDATE heals SET reason = ?, log = ?, failure = ?, failure_lines = ? WHERE id = ?")
      .bind(1, reason)
      .bind(2, log)
      .bind(3, failure)
      .bind(4, failure_lines)
      .bind(5, id)
      .run();
}

void HealRepository::set_reason(sqlite::Connection& c, std::int64_t id, const std::string& reason) {
  c.prepare("UPDATE heals SET reason = ? WHERE id = ?").bind(1, reason).bind(2, id).run();
}

void HealRepository::set_generation(sqlite::Connection& c, std::int64_t id,
                                    const std::string& generation) {
  c.prepare("UPDATE heals SET generation = ? WHERE id = ?").bind(1, generation).bind(2, id).run();
}

void HealRepository::set_staged_image(sqlite::Connection& c, std::int64_t id,
                                      const std::string& staged_tag, const std::string& staged,
                                      std::int64_t heal_layer_size, std::int64_t image_size) {
  c.prepare(
       "UPDATE heals SET staged_tag = ?, staged = ?, heal_layer_size = ?, image_size = ? WHERE id "
       "= ?")
      .bind(1, staged_tag)
      .bind(2, staged)
      .bind(3, heal_layer_size)
      .bind(4, image_size)
      .bind(5, id)
      .run();
}

void HealRepository::set_staged(sqlite::Connection& c, std::int64_t id, std::int64_t now,
                                const std::string& log, const std::string& reason) {
  c.prepare("UPDATE heals SET staged_at = ?, log = ?, reason = ? WHERE id = ?")
      .bind(1, now)
      .bind(2, log)
      .bind(3, reason)
      .bind(4, id)
      .run();
}

void HealRepository::set_promoted(sqlite::Connection& c, std::int64_t id,
                                  const std::string& repository, const std::string& tag,
                                  std::int64_t now, const std::string& reason) {
  c.prepare(
       "UPDATE heals SET state = 'rolled_back', reason = ? WHERE repository = ? AND tag = ? AND "
       "state = 'promoted' AND id != ?")
      .bind(1, "superseded by heal " + std::to_string(id))
      .bind(2, repository)
      .bind(3, tag)
      .bind(4, id)
      .run();
  c.prepare("UPDATE heals SET promoted_at = ?, reason = ? WHERE id = ?")
      .bind(1, now)
      .bind(2, reason)
      .bind(3, id)
      .run();
}

std::optional<HealRecord> HealRepository::get(sqlite::Connection& c, std::int64_t id) {
  auto st = c.prepare(std::string(kSelect) + " WHERE id = ?");
  st.bind(1, id);
  return one(st);
}

std::vector<HealRecord> HealRepository::list(sqlite::Connection& c) {
  std::vector<HealRecord> out;
  auto st = c.prepare(without_logs() + " ORDER BY id");
  while (st.step()) out.push_back(read_row(st));
  return out;
}

std::vector<json> HealRepository::events(sqlite::Connection& c, std::int64_t id) {
  std::vector<json> out;
  auto st = c.prepare("SELECT state, at, detail FROM heal_events WHERE heal = ? ORDER BY rowid");
  st.bind(1, id);
  while (st.step())
    out.push_back({{"state", st.get_text(0)},
                   {"at", scan::rfc3339(st.get_int(1))},
                   {"detail", st.get_text(2)}});
  return out;
}

std::optional<HealRecord> HealRepository::latest_promoted(sqlite::Connection& c,
                                                          const std::string& repository,
                                                          const std::string& tag) {
  auto st = c.prepare(
      std::string(kSelect) +
      " WHERE repository = ? AND tag = ? AND state = 'promoted' ORDER BY id DESC LIMIT 1");
  st.bind(1, repository).bind(2, tag);
  return one(st);
}

std::optional<HealRecord> HealRepository::latest_settled(sqlite::Connection& c,
                                                         const std::string& repository,
                                                         const std::string& tag,
                                                         const std::string& original) {
  auto st = c.prepare(std::string(kSelect) +
                      " WHERE repository = ? AND tag = ? AND original = ? AND state IN ('held', "
                      "'staged', 'promoted') ORDER BY id DESC LIMIT 1");
  st.bind(1, repository).bind(2, tag).bind(3, original);
  return one(st);
}

std::optional<std::string> HealRepository::original_of_promoted(sqlite::Connection& c,
                                                                const std::string& repository,
                                                                const std::string& tag,
                                                                const std::string& staged) {
  auto st = c.prepare(
      "SELECT original FROM heals WHERE repository = ? AND tag = ? AND state = 'promoted' AND "
      "staged = ? ORDER BY id DESC LIMIT 1");
  st.bind(1, repository).bind(2, tag).bind(3, staged);
  if (st.step()) return st.get_text(0);
  return std::nullopt;
}

std::set<std::string> HealRepository::staged_tags(sqlite::Connection& c,
                                                  const std::string& repository) {
  std::set<std::string> out;
  auto st =
      c.prepare("SELECT staged_tag FROM heals WHERE repository = ? AND staged_tag IS NOT NULL");
  st.bind(1, repository);
  while (st.step()) out.insert(st.get_text(0));
  return out;
}

std::vector<std::int64_t> HealRepository::in_flight(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT id FROM heals WHERE state IN ('detected', 'planned', 'building', 'verifying') ORDER "
      "BY id");
  std::vector<std::int64_t> out;
  while (st.step()) out.push_back(st.get_int(0));
  return out;
}

std::vector<HealRepository::Serving> HealRepository::serving(sqlite::Connection& c) {
  auto st = c.prepare(
      "SELECT h.repository, h.tag, h.staged, h.id, h.original, ifnull(h.promoted_at, "
      "h.updated_at) FROM heals h JOIN repositories r ON r.name = h.repository JOIN tags t ON "
      "t.repo_id = r.id AND t.name = h.tag AND t.digest = h.staged WHERE h.state = 'promoted' AND "
      "h.id = (SELECT max(id) FROM heals h2 WHERE h2.repository = h.repository AND h2.tag = h.tag "
      "AND h2.state = 'promoted') ORDER BY h.repository, h.tag");
  std::vector<Serving> out;
  while (st.step()) {
    Serving s;
    s.repository = st.get_text(0);
    s.tag = st.get_text(1);
    s.staged = st.get_text(2);
    s.id = st.get_int(3);
    s.original = st.get_text(4);
    s.promoted_at = st.get_int(5);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<HealRepository::Reusable> HealRepository::reusable(sqlite::Connection& c,
                                                               const std::string& strategy,
                                                               int limit) {
  auto st = c.prepare(
      "SELECT id, original, staged, plan FROM heals WHERE state IN ('staged', 'promoted') AND "
      "staged IS NOT NULL AND strategy = ? ORDER BY id DESC LIMIT ?");
  st.bind(1, strategy).bind(2, static_cast<std::int64_t>(limit));
  enum Col { id, original, staged, plan };
  std::vector<Reusable> out;
  while (st.step())
    out.push_back(
        Reusable{st.get_int(id), st.get_text(original), st.get_text(staged), st.get_text(plan)});
  return out;
}

void HealRepository::set_attestations(sqlite::Connection& c, std::int64_t id,
                                      const nlohmann::json& attestations) {
  c.prepare("UPDATE heals SET attestations = ? WHERE id = ?")
      .bind(1, attestations.dump())
      .bind(2, id)
      .run();
}

std::vector<double> HealRepository::build_durations(sqlite::Connection& c) {
  auto ev = c.prepare("SELECT heal, state, at FROM heal_events ORDER BY heal, rowid");
  enum Col { heal, state, at };
  std::vector<double> out;
  std::int64_t current = -1, started = -1;
  while (ev.step()) {
    if (ev.get_int(heal) != current) current = ev.get_int(heal), started = -1;
    if (ev.get_text(state) == "building")
      started = ev.get_int(at);
    else if (started >= 0)
      out.push_back(static_cast<double>(ev.get_int(at) - started)), started = -1;
  }
  return out;
}

void HealRepository::set_gates(sqlite::Connection& c, std::int64_t id, const json& gates) {
  c.prepare("UPDATE heals SET gates = ? WHERE id = ?").bind(1, gates.dump()).bind(2, id).run();
}

}  // namespace airheal::heal
