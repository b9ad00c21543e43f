#include "heal/deb/resolver.hpp"

#include <algorithm>
#include <optional>

#include "version/version.hpp"

namespace airheal::heal::deb {
namespace {

int vcmp(std::string_view a, std::string_view b) { return version::compare_dpkg(a, b).value_or(0); }

// One package of the image as the heal would leave it.
struct Slot {
  const Package* pkg = nullptr;       // what is there after the heal
  const Package* original = nullptr;  // what is there now; null for a newly installed package
  std::optional<std::size_t> pool;
  std::string origin, needed_by;
  bool changed() const { return pool.has_value(); }
};

struct Failure {
  std::string source, reason;
  std::vector<std::string> missing;
};

class Round {
 public:
  Round(const ResolveInput& in, const std::set<std::string>& active) : in_(in), active_(active) {
    for (const auto& p : in_.installed)
      if (p.installed()) slots_.push_back(Slot{&p, &p, std::nullopt, "", ""});
    reindex();
    original_provided_ = provided_;
  }

  // Every requested source's fixed builds, then the closure. Failures name the sources to defer.
  std::vector<Failure> run(std::size_t& rounds) {
    std::vector<Failure> failures;
    for (const auto& req : in_.requests)
      if (active_.count(req.source))
        if (auto f = choose_fixed(req)) failures.push_back(std::move(*f));
    if (!failures.empty()) return failures;
    auto baseline = original_problems();
    // Each pass settles one problem by adding or upgrading a package, or fails; the pool bounds
    // the number of additions.
    for (std::size_t pass = 0; pass <= in_.pool.size() + slots_.size(); ++pass) {
      ++rounds;
      auto problem = first_new_problem(baseline);
      if (!problem) return {};
      if (auto f = settle(*problem)) return {std::move(*f)};
    }
    return {Failure{
        in_.requests.empty() ? "" : *active_.begin(), "the dependency closure did not settle", {}}};
  }

  std::vector<Choice> choices() const {
    std::vector<Choice> out;
    for (const auto& s : slots_)
      if (s.changed()) out.push_back(Choice{*s.pool, s.origin, s.needed_by, s.original != nullptr});
    std::sort(out.begin(), out.end(), [&](const Choice& a, const Choice& b) {
      return std::tie(in_.pool[a.pool].name, in_.pool[a.pool].architecture) <
             std::tie(in_.pool[b.pool].name, in_.pool[b.pool].architecture);
    });
    return out;
  }

 private:
  struct Problem {
    enum Kind { unmet_changed, unmet_unchanged, breaks } kind;
    std::size_t slot = 0, other = 0;  // other: the broken/conflicting package for `breaks`
    const Alternatives* group = nullptr;
    const Relation* relation = nullptr;
    bool pre = false;
    std::string key;
  };

  bool arch_ok(const Package& candidate, const std::string& slot_arch) const {
    if (candidate.architecture == "all") return true;
    if (slot_arch.empty() || slot_arch == "all") return candidate.architecture == in_.architecture;
    return candidate.architecture == slot_arch;
  }

  void reindex() {
    by_name_.clear();
    provided_.clear();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      by_name_[slots_[i].pkg->name].push_back(i);
      for (const auto& pr : slots_[i].pkg->provides) provided_[pr.name].push_back(i);
    }
  }

  // Packages of the current set satisfying R (by name or Provides).
  std::vector<std::size_t> satisfiers(const Relation& r, bool original) const {
    std::vector<std::size_t> out;
    auto look = [&](const std::map<std::string, std::vector<std::size_t>>& idx) {
      auto it = idx.find(r.name);
      if (it == idx.end()) return;
      for (auto i : it->second) {
        const Package* p = original ? slots_[i].original : slots_[i].pkg;
        if (p && satisfies(r, *p) && std::find(out.begin(), out.end(), i) == out.end())
          out.push_back(i);
      }
    };
    look(by_name_);
    look(provided_);
    if (original) look(original_provided_);
    return out;
  }

  bool group_met(const Alternatives& g) const {
    for (const auto& r : g)
      if (!satisfiers(r, false).empty()) return true;
    return false;
  }

  // The unmet dependencies the image already has, which a heal neither causes nor must cure.
  std::set<std::string> original_problems() const {
    std::set<std::string> keys;
    auto met_originally = [&](const Alternatives& g) {
      for (const auto& r : g) {
        for (auto i : satisfiers(r, true))
          if (slots_[i].original) return true;
      }
      return false;
    };
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const auto* p = slots_[i].original;
      if (!p) continue;
      for (const auto* rels : {&p->pre_depends, &p->depends})
        for (const auto& g : *rels)
          if (!met_originally(g)) keys.insert(p->name + "|dep|" + text(g));
    }
    return keys;
  }

  std::optional<Problem> first_new_problem(const std::set<std::string>& baseline) const {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const auto& s = slots_[i];
      for (bool pre : {true, false})
        for (const auto& g : pre ? s.pkg->pre_depends : s.pkg->depends) {
          if (group_met(g)) continue;
          auto key = s.pkg->name + "|dep|" + text(g);
          if (baseline.count(key)) continue;
          return Problem{s.changed() ? Problem::unmet_changed : Problem::unmet_unchanged,
                         i,
                         0,
                         &g,
                         nullptr,
                         pre,
                         key};
        }
      for (const auto* rels : {&s.pkg->breaks, &s.pkg->conflicts})
        for (const auto& g : *rels)
          for (const auto& r : g)
            for (auto j : satisfiers(r, false)) {
              if (j == i || (!s.changed() && !slots_[j].changed())) continue;
              // A package may conflict with a virtual package it provides itself or that its own
              // replacement provides; only other packages count.
              if (slots_[j].pkg->name == s.pkg->name) continue;
              return Problem{Problem::breaks, i, j, nullptr, &r, false, ""};
            }
    }
    return std::nullopt;
  }

  // The highest pool build of NAME newer than FLOOR (when given) that fits SLOT_ARCH.
  std::optional<std::size_t> newest(const std::string& name, const std::string& slot_arch,
                                    const std::string* floor) const {
    std::optional<std::size_t> best;
    for (std::size_t c = 0; c < in_.pool.size(); ++c) {
      const auto& p = in_.pool[c];
      if (p.name != name || !arch_ok(p, slot_arch)) continue;
      if (floor && vcmp(p.version, *floor) <= 0) continue;
      if (best && vcmp(p.version, in_.pool[*best].version) <= 0) continue;
      best = c;
    }
    return best;
  }

  void choose(std::size_t slot, std::size_t c, const std::string& origin,
              const std::string& needed_by) {
    slots_[slot].pkg = &in_.pool[c];
    slots_[slot].pool = c;
    slots_[slot].origin = origin;
    slots_[slot].needed_by = needed_by;
    reindex();
  }

  void add(std::size_t c, const std::string& origin, const std::string& needed_by) {
    slots_.push_back(Slot{&in_.pool[c], nullptr, c, origin, needed_by});
    reindex();
  }

  // Binaries of the same source installed beside a package the closure upgraded move with it
  // when the pool has them (dpkg refuses many mixed versions, libc6 and libc-bin among them).
  void siblings(std::size_t c, const std::string& origin) {
    const auto& up = in_.pool[c];
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      auto& s = slots_[i];
      if (s.changed() || !s.original || s.original->source != up.source ||
          s.original->name == up.name)
        continue;
      for (std::size_t k = 0; k < in_.pool.size(); ++k) {
        const auto& p = in_.pool[k];
        if (p.name == s.original->name && p.source_version == up.source_version &&
            arch_ok(p, s.original->architecture) && vcmp(p.version, s.original->version) > 0) {
          choose(i, k, origin, "built from the same source as " + up.name + " " + up.version);
          break;
        }
      }
    }
  }

  std::optional<Failure> choose_fixed(const SourceRequest& req) {
    std::vector<std::string> missing;
    std::vector<std::pair<std::size_t, std::size_t>> picks;  // slot, pool
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const auto* p = slots_[i].original;
      if (!p || p->source != req.source) continue;
      if (p->held())
        return Failure{req.source,
                       p->name +
                           " is held in the image (dpkg selection \"hold\"); airheal does not "
                           "upgrade held packages",
                       {}};
      std::optional<std::size_t> best;
      for (std::size_t c = 0; c < in_.pool.size(); ++c) {
        const auto& cand = in_.pool[c];
        if (cand.name != p->name || !arch_ok(cand, p->architecture)) continue;
        if (vcmp(cand.source_version, req.fixed) < 0 || vcmp(cand.version, p->version) <= 0)
          continue;
        if (best && vcmp(cand.version, in_.pool[*best].version) <= 0) continue;
        best = c;
      }
      if (best)
        picks.emplace_back(i, *best);
      else
        missing.push_back(p->name);
    }
    if (!missing.empty() || picks.empty()) {
      std::string names;
      for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
      return Failure{req.source,
                     "no imported build of " + (names.empty() ? req.source : names) +
                         " from source " + req.source + " " + req.fixed + " or later",
                     missing};
    }
    for (auto [slot, c] : picks) {
      slots_[slot].pkg = &in_.pool[c];
      slots_[slot].pool = c;
      slots_[slot].origin = req.source;
    }
    reindex();
    return std::nullopt;
  }

  // The requested source behind a change that no longer satisfies GROUP for an unchanged package.
  std::string culprit(const Alternatives& group) const {
    for (const auto& r : group)
      for (std::size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].changed() && slots_[i].original && satisfies(r, *slots_[i].original))
          return slots_[i].origin;
    for (const auto& s : slots_)
      if (s.changed()) return s.origin;
    return "";
  }

  std::optional<Failure> settle(const Problem& pr) {
    auto& s = slots_[pr.slot];
    const auto field = pr.pre ? "pre-depends on " : "depends on ";
    if (pr.kind == Problem::unmet_changed) {
      // Take the first alternative the pool can satisfy, as apt prefers the first.
      for (const auto& r : *pr.group) {
        std::optional<std::size_t> best;
        for (std::size_t c = 0; c < in_.pool.size(); ++c) {
          const auto& cand = in_.pool[c];
          if (!arch_ok(cand, r.arch.empty() || r.arch == "any" || r.arch == "native"
                                 ? in_.architecture
                                 : r.arch))
            continue;
          if (!satisfies(r, cand)) continue;
          auto there = by_name_.find(cand.name);
          if (there != by_name_.end() &&
              vcmp(cand.version, slots_[there->second.front()].pkg->version) <= 0)
            continue;
          if (best && vcmp(cand.version, in_.pool[*best].version) <= 0) continue;
          best = c;
        }
        if (!best) continue;
        auto why = s.pkg->id() + " " + field + text(*pr.group);
        auto origin = s.origin;
        auto there = by_name_.find(in_.pool[*best].name);
        if (there != by_name_.end())
          choose(there->second.front(), *best, origin, why);
        else
          add(*best, origin, why);
        siblings(*best, origin);
        return std::nullopt;
      }
      // Say what the image has of each alternative, so the reason names the missing build.
      std::string have;
      for (const auto& r : *pr.group) {
        auto it = by_name_.find(r.name);
        if (it != by_name_.end())
          have += (have.empty() ? "" : ", ") + slots_[it->second.front()].pkg->id();
      }
      std::vector<std::string> missing;
      for (const auto& r : *pr.group) missing.push_back(r.name);
      return Failure{s.origin,
                     s.pkg->id() + " " + field + text(*pr.group) + "; " +
                         (have.empty() ? "the image does not have it" : "the image has " + have) +
                         " and no build that satisfies it is imported",
                     missing};
    }
    if (pr.kind == Problem::unmet_unchanged) {
      auto origin = culprit(*pr.group);
      auto why =
          s.pkg->id() + " " + field + text(*pr.group) + ", which the heal would otherwise break";
      if (auto c = newest(s.pkg->name, s.pkg->architecture, &s.pkg->version)) {
        auto c_id = *c;
        choose(pr.slot, c_id, origin, why);
        siblings(c_id, origin);
        return std::nullopt;
      }
      std::string changed;
      for (const auto& r : *pr.group)
        for (const auto& x : slots_)
          if (x.changed() && x.original && satisfies(r, *x.original))
            changed = x.original->name + " to " + x.pkg->version;
      return Failure{origin,
                     "upgrading " + (changed.empty() ? origin : changed) + " breaks " +
                         s.pkg->id() + " (installed), which " + field + text(*pr.group) +
                         "; no newer build of " + s.pkg->name + " is imported",
                     {s.pkg->name}};
    }
    // Breaks/Conflicts between two packages of the healed set: upgrade the unchanged one.
    auto& other = slots_[pr.other];
    auto declarer_changed = s.changed();
    auto& unchanged = declarer_changed ? other : s;
    auto unchanged_idx = declarer_changed ? pr.other : pr.slot;
    const auto& origin = declarer_changed ? s.origin : other.origin;
    auto what = s.pkg->id() + " breaks or conflicts with " + pr.relation->text() + ", which " +
                other.pkg->id() + " satisfies";
    if (!unchanged.changed()) {
      if (auto c =
              newest(unchanged.pkg->name, unchanged.pkg->architecture, &unchanged.pkg->version)) {
        auto c_id = *c;
        choose(unchanged_idx, c_id, origin, what);
        siblings(c_id, origin);
        return std::nullopt;
      }
      return Failure{origin,
                     what + "; no newer build of " + unchanged.pkg->name + " is imported",
                     {unchanged.pkg->name}};
    }
    return Failure{origin, what, {}};
  }

  const ResolveInput& in_;
  const std::set<std::string>& active_;
  std::vector<Slot> slots_;
  std::map<std::string, std::vector<std::size_t>> by_name_, provided_, original_provided_;
};

}  // namespace

Resolution resolve(const ResolveInput& in) {
  Resolution out;
  std::set<std::string> active;
  for (const auto& r : in.requests) active.insert(r.source);
  // Each round either settles or defers at least one source, so this ends.
  while (true) {
    Round round(in, active);
    auto failures = round.run(out.rounds);
    if (failures.empty()) {
      out.choices = round.choices();
      break;
    }
    bool progressed = false;
    for (auto& f : failures) {
      if (!active.count(f.source)) continue;
      active.erase(f.source);
      progressed = true;
      Deferral d;
      d.source = f.source;
      d.reason = std::move(f.reason);
      d.missing = std::move(f.missing);
      for (const auto& r : in.requests)
        if (r.source == f.source) {
          d.fixed = r.fixed;
          d.ids = r.ids;
        }
      out.deferred.push_back(std::move(d));
    }
    if (!progressed) {  // a failure no active source owns: defer everything rather than loop
      for (const auto& r : in.requests)
        if (active.count(r.source))
          out.deferred.push_back(Deferral{r.source, r.fixed, r.ids, failures.front().reason, {}});
      break;
    }
    if (active.empty()) break;
  }
  return out;
}

}  // namespace airheal::heal::deb
