#include "heal/engine.hpp"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <map>
#include <regex>
#include <set>

#include "core/fs.hpp"
#include "core/oci.hpp"
#include "heal/deb/order.hpp"
#include "heal/deb/resolver.hpp"
#include "scan/binary.hpp"
#include "scan/layer.hpp"
#include "scan/sbom.hpp"
#include "scan/vex.hpp"
#include "version/version.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

// A heal's log as stored: whole up to 4 MiB, else its beginning and its end (where failures are).
std::string bounded_log(const std::string& log) {
  constexpr std::size_t kMax = 4u << 20;
  if (log.size() <= kMax) return log;
  return log.substr(0, kMax / 4) + "\n[... " + std::to_string(log.size() - kMax) + " bytes left out ...]\n" +
         log.substr(log.size() - (kMax - kMax / 4));
}

std::string today() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

HealRecord row(sqlite::Statement& st) {
  HealRecord h;
  h.id = st.get_int(0);
  h.repository = st.get_text(1);
  h.tag = st.get_text(2);
  h.original = st.get_text(3);
  h.state = st.get_text(4);
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
  return h;
}

constexpr const char* kSelect =
    "SELECT id, repository, tag, original, state, mode, strategy, plan, staged_tag, staged, reason, log, created_at, "
    "updated_at, staged_at, promoted_at, fix_imported_at, heal_layer_size, image_size, attestations, generation, failure, failure_lines "
    "FROM heals";

std::string strip_v(std::string v) { return !v.empty() && v[0] == 'v' ? v.substr(1) : v; }

// Names and versions from snapshot metadata become file names in the outbox and tokens in a
// lockfile: only the characters modules and packages use, no path segment that climbs.
bool safe_dependency(const std::string& package, const std::string& version) {
  static const std::regex pkg_re("[A-Za-z0-9@_][A-Za-z0-9._~/@+-]*"), ver_re("[A-Za-z0-9][A-Za-z0-9.+-]*");
  if (package.size() > 300 || version.size() > 100 || !std::regex_match(package, pkg_re) || !std::regex_match(version, ver_re))
    return false;
  return ("/" + package + "/").find("/../") == std::string::npos && ("/" + package + "/").find("/./") == std::string::npos &&
         package.find("//") == std::string::npos;
}

// What a replacement binary is built from, by ecosystem and name.
std::map<std::pair<std::string, std::string>, std::string> binary_components(const scan::BinaryInfo& b) {
  std::map<std::pair<std::string, std::string>, std::string> out;
  if (b.go) {
    if (auto v = scan::go_version_to_semver(b.go->go_version)) out[{"Go", "stdlib"}] = *v;
    if (!b.go->main.path.empty()) out[{"Go", b.go->main.path}] = b.go->main.version;
    for (const auto& d : b.go->deps) out[{"Go", d.path}] = d.version;
  }
  for (const auto& r : b.rust) out[{"crates.io", r.name}] = r.version;
  if (b.package_note) out[{"", b.package_note->value("name", "")}] = b.package_note->value("version", "");
  return out;
}

std::vector<std::string> split_ids(const std::string& fixes) {
  std::vector<std::string> ids;
  std::size_t start = 0;
  while (start <= fixes.size()) {
    auto comma = fixes.find(',', start);
    ids.push_back(fixes.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

std::string ids_text(const std::vector<std::string>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size() && i < 3; ++i) out += (i ? ", " : " ") + ids[i];
  if (ids.size() > 3) out += " and " + std::to_string(ids.size() - 3) + " more";
  return out;
}

}  // namespace

bool Plan::uses_dpkg() const {
  for (const auto& p : packages)
    if (p.record.empty()) return true;
  return false;
}

json Plan::to_json() const {
  json rb = nullptr;
  if (rebase)
    rb = {{"base", rebase->base_name}, {"from", rebase->old_base}, {"to", rebase->new_base}, {"base_layers", rebase->base_layers}};
  auto pins = json::array();
  for (const auto& p : packages) {
    json j = {{"name", p.name}, {"version", p.version}, {"architecture", p.architecture}, {"digest", p.digest}, {"fixes", p.fixes}};
    if (!p.record.empty()) j["record"] = p.record;
    if (!p.needed_by.empty()) j["needed_by"] = p.needed_by;
    pins.push_back(std::move(j));
  }
  auto arts = json::array();
  for (const auto& a : artifacts)
    arts.push_back({{"path", a.path}, {"name", a.name}, {"version", a.version}, {"digest", a.digest}, {"fixes", a.fixes}});
  auto deps = json::array();
  for (const auto& d : dependencies)
    deps.push_back({{"lockfile", d.lockfile}, {"ecosystem", d.ecosystem}, {"package", d.package}, {"from", d.installed},
                    {"version", d.version}, {"artifact", d.name}, {"digest", d.digest}, {"fixes", d.fixes}});
  json j = {{"strategy", strategy},   {"packages", pins},    {"artifacts", arts},       {"targeted", targeted},
            {"deferred", deferred},   {"missing", missing},  {"explanation", explanation}, {"snapshots", snapshots}};
  if (fix_imported_at) j["fix_imported_at"] = scan::rfc3339(fix_imported_at);
  if (!deferrals.empty()) j["deferrals"] = deferrals;
  if (!installer.empty()) j["installer"] = installer;
  if (!dpkg_batches.empty()) j["dpkg_batches"] = dpkg_batches;
  if (!apt_mark_auto.empty()) j["apt_mark_auto"] = apt_mark_auto;
  if (rebase) j["rebase"] = rb;
  if (!dependencies.empty()) {
    j["dependencies"] = deps;
    j["pinned"] = pinned;
  }
  return j;
}

json HealRecord::to_json() const {
  json j = {{"id", id},       {"repository", repository}, {"tag", tag},         {"original", original}, {"state", state},
            {"mode", mode},   {"strategy", strategy},     {"plan", plan},       {"reason", reason},
            {"created", scan::rfc3339(created_at)}, {"updated", scan::rfc3339(updated_at)},
            {"attestations", attestations}};
  if (!staged_tag.empty()) j["staged_tag"] = staged_tag;
  if (!staged.empty()) j["staged"] = staged;
  if (!failure.empty()) j["failure"] = {{"class", failure}, {"lines", failure_lines}};
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
  return j;
}

EngineOptions engine_options(const config::Config& cfg) {
  EngineOptions eo;
  eo.runtime = cfg.heal.runtime;
  eo.step_timeout = cfg.heal.step_timeout;
  eo.smoke_timeout = cfg.heal.smoke_timeout;
  eo.smoke_memory = cfg.heal.smoke_memory_bytes;
  eo.max_size_growth = cfg.heal.max_size_growth;
  eo.defer_days = cfg.heal.defer_days;
  eo.attest = cfg.heal.attest;
  eo.reuse_layers = cfg.heal.reuse_layers;
  eo.layer_compression = cfg.heal.layer_compression == "zstd" ? LayerCompression::zstd : LayerCompression::gzip;
  eo.outbox = cfg.outbox_directory();
  auto rules = cfg;  // the policy reads the rules of this configuration
  eo.policy = [rules](const std::string& repo) {
    auto r = rules.heal_rule(repo);
    return Policy{r.mode, r.test, r.canary};
  };
  return eo;
}

Engine::Engine(store::Store& store, scan::Scanner& scanner, audit::Journal* journal, EngineOptions options)
    : store_(store), scanner_(scanner), journal_(journal), options_(std::move(options)) {}

void Engine::journal(json record) {
  if (options_.notify) options_.notify(record);
  if (!journal_) return;
  if (!record.contains("actor")) record["actor"] = options_.actor;
  if (auto st = journal_->append(std::move(record)); !st) spdlog::warn("journal: {}", st.error().message);
}

std::string Engine::content_generation(sqlite::Connection& c) {
  auto st = c.prepare("SELECT (SELECT count(*) FROM content WHERE kind IN ('package', 'artifact')) || '/' || "
                      "(SELECT ifnull(max(imported_at), 0) FROM snapshots)");
  return st.step() ? st.get_text(0) : "";
}

Result<Plan> Engine::plan(const std::string& manifest, const std::string& repository) {
  json findings;
  std::optional<scan::ImageInventory> inv;
  struct Content {
    std::string name, version, digest, snapshot;
    json meta;
    std::int64_t imported_at;
  };
  std::vector<Content> packages, artifacts;
  store_.read([&](sqlite::Connection& c) {
    scan::FindingsQuery q;
    q.manifests = {manifest};
    q.include_suppressed = true;  // an exception accepts a risk until a fix arrives; a fix inside the gap heals it
    for (auto& f : scan::list_findings(c, q, store_.now_seconds()))
      if (!f.contains("suppressed") || f["suppressed"].value("by", "") != "vex") findings.push_back(std::move(f));
    if (findings.is_null()) findings = json::array();
    inv = scan::load_inventory(c, manifest);
    auto st = c.prepare(
        "SELECT c.kind, c.name, c.version, c.metadata, c.digest, c.snapshot, ifnull(s.imported_at, 0) FROM content c "
        "LEFT JOIN snapshots s ON s.digest = c.snapshot WHERE c.kind IN ('package', 'artifact')");
    while (st.step()) {
      Content x{st.get_text(1), st.get_text(2), st.get_text(4), st.get_text(5), json::parse(st.get_text(3), nullptr, false),
                st.get_int(6)};
      if (!x.meta.is_object()) continue;
      (st.get_text(0) == "package" ? packages : artifacts).push_back(std::move(x));
    }
  });
  if (!inv) return make_error(Errc::not_found, manifest + " has not been scanned");
  Plan p;
  std::set<std::string> used_snapshots;
  auto use = [&](const Content& c) {
    used_snapshots.insert(c.snapshot);
    p.fix_imported_at = std::max(p.fix_imported_at, c.imported_at);
  };
  // Which dpkg database a Debian component lives in: dpkg's own status file (the image can run
  // dpkg: package patch) or distroless status.d records (nothing can run: package files).
  bool has_dpkg = false;
  for (const auto& c : inv->components)
    if (c.type == "deb" && c.location == "var/lib/dpkg/status") has_dpkg = true;
  auto usable = [&](const std::string& location) {
    return has_dpkg ? location == "var/lib/dpkg/status" : location.rfind("var/lib/dpkg/status.d/", 0) == 0;
  };
  // Debian findings grouped by source package: a source is healed only with every installed
  // binary built from it (dpkg refuses mixed versions of perl and perl-base, for instance).
  struct SourceNeed {
    std::string fixed;  // the highest fixed version any of its findings needs
    std::set<std::string> ids;
  };
  std::map<std::string, SourceNeed> sources;
  // Findings in self-describing binaries, by the binary's path.
  struct BinaryNeed {
    std::string ecosystem, package, fixed, id;
  };
  std::map<std::string, std::vector<BinaryNeed>> binaries;
  std::set<std::string> targeted, deferred, pinned;
  // Findings in lockfiles, by (lockfile, ecosystem, package).
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<BinaryNeed>> lockfiles;
  std::map<std::pair<std::string, std::string>, std::string> installed_of;
  for (const auto& f : findings) {
    auto id = f["advisory"].get<std::string>();
    auto type = f["type"].get<std::string>();
    auto fixed = f["fixed"].get<std::string>();
    auto location = f["location"].get<std::string>();
    if (fixed.empty()) {
      deferred.insert(id);
    } else if ((type == "go-module" || type == "npm") && !location.empty()) {
      lockfiles[{location, f["ecosystem"].get<std::string>(), f["package"].get<std::string>()}].push_back(
          {f["ecosystem"].get<std::string>(), f["package"].get<std::string>(), fixed, id});
      installed_of[{location, f["package"].get<std::string>()}] = f.value("installed", "");
    } else if (type == "deb" && usable(location)) {
      auto& need = sources[f["source"].get<std::string>()];
      if (need.fixed.empty() || version::compare_dpkg(fixed, need.fixed).value_or(0) > 0) need.fixed = fixed;
      need.ids.insert(id);
    } else if (type != "deb" && type != "apk" && type != "rpm" && !location.empty()) {
      binaries[location].push_back({f["ecosystem"].get<std::string>(), f["package"].get<std::string>(), fixed, id});
    } else {
      deferred.insert(id);
    }
  }
  std::map<std::string, PackagePin> pins;  // by package name
  // Debian: the resolver picks the imported builds the way apt would (every installed binary of
  // each affected source, and what those builds need at versions the image does not have);
  // whatever it cannot complete is deferred with the missing build named.
  if (!sources.empty()) {
    auto db = debian_database(*Digest::parse(manifest), has_dpkg);
    std::vector<deb::SourceRequest> requests;
    for (const auto& [source, need] : sources) requests.push_back({source, need.fixed, need.ids});
    auto defer_source = [&](const std::string& source, const std::string& fixed, const std::set<std::string>& ids,
                            const std::string& reason, const std::vector<std::string>& missing) {
      deferred.insert(ids.begin(), ids.end());
      std::string m;
      for (const auto& x : missing) m += " " + x;
      p.missing.push_back(source + " " + fixed + ":" + m);
      p.deferrals.push_back({{"source", source}, {"fixed", fixed}, {"ids", ids}, {"reason", reason}, {"missing", missing}});
    };
    if (!db) {
      for (const auto& r : requests)
        defer_source(r.source, r.fixed, r.ids, "the image's package database cannot be read: " + db.error().message, {});
    } else {
      deb::ResolveInput in;
      in.installed = db->packages;
      in.architecture = db->architecture;
      in.requests = requests;
      std::vector<const Content*> pool_content;
      for (const auto& c : packages) {
        auto ctl = deb_control(c.digest);
        if (!ctl) {
          spdlog::warn("imported package {} {} is not usable: {}", c.name, c.version, ctl.error().message);
          continue;
        }
        auto pkg = deb::package_from(*ctl);
        // Snapshot metadata must describe the package itself.
        if (!pkg || pkg->name != c.name || pkg->version != c.version) continue;
        in.pool.push_back(std::move(*pkg));
        pool_content.push_back(&c);
      }
      auto res = deb::resolve(in);
      std::set<std::string> deferred_sources;
      for (const auto& d : res.deferred) {
        deferred_sources.insert(d.source);
        defer_source(d.source, d.fixed, d.ids, d.reason, d.missing);
      }
      for (const auto& ch : res.choices) {
        const auto& pkg = in.pool[ch.pool];
        const auto& c = *pool_content[ch.pool];
        std::string ids;
        if (ch.needed_by.empty())
          for (const auto& i : sources[ch.origin].ids) ids += (ids.empty() ? "" : ",") + i;
        std::string record;
        if (!has_dpkg) {
          auto it = db->record.find(pkg.name);
          record = it != db->record.end() ? it->second : "var/lib/dpkg/status.d/" + pkg.name;
        }
        pins[pkg.name] = PackagePin{pkg.name, pkg.version, pkg.architecture, c.digest, ids, record, ch.needed_by};
        use(c);
      }
      for (const auto& [source, need] : sources)
        if (!deferred_sources.count(source)) targeted.insert(need.ids.begin(), need.ids.end());
      if (!pins.empty()) {
        p.installer = !has_dpkg ? "files" : db->apt ? "apt" : "dpkg";
        if (p.installer == "apt") {
          // apt marks what it is asked to install as installed by hand; the image's own marks are
          // kept (so a later autoremove inside it behaves as before), and what the closure adds
          // is marked automatic, as apt would mark a dependency it pulled in.
          for (const auto& ch : res.choices) {
            const auto& name = in.pool[ch.pool].name;
            if (!ch.upgrade || db->auto_installed.count(name)) p.apt_mark_auto.push_back(name);
          }
        } else if (p.installer == "dpkg") {
          std::vector<deb::Package> ordered;
          for (const auto& ch : res.choices) ordered.push_back(in.pool[ch.pool]);
          for (const auto& batch : deb::dpkg_batches(ordered)) {
            p.dpkg_batches.emplace_back();
            for (auto i : batch) p.dpkg_batches.back().push_back(ordered[i].name);
          }
        }
      }
    }
  }
  for (auto& [n, pin] : pins) p.packages.push_back(pin);
  // Gold substitution: a signed artefact whose metadata names this binary's path (and, when it
  // says so, the repositories it is for), checked by reading what it is built from: it must carry
  // every fixed version (or no longer contain the vulnerable package at all).
  for (const auto& [location, needs] : binaries) {
    const Content* best = nullptr;
    std::set<std::string> best_fixes;
    for (const auto& c : artifacts) {
      auto path = c.meta.value("path", "");
      auto norm = scan::normalise_path(path);
      if (!norm || *norm != location) continue;
      auto repos = c.meta.value("repository", "");
      if (!repos.empty() && fnmatch(repos.c_str(), repository.c_str(), 0) != 0) continue;
      auto d = Digest::parse(c.digest);
      if (!d) continue;
      auto bytes = fs::read_file(store_.blob_path(*d), 1ull << 30);
      if (!bytes) continue;
      auto info = scan::read_binary(*bytes);
      if (info.empty()) continue;  // not a binary that says what it is built from: cannot be checked
      auto comps = binary_components(info);
      std::set<std::string> fixes;
      for (const auto& n : needs) {
        auto it = comps.find({n.ecosystem, n.package});
        if (it == comps.end()) {
          fixes.insert(n.id);  // the vulnerable package is gone
          continue;
        }
        auto cmp = version::compare(n.ecosystem, strip_v(it->second), strip_v(n.fixed));
        if (cmp && *cmp >= 0) fixes.insert(n.id);
      }
      if (fixes.size() > best_fixes.size() || (best && fixes.size() == best_fixes.size() && c.imported_at > best->imported_at)) {
        best = &c;
        best_fixes = fixes;
      }
    }
    if (!best || best_fixes.empty()) {
      for (const auto& n : needs) deferred.insert(n.id);
      p.missing.push_back("an artefact for /" + location + " with " + needs.front().package + " " + needs.front().fixed);
      continue;
    }
    std::string ids;
    for (const auto& i : best_fixes) ids += (ids.empty() ? "" : ",") + i;
    p.artifacts.push_back({location, best->name, best->version, best->digest, ids});
    use(*best);
    targeted.insert(best_fixes.begin(), best_fixes.end());
    for (const auto& n : needs)
      if (!best_fixes.count(n.id)) deferred.insert(n.id);
  }
  // Dependency pins: the lowest imported version that carries every fix (the smallest change to
  // the application's dependency graph).
  for (const auto& [key, needs] : lockfiles) {
    const auto& [lockfile, ecosystem, package] = key;
    const Content* best = nullptr;
    for (const auto& c : artifacts) {
      if (c.meta.value("ecosystem", "") != ecosystem || c.meta.value("package", "") != package) continue;
      auto v = c.meta.value("version", "");
      if (!safe_dependency(package, v) || (ecosystem == "Go" && v[0] != 'v')) continue;
      bool all = true;
      for (const auto& n : needs) {
        auto cmp = version::compare(ecosystem, strip_v(v), strip_v(n.fixed));
        if (!cmp || *cmp < 0) all = false;
      }
      if (!all) continue;
      if (best && version::compare(ecosystem, strip_v(v), strip_v(best->meta.value("version", ""))).value_or(0) >= 0) continue;
      best = &c;
    }
    if (!best) {
      for (const auto& n : needs) deferred.insert(n.id);
      p.missing.push_back(ecosystem + " " + package + " " + needs.front().fixed + " for /" + lockfile);
      continue;
    }
    std::string ids;
    std::set<std::string> idset;
    for (const auto& n : needs) idset.insert(n.id);
    for (const auto& i : idset) ids += (ids.empty() ? "" : ",") + i;
    auto inst = installed_of.find({lockfile, package});
    p.dependencies.push_back({lockfile, ecosystem, package, inst == installed_of.end() ? "" : inst->second,
                              best->meta.value("version", ""), best->name, best->digest, ids});
    use(*best);
    pinned.insert(idset.begin(), idset.end());
  }
  for (const auto& t : pinned) deferred.erase(t);
  for (const auto& t : targeted) deferred.erase(t);
  p.pinned.assign(pinned.begin(), pinned.end());
  p.targeted.assign(targeted.begin(), targeted.end());
  p.deferred.assign(deferred.begin(), deferred.end());
  p.snapshots.assign(used_snapshots.begin(), used_snapshots.end());

  // Upstream bump first: when the image's base has a newer version here that removes at least
  // every finding the package and artefact plan would, the image is rebased onto it.
  std::string no_bump;
  if (auto bump = upstream_bump(manifest, no_bump)) {
    std::set<std::string> covers(bump->targeted.begin(), bump->targeted.end());
    bool superset = !covers.empty();
    for (const auto& t : p.targeted)
      if (!covers.count(t)) superset = false;
    if (superset) {
      std::set<std::string> rest;
      for (const auto& f : findings)
        if (!covers.count(f["advisory"].get<std::string>())) rest.insert(f["advisory"].get<std::string>());
      for (const auto& x : p.pinned) rest.erase(x);
      bump->dependencies = p.dependencies;  // pins still go to the outbox
      bump->pinned = p.pinned;
      bump->deferred.assign(rest.begin(), rest.end());
      if (!bump->deferred.empty())
        bump->explanation += " Not fixed by the newer base and deferred: " + std::to_string(bump->deferred.size()) + " finding(s).";
      return *bump;
    }
  }
  std::vector<std::string> parts;
  if (p.uses_dpkg()) parts.push_back("package-patch");
  else if (!p.packages.empty()) parts.push_back("package-files");
  if (!p.artifacts.empty()) parts.push_back("gold-substitution");
  if (!p.dependencies.empty()) parts.push_back("dependency-pin");
  if (parts.empty()) {
    p.strategy = "defer";
    p.explanation = findings.empty() ? "Nothing to heal: the image has no open findings."
                                     : "No fix for these findings has been imported into the air gap yet: the heal is deferred.";
  } else {
    for (std::size_t i = 0; i < parts.size(); ++i) p.strategy += (i ? "+" : "") + parts[i];
    auto n = p.targeted.size();
    if (p.builds())
      p.explanation = "One heal layer over the original image, built with no network, removes " + std::to_string(n) +
                      " vulnerabilit" + (n == 1 ? "y" : "ies") + ".";
    if (!p.packages.empty()) {
      auto n_pkgs = std::to_string(p.packages.size());
      if (p.installer == "apt")
        p.explanation += " The image's own apt-get installs " + n_pkgs +
                         " fixed package(s) imported from a signed snapshot, from a local read-only repository that is the only "
                         "source it sees (apt orders pre-dependencies and configuration):";
      else if (p.installer == "dpkg")
        p.explanation += " The image has dpkg but no apt, so dpkg installs " + n_pkgs + " fixed package(s) imported from a signed snapshot in " +
                         std::to_string(p.dpkg_batches.size()) + " call(s), each package after the packages it pre-depends on:";
      else
        p.explanation += " The image has no package manager, so the files of " + n_pkgs +
                         " fixed package(s) imported from a signed snapshot are written into the layer "
                         "and their status.d records updated, so scanners see the fix:";
      std::map<std::string, std::vector<std::string>> by_fixes;  // packages upgraded together
      std::vector<std::string> closure;
      for (const auto& pin : p.packages) {
        if (pin.needed_by.empty()) by_fixes[pin.fixes].push_back(pin.name + " " + pin.version);
        else closure.push_back(pin.name + " " + pin.version + " (" + pin.needed_by + ")");
      }
      for (const auto& [fixes, names] : by_fixes) {
        p.explanation += " [";
        for (std::size_t i = 0; i < names.size(); ++i) p.explanation += (i ? ", " : "") + names[i];
        p.explanation += "] fixes" + ids_text(split_ids(fixes)) + ";";
      }
      if (!closure.empty()) {
        p.explanation += " and, because the fixed builds need them:";
        for (const auto& c : closure) p.explanation += " " + c + ";";
      }
    }
    for (const auto& a : p.artifacts)
      p.explanation += " /" + a.path + " is replaced by the signed artefact " + a.name + (a.version.empty() ? "" : " " + a.version) +
                       " (" + a.digest.substr(0, 19) + "), whose build information shows the fixed versions; it fixes" +
                       ids_text(split_ids(a.fixes)) + ";";
  }
  if (!p.dependencies.empty()) {
    p.explanation += std::string(p.explanation.empty() ? "" : " ") + "The application pins vulnerable dependencies in its " +
                     "lockfiles and fixed versions were imported; it must be rebuilt from source by its owners, so the pins " +
                     "(patched lockfiles and the imported modules, usable offline) are written to the outbox:";
    for (const auto& d : p.dependencies)
      p.explanation += " " + d.package + " " + d.installed + " -> " + d.version + " in /" + d.lockfile + " fixes" +
                       ids_text(split_ids(d.fixes)) + ";";
  }
  if (!p.deferred.empty()) {
    p.explanation += " Deferred (no fix inside the air gap): " + std::to_string(p.deferred.size()) + " finding(s)";
    if (!p.missing.empty()) {
      p.explanation += "; a snapshot must carry";
      for (const auto& m : p.missing) p.explanation += " [" + m + "]";
    }
    p.explanation += ".";
    for (const auto& d : p.deferrals) p.explanation += " " + d["source"].get<std::string>() + ": " + d["reason"].get<std::string>() + ".";
  }
  return p;
}

std::int64_t Engine::create(const std::string& repo, const std::string& tag, const std::string& original, const std::string& mode) {
  std::int64_t id = 0;
  auto now = store_.now_seconds();
  store_.transaction([&](sqlite::Connection& c) {
    c.prepare("INSERT INTO heals (repository, tag, original, state, mode, created_at, updated_at, generation) "
              "VALUES (?, ?, ?, 'detected', ?, ?, ?, ?)")
        .bind(1, repo).bind(2, tag).bind(3, original).bind(4, mode).bind(5, now).bind(6, now).bind(7, content_generation(c)).run();
    id = c.last_insert_rowid();
    c.prepare("INSERT INTO heal_events (heal, state, at, detail) VALUES (?, 'detected', ?, ?)")
        .bind(1, id).bind(2, now).bind(3, repo + ":" + tag + " at " + original).run();
  });
  journal({{"type", "heal.detected"}, {"heal", id}, {"image", repo + ":" + tag}, {"original", original}});
  return id;
}

void Engine::transition(std::int64_t id, const std::string& state, const std::string& detail,
                        const std::function<void(sqlite::Connection&)>& extra, const std::string& actor) {
  auto now = store_.now_seconds();
  std::string image, failure, failure_lines;
  store_.transaction([&](sqlite::Connection& c) {
    c.prepare("UPDATE heals SET state = ?, updated_at = ? WHERE id = ?").bind(1, state).bind(2, now).bind(3, id).run();
    c.prepare("INSERT INTO heal_events (heal, state, at, detail) VALUES (?, ?, ?, ?)")
        .bind(1, id).bind(2, state).bind(3, now).bind(4, detail).run();
    if (extra) extra(c);
    auto st = c.prepare("SELECT repository || ':' || tag, failure, failure_lines FROM heals WHERE id = ?");
    st.bind(1, id);
    if (st.step()) {
      image = st.get_text(0);
      failure = st.get_text(1);
      failure_lines = st.get_text(2);
    }
  });
  json record = {{"type", "heal." + state}, {"heal", id}, {"image", image}, {"detail", detail}};
  // Webhooks and the journal carry the classified failure beside the one-line reason.
  if ((state == "failed" || state == "held") && !failure.empty()) record["failure"] = {{"class", failure}, {"lines", failure_lines}};
  if (!actor.empty()) record["actor"] = actor;
  journal(std::move(record));
}

void Engine::fail_heal(std::int64_t id, const std::string& why, const std::string& log, const Failure& failure) {
  // The package manager's own error lines say more than the step's exit status.
  auto cls = failure.cls == FailureClass::none ? FailureClass::build_failed : failure.cls;
  auto reason = failure.lines.empty() ? why : failure.summary();
  transition(id, "failed", reason, [&](sqlite::Connection& c) {
    c.prepare("UPDATE heals SET reason = ?, log = ?, failure = ?, failure_lines = ? WHERE id = ?")
        .bind(1, reason).bind(2, bounded_log(log)).bind(3, to_slug(cls)).bind(4, failure.lines).bind(5, id).run();
  });
}

Result<deb::Paragraph> Engine::deb_control(const std::string& digest) {
  {
    std::lock_guard lock(controls_mutex_);
    if (auto it = controls_.find(digest); it != controls_.end()) return it->second;
  }
  auto d = Digest::parse(digest);
  if (!d) return make_error(Errc::digest_invalid, "bad package digest " + digest);
  auto ctl = read_deb_control(store_.blob_path(*d));
  if (!ctl) return ctl.error();
  auto paras = deb::parse_paragraphs(ctl->control, 1 << 20);
  if (!paras) return make_error(Errc::invalid_argument, "its control file: " + paras.error().message);
  if (paras->size() != 1) return make_error(Errc::invalid_argument, "its control file holds " + std::to_string(paras->size()) + " paragraphs");
  std::lock_guard lock(controls_mutex_);
  return controls_.emplace(digest, std::move(paras->front())).first->second;
}

Result<Engine::DebianDatabase> Engine::debian_database(const Digest& manifest, bool has_dpkg) {
  auto files = scanner_.image_files(manifest);
  if (!files) return files.error();
  auto mb = fs::read_file(store_.blob_path(manifest), 8 << 20);
  if (!mb) return mb.error();
  auto m = oci::parse_manifest(*mb, oci::media::kOciManifest);
  if (!m) return make_error(Errc::manifest_invalid, "the image's manifest cannot be read");
  auto read = [&](const std::string& path, std::uint64_t cap) -> Result<std::string> {
    auto it = files->find(path);
    if (it == files->end()) return make_error(Errc::not_found, path + " is not in the image");
    if (it->second.layer >= m->layers.size()) return make_error(Errc::io_error, "bad layer index for " + path);
    return scan::read_layer_file(store_.blob_path(m->layers[it->second.layer].digest), path, cap);
  };
  DebianDatabase db;
  auto take = [&](const std::string& path, std::string_view text) -> Status {
    auto paras = deb::parse_paragraphs(text);
    if (!paras) return make_error(Errc::invalid_argument, "/" + path + ": " + paras.error().message);
    for (const auto& para : *paras) {
      auto pkg = deb::package_from(para);
      if (!pkg) {
        spdlog::warn("/{}: a record airheal cannot read is left out of the plan: {}", path, pkg.error().message);
        continue;
      }
      if (!has_dpkg) db.record.emplace(pkg->name, path);
      db.packages.push_back(std::move(*pkg));
    }
    return {};
  };
  if (has_dpkg) {
    auto status = read("var/lib/dpkg/status", deb::kMaxControlBytes);
    if (!status) return status.error();
    if (auto st = take("var/lib/dpkg/status", *status); !st) return st.error();
    if (auto es = read("var/lib/apt/extended_states", 16 << 20)) {
      if (auto paras = deb::parse_paragraphs(*es))
        for (const auto& para : *paras)
          if (para.field("Auto-Installed") == "1") db.auto_installed.insert(std::string(para.field("Package")));
    }
  } else {
    for (const auto& [path, f] : *files) {
      if (path.rfind("var/lib/dpkg/status.d/", 0) != 0 || path.ends_with("md5sums") || f.file.type != 'f') continue;
      auto text = read(path, 16 << 20);
      if (!text) return text.error();
      if (auto st = take(path, *text); !st) return st.error();
    }
  }
  std::map<std::string, int> arches;
  for (const auto& p : db.packages) {
    if (p.installed() && p.architecture != "all" && !p.architecture.empty()) ++arches[p.architecture];
    if (p.name == "apt" && p.installed()) db.apt = files->count("usr/bin/apt-get") > 0;
  }
  db.architecture = "amd64";
  int most = 0;
  for (const auto& [a, n] : arches)
    if (n > most) {
      most = n;
      db.architecture = a;
    }
  return db;
}

std::string Engine::staging_tag(const std::string& repo, const std::string& tag) {
  auto base = tag.substr(0, 100) + "-airheal-" + today() + ".";
  std::set<std::string> taken;
  if (auto tags = store_.list_tags(repo, 0, ""); tags)
    for (const auto& t : *tags) taken.insert(t);
  store_.read([&](sqlite::Connection& c) {  // staged tags of heals whose tag was since removed count too
    auto st = c.prepare("SELECT staged_tag FROM heals WHERE repository = ? AND staged_tag IS NOT NULL");
    st.bind(1, repo);
    while (st.step()) taken.insert(st.get_text(0));
  });
  for (int n = 1;; ++n)
    if (!taken.count(base + std::to_string(n))) return base + std::to_string(n);
}

void Engine::defer_exceptions(std::int64_t id, const std::string& repo, const Plan& plan) {
  if (!options_.defer_days || plan.deferred.empty()) return;
  auto now = store_.now_seconds();
  std::vector<std::int64_t> made;
  store_.transaction([&](sqlite::Connection& c) {
    auto active = scan::list_exceptions(c, false, now);
    for (const auto& v : plan.deferred) {
      bool covered = false;
      for (const auto& e : active)
        if (e.vulnerability == v && e.product == repo) covered = true;
      if (covered) continue;
      scan::Exception e;
      e.vulnerability = v;
      e.product = repo;
      e.reason = "deferred by airheal heal " + std::to_string(id) +
                 ": no fix for it is inside the air gap yet; it is healed when a snapshot brings one";
      e.created_by = "airheal";
      e.expires_at = now + static_cast<std::int64_t>(options_.defer_days) * 86400;
      if (auto r = scan::add_exception(c, e, now)) made.push_back(r->id);
    }
  });
  for (auto x : made)
    journal({{"type", "exception.added"}, {"exception", x}, {"heal", id}, {"product", repo}, {"by", "airheal (deferral)"},
             {"expires", scan::rfc3339(now + static_cast<std::int64_t>(options_.defer_days) * 86400)}});
}

Result<HealRecord> Engine::heal(const std::string& repo, const std::string& tag, bool force) {
  auto current = store_.get_manifest(repo, tag);
  if (!current) return make_error(Errc::manifest_unknown, repo + ":" + tag + ": " + current.error().message);
  // Heal from the original, never from an earlier heal: a second heal replaces the heal layer.
  std::string original = current->digest.str();
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT original FROM heals WHERE repository = ? AND tag = ? AND state = 'promoted' AND staged = ? ORDER BY id DESC LIMIT 1");
    st.bind(1, repo).bind(2, tag).bind(3, original);
    if (st.step()) original = st.get_text(0);
  });
  auto scanned = scanner_.scan(*Digest::parse(original));
  if (!scanned) return scanned.error();
  Policy policy = options_.policy ? options_.policy(repo) : Policy{};
  auto p = plan(original, repo);
  if (!force && p) {
    std::optional<HealRecord> prev;
    store_.read([&](sqlite::Connection& c) {
      auto st = c.prepare(std::string(kSelect) + " WHERE repository = ? AND tag = ? AND original = ? AND state IN "
                                                 "('held', 'staged', 'promoted') ORDER BY id DESC LIMIT 1");
      st.bind(1, repo).bind(2, tag).bind(3, original);
      if (st.step()) prev = row(st);
    });
    auto now_plan = p->to_json();
    if (prev && prev->plan.is_object() && prev->plan.value("packages", json()) == now_plan["packages"] &&
        prev->plan.value("artifacts", json::array()) == now_plan["artifacts"] &&
        prev->plan.value("rebase", json()) == now_plan.value("rebase", json()) &&
        prev->plan.value("dependencies", json()) == now_plan.value("dependencies", json())) {
      store_.transaction([&](sqlite::Connection& c) {
        c.prepare("UPDATE heals SET generation = ? WHERE id = ?").bind(1, content_generation(c)).bind(2, prev->id).run();
      });
      return *get(prev->id);
    }
  }
  auto id = create(repo, tag, original, policy.mode);
  auto started = store_.now_seconds();
  if (!p) {
    fail_heal(id, p.error().message, "");
    return *get(id);
  }
  transition(id, "planned",
             p->strategy + ": " + std::to_string(p->packages.size()) + " package(s), " + std::to_string(p->artifacts.size()) +
                 " artefact(s), " + std::to_string(p->targeted.size()) + " targeted, " + std::to_string(p->deferred.size()) + " deferred",
             [&](sqlite::Connection& c) {
               auto st = c.prepare("UPDATE heals SET strategy = ?, plan = ?, fix_imported_at = ? WHERE id = ?");
               st.bind(1, p->strategy).bind(2, p->to_json().dump());
               if (p->fix_imported_at) st.bind(3, p->fix_imported_at);
               st.bind(4, id).run();
             });
  defer_exceptions(id, repo, *p);
  auto hold = [&](const std::string& why, const std::string& log = "", const Failure& failure = {}) {
    transition(id, "held", why, [&](sqlite::Connection& c) {
      c.prepare("UPDATE heals SET reason = ?, log = ?, failure = ?, failure_lines = ? WHERE id = ?")
          .bind(1, why).bind(2, bounded_log(log)).bind(3, to_slug(failure.cls)).bind(4, failure.lines).bind(5, id).run();
    });
    return *get(id);
  };
  bool pins = !p->dependencies.empty();
  if (policy.mode == "advisory" && (p->builds() || pins)) {
    auto st = write_outbox(id, repo, tag, original, *p, false);
    if (!st) {
      fail_heal(id, "advisory mode: the outbox could not be written: " + st.error().message, "");
      return *get(id);
    }
    return hold("advisory mode: plan, Containerfile, package and dependency pins written to the outbox (heal-" +
                std::to_string(id) + ") for a human");
  }
  // Dependency pins need the application's source: in every mode they go to the outbox.
  if (pins) {
    if (auto st = write_outbox(id, repo, tag, original, *p, true); !st) {
      fail_heal(id, "the dependency pins could not be written to the outbox: " + st.error().message, "");
      return *get(id);
    }
  }
  if (!p->builds())
    return hold(pins ? "dependency pins written to the outbox (heal-" + std::to_string(id) +
                           ") for the application's owners to rebuild from source: " + p->explanation
                     : p->explanation);

  transition(id, "building", "no network; " + p->strategy);
  std::string log;
  auto work = store_.root() / "heal" / std::to_string(id);
  auto cleanup = [&] {
    std::error_code ec;
    fsys::remove_all(work, ec);
  };
  Failure failure;
  auto built = build(id, repo, original, *p, work, log, policy, failure);
  if (!built) {
    cleanup();
    fail_heal(id, built.error().message, log, failure);
    return *get(id);
  }
  // Verify: the healed image is scanned like any other; the targeted findings must be gone and
  // no new critical or high finding may appear.
  transition(id, "verifying", std::string("rescan, test command, smoke test, size") +
                                 (built->reused_from ? "; heal layer reused from heal " + std::to_string(built->reused_from) : ""));
  auto staged_tag = staging_tag(repo, tag);
  auto put = store_.put_manifest(repo, staged_tag, built->manifest, oci::media::kOciManifest, "heal");
  cleanup();
  if (!put) {
    fail_heal(id, "cannot store the healed manifest: " + put.error().message, log);
    return *get(id);
  }
  auto staged = put->digest.str();
  store_.transaction([&](sqlite::Connection& c) {
    c.prepare("UPDATE heals SET staged_tag = ?, staged = ?, heal_layer_size = ?, image_size = ? WHERE id = ?")
        .bind(1, staged_tag).bind(2, staged).bind(3, static_cast<std::int64_t>(built->heal_layer_size))
        .bind(4, static_cast<std::int64_t>(built->image_size)).bind(5, id).run();
  });
  auto rescanned = scanner_.scan(put->digest);
  if (!rescanned) {
    fail_heal(id, "rescan of the healed image failed: " + rescanned.error().message, log);
    return *get(id);
  }
  json before, after;
  store_.read([&](sqlite::Connection& c) {
    scan::FindingsQuery q;
    q.manifests = {original};
    q.include_suppressed = true;
    before = scan::list_findings(c, q, store_.now_seconds());
    q.manifests = {staged};
    after = scan::list_findings(c, q, store_.now_seconds());
  });
  std::set<std::string> was, remaining, fresh_blocking, fresh_other;
  for (const auto& f : before) was.insert(f["package"].get<std::string>() + " " + f["advisory"].get<std::string>());
  std::set<std::string> targeted(p->targeted.begin(), p->targeted.end());
  for (const auto& f : after) {
    auto key = f["package"].get<std::string>() + " " + f["advisory"].get<std::string>();
    if (targeted.count(f["advisory"].get<std::string>())) remaining.insert(key);
    if (was.count(key)) continue;
    auto sev = f["severity"].get<std::string>();
    (sev == "critical" || sev == "high" ? fresh_blocking : fresh_other).insert(key + " (" + sev + ")");
  }
  if (options_.attest) attest(id, repo, staged, *p, original, started);
  std::string why;
  if (!built->test_failure.empty()) why += " the test command failed (" + built->test_failure + ");";
  if (!built->smoke_failure.empty()) why += " the smoke test failed (" + built->smoke_failure + ");";
  for (const auto& r : remaining) why += " still " + r + ";";
  for (const auto& r : fresh_blocking) why += " new " + r + ";";
  // Size: a package heal adds files next to the ones it replaces; the layer must stay small
  // against the image. A gold substitution replaces whole binaries, whatever their size.
  double growth = built->image_size ? static_cast<double>(built->heal_layer_size) / static_cast<double>(built->image_size) : 0;
  if (!p->packages.empty() && p->artifacts.empty() && growth > options_.max_size_growth)
    why += " the heal layer (" + fs::human_bytes(built->heal_layer_size) + ") is " + std::to_string(static_cast<int>(growth * 100)) +
           "% of the image, over the " + std::to_string(static_cast<int>(options_.max_size_growth * 100)) + "% bound;";
  std::string notes = built->smoke_note;
  for (const auto& r : fresh_other) notes += " new " + r + " (below high: not blocking);";
  if (!why.empty()) {
    auto reason = "verification failed:" + why;
    Failure gate;
    if (!built->test_failure.empty()) gate = {FailureClass::test_failed, built->test_failure};
    else if (!built->smoke_failure.empty()) gate = {FailureClass::smoke_test_failed, built->smoke_failure};
    return hold(reason, log + notes, gate);
  }
  auto now = store_.now_seconds();
  transition(id, "staged", repo + ":" + staged_tag + " = " + staged, [&](sqlite::Connection& c) {
    c.prepare("UPDATE heals SET staged_at = ?, log = ?, reason = ? WHERE id = ?")
        .bind(1, now).bind(2, bounded_log(log + notes))
        .bind(3, policy.mode == "continuous" ? "every gate passed" : "waiting for approval (airhealctl heal approve " + std::to_string(id) + ")")
        .bind(4, id).run();
  });
  if (policy.mode != "continuous") return *get(id);
  auto promoted = approve(id, "airheal (continuous mode: every gate passed)");
  if (!promoted) {
    hold("promotion failed: " + promoted.error().message);
    return *get(id);
  }
  // After promotion: the canary runs in the image the tag now serves; if it fails, the promotion
  // is rolled back on its own.
  if (!policy.canary.empty()) {
    auto served = store_.get_manifest(repo, tag);
    std::string failure;
    std::string note;
    if (!served || served->digest.str() != staged) {
      failure = "the tag does not serve the healed image";
    } else {
      auto r = run_checks(id, *served->bytes, store_.root() / "heal" / (std::to_string(id) + "-canary"), log, policy.canary, false, note);
      failure = r ? r->first : r.error().message;
    }
    if (!failure.empty()) {
      auto rb = rollback(repo, tag, "airheal (automatic: the canary failed after promotion: " + failure + ")");
      if (!rb) spdlog::error("heal {}: automatic rollback failed: {}", id, rb.error().message);
    }
  }
  return *get(id);
}

Status Engine::check_approvable(std::int64_t id) {
  auto a = approval(id);
  if (!a) return a.error();
  return {};
}

Result<std::pair<HealRecord, store::ManifestRecord>> Engine::approval(std::int64_t id) {
  auto h = get(id);
  if (!h) return make_error(Errc::not_found, "no heal " + std::to_string(id));
  if (h->state != "staged") return make_error(Errc::conflict, "heal " + std::to_string(id) + " is " + h->state + ", not staged");
  auto current = store_.get_manifest(h->repository, h->tag);
  if (current && current->digest.str() != h->original) {
    // Promoting over an earlier promoted heal of the same original is a re-heal, not a conflict.
    bool earlier_heal = false;
    store_.read([&](sqlite::Connection& c) {
      auto st = c.prepare("SELECT 1 FROM heals WHERE repository = ? AND tag = ? AND original = ? AND staged = ? AND state = 'promoted'");
      st.bind(1, h->repository).bind(2, h->tag).bind(3, h->original).bind(4, current->digest.str());
      earlier_heal = st.step();
    });
    if (!earlier_heal)
      return make_error(Errc::conflict, h->repository + ":" + h->tag + " has moved since the heal started (now " +
                                            current->digest.str() + "); heal it again");
  }
  auto staged = store_.get_manifest(h->repository, h->staged);
  if (!staged) return make_error(Errc::manifest_unknown, "the staged image is gone: " + staged.error().message);
  return std::pair{std::move(*h), std::move(*staged)};
}

Result<HealRecord> Engine::approve(std::int64_t id, const std::string& by, const std::string& actor) {
  auto a = approval(id);
  if (!a) return a.error();
  auto h = &a->first;
  auto staged = &a->second;
  if (auto st = store_.retain(h->repository, *Digest::parse(h->original), "rollback target of heal " + std::to_string(id)); !st)
    return st.error();
  auto put = store_.put_manifest(h->repository, h->tag, *staged->bytes, staged->media_type, "heal");
  if (!put) return put.error();
  auto now = store_.now_seconds();
  transition(id, "promoted", "approved by " + by + ": " + h->repository + ":" + h->tag + " -> " + h->staged,
             [&](sqlite::Connection& c) {
               // An earlier promoted heal of the same tag is superseded; this one is what rollback undoes.
               c.prepare("UPDATE heals SET state = 'rolled_back', reason = ? WHERE repository = ? AND tag = ? AND state = 'promoted' AND id != ?")
                   .bind(1, "superseded by heal " + std::to_string(id)).bind(2, h->repository).bind(3, h->tag).bind(4, id).run();
               c.prepare("UPDATE heals SET promoted_at = ?, reason = ? WHERE id = ?").bind(1, now).bind(2, "approved by " + by).bind(3, id).run();
             },
             actor);
  return *get(id);
}

Result<HealRecord> Engine::rollback(const std::string& repo, const std::string& tag, const std::string& by, const std::string& actor) {
  std::optional<HealRecord> h;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(std::string(kSelect) + " WHERE repository = ? AND tag = ? AND state = 'promoted' ORDER BY id DESC LIMIT 1");
    st.bind(1, repo).bind(2, tag);
    if (st.step()) h = row(st);
  });
  if (!h) return make_error(Errc::not_found, "no promoted heal of " + repo + ":" + tag + " to roll back");
  auto original = store_.get_manifest(repo, h->original);
  if (!original) return make_error(Errc::manifest_unknown, "the original image " + h->original + " is gone: " + original.error().message);
  auto put = store_.put_manifest(repo, tag, *original->bytes, original->media_type, "heal");
  if (!put) return put.error();
  transition(h->id, "rolled_back", "rolled back by " + by + ": " + repo + ":" + tag + " -> " + h->original,
             [&](sqlite::Connection& c) {
               c.prepare("UPDATE heals SET reason = ? WHERE id = ?").bind(1, "rolled back by " + by).bind(2, h->id).run();
             },
             actor);
  return *get(h->id);
}

Result<HealRecord> Engine::hold(std::int64_t id, const std::string& by, const std::string& why, const std::string& actor) {
  auto h = get(id);
  if (!h) return make_error(Errc::not_found, "no heal " + std::to_string(id));
  if (h->state != "staged")
    return make_error(Errc::conflict, "heal " + std::to_string(id) + " is " + h->state + "; only a staged heal can be held");
  auto reason = "held by " + by + (why.empty() ? "" : ": " + why);
  transition(
      id, "held", reason, [&](sqlite::Connection& c) { c.prepare("UPDATE heals SET reason = ? WHERE id = ?").bind(1, reason).bind(2, id).run(); },
      actor);
  return *get(id);
}

std::vector<HealRecord> Engine::list() {
  std::vector<HealRecord> out;
  // Without the build logs (up to 4 MiB each): the API, metrics and listings never show them,
  // and every status request lists every heal. get() reads one heal whole.
  static const std::string without_logs = [] {
    std::string q = kSelect;
    q.replace(q.find(" log,"), 5, " '' AS log,");
    return q;
  }();
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(without_logs + " ORDER BY id");
    while (st.step()) out.push_back(row(st));
  });
  return out;
}

std::optional<HealRecord> Engine::get(std::int64_t id) {
  std::optional<HealRecord> h;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(std::string(kSelect) + " WHERE id = ?");
    st.bind(1, id);
    if (st.step()) h = row(st);
  });
  return h;
}

std::vector<json> Engine::events(std::int64_t id) {
  std::vector<json> out;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT state, at, detail FROM heal_events WHERE heal = ? ORDER BY rowid");
    st.bind(1, id);
    while (st.step()) out.push_back({{"state", st.get_text(0)}, {"at", scan::rfc3339(st.get_int(1))}, {"detail", st.get_text(2)}});
  });
  return out;
}

}  // namespace airheal::heal
