#include "heal/planner.hpp"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <map>
#include <regex>
#include <set>

#include "advisory/advisory.hpp"
#include "core/time.hpp"
#include "heal/package_family.hpp"
#include "scan/binary.hpp"
#include "scan/layer.hpp"
#include "scan/sbom.hpp"
#include "version/version.hpp"

namespace airheal::heal {
using nlohmann::json;

namespace {

std::string strip_v(std::string v) { return !v.empty() && v[0] == 'v' ? v.substr(1) : v; }

// Names and versions from snapshot metadata become file names in the outbox and tokens in a
// lockfile: only the characters modules and packages use, no path segment that climbs.
bool safe_dependency(const std::string& package, const std::string& version) {
  static const std::regex pkg_re("[A-Za-z0-9@_][A-Za-z0-9._~/@+-]*"),
      ver_re("[A-Za-z0-9][A-Za-z0-9.+-]*");
  if (package.size() > 300 || version.size() > 100 || !std::regex_match(package, pkg_re) ||
      !std::regex_match(version, ver_re))
    return false;
  return ("/" + package + "/").find("/../") == std::string::npos &&
         ("/" + package + "/").find("/./") == std::string::npos &&
         package.find("//") == std::string::npos;
}

// What a replacement binary is built from, by ecosystem and name.
std::map<std::pair<std::string, std::string>, std::string> binary_components(
    const scan::BinaryInfo& b) {
  std::map<std::pair<std::string, std::string>, std::string> out;
  if (b.go) {
    if (auto v = scan::go_version_to_semver(b.go->go_version)) out[{"Go", "stdlib"}] = *v;
    if (!b.go->main.path.empty()) out[{"Go", b.go->main.path}] = b.go->main.version;
    for (const auto& d : b.go->deps) out[{"Go", d.path}] = d.version;
  }
  for (const auto& r : b.rust) out[{"crates.io", r.name}] = r.version;
  if (b.package_note)
    out[{"", b.package_note->value("name", "")}] = b.package_note->value("version", "");
  return out;
}

std::vector<std::string> split_ids(const std::string& fixes) {
  std::vector<std::string> ids;
  std::size_t start = 0;
  while (start <= fixes.size()) {
    auto comma = fixes.find(',', start);
    ids.push_back(
        fixes.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
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
    rb = {{"base", rebase->base_name},
          {"from", rebase->old_base},
          {"to", rebase->new_base},
          {"base_layers", rebase->base_layers}};
  auto pins = json::array();
  for (const auto& p : packages) {
    json j = {{"name", p.name},
              {"version", p.version},
              {"architecture", p.architecture},
              {"digest", p.digest},
              {"fixes", p.fixes}};
    if (!p.record.empty()) j["record"] = p.record;
    if (!p.needed_by.empty()) j["needed_by"] = p.needed_by;
    pins.push_back(std::move(j));
  }
  auto arts = json::array();
  for (const auto& a : artifacts)
    arts.push_back({{"path", a.path},
                    {"name", a.name},
                    {"version", a.version},
                    {"digest", a.digest},
                    {"fixes", a.fixes}});
  auto deps = json::array();
  for (const auto& d : dependencies)
    deps.push_back({{"lockfile", d.lockfile},
                    {"ecosystem", d.ecosystem},
                    {"package", d.package},
                    {"from", d.installed},
                    {"version", d.version},
                    {"artifact", d.name},
                    {"digest", d.digest},
                    {"fixes", d.fixes}});
  json j = {{"strategy", strategy},       {"packages", pins},      {"artifacts", arts},
            {"targeted", targeted},       {"deferred", deferred},  {"missing", missing},
            {"explanation", explanation}, {"snapshots", snapshots}};
  if (fix_imported_at) j["fix_imported_at"] = scan::rfc3339(fix_imported_at);
  if (first_published_at) j["first_published"] = scan::rfc3339(first_published_at);
  if (!deferrals.empty()) j["deferrals"] = deferrals;
  if (!installer.empty()) j["installer"] = installer;
  if (!notes.empty()) j["notes"] = notes;
  if (!packages.empty() && family != "dpkg") j["family"] = family;
  if (!dpkg_batches.empty()) j["dpkg_batches"] = dpkg_batches;
  if (!apt_mark_auto.empty()) j["apt_mark_auto"] = apt_mark_auto;
  if (rebase) j["rebase"] = rb;
  if (!applications.empty()) {
    auto apps = json::array();
    for (const auto& a : applications) apps.push_back(a.to_json());
    j["applications"] = apps;
  }
  if (!dependencies.empty()) {
    j["dependencies"] = deps;
    j["pinned"] = pinned;
  }
  return j;
}

namespace {
Plan plan_heal_choice(const PlanInput& input, PlanSources& io) {
  using Content = ImportedContent;
  const json& findings = input.findings;
  const scan::ImageInventory* inv = &input.inventory;
  const auto& packages = input.packages;
  const auto& artifacts = input.artifacts;
  const std::string& repository = input.repository;
  Plan p;
  std::set<std::string> used_snapshots;
  auto use = [&](const Content& c) {
    used_snapshots.insert(c.snapshot);
    p.fix_imported_at = std::max(p.fix_imported_at, c.imported_at);
  };
  // Findings in OS packages, by the package family that heals them (dpkg; apk and rpm next).
  std::map<std::string, std::pair<const PackageFamily*, std::vector<json>>> by_family;
  // Findings in self-describing binaries, by the binary's path.
  struct BinaryNeed {
    std::string ecosystem, package, fixed, id;
  };
  std::map<std::string, std::vector<BinaryNeed>> binaries;
  std::set<std::string> targeted, deferred, pinned;
  // Findings in lockfiles, by (lockfile, ecosystem, package).
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<BinaryNeed>> lockfiles;
  std::map<std::pair<std::string, std::string>, std::string> installed_of;
  struct AppNeed {
    std::string installed;
    std::vector<BinaryNeed> needs;
  };
  // Installed application packages, by (location, ecosystem, package).
  std::map<std::tuple<std::string, std::string, std::string>, AppNeed> applications;
  for (const auto& f : findings) {
    auto id = f["advisory"].get<std::string>();
    auto type = f["type"].get<std::string>();
    auto fixed = f["fixed"].get<std::string>();
    auto location = f["location"].get<std::string>();
    if (fixed.empty()) {
      deferred.insert(id);
    } else if ((type == "go-module" || type == "npm") && !location.empty()) {
      lockfiles[{location, f["ecosystem"].get<std::string>(), f["package"].get<std::string>()}]
          .push_back(
              {f["ecosystem"].get<std::string>(), f["package"].get<std::string>(), fixed, id});
      installed_of[{location, f["package"].get<std::string>()}] = f.value("installed", "");
    } else if ((type == "node-package" || type == "python-package" || type == "maven") &&
               !location.empty()) {
      // An installed npm package, Python distribution or Java library: replaced in place by an
      // imported artefact of a fixed version (below).
      auto& need = applications[{location, f["ecosystem"].get<std::string>(),
                                 f["package"].get<std::string>()}];
      need.installed = f.value("installed", "");
      need.needs.push_back(
          {f["ecosystem"].get<std::string>(), f["package"].get<std::string>(), fixed, id});
    } else if (type == "gem" || type == "composer" || type == "cargo-lock" || type == "nuget") {
      // Found and matched; airheal replaces Java, Python and npm packages in place, not these.
      deferred.insert(id);
      auto package = f.value("package", std::string());
      p.deferrals.push_back(
          {{"source", package},
           {"fixed", fixed},
           {"ids", {id}},
           {"reason", f["ecosystem"].get<std::string>() + " package " + package + " " +
                          f.value("installed", std::string()) + " at /" + location +
                          ": airheal does not replace " + f["ecosystem"].get<std::string>() +
                          " packages in place; the application's owners must update it to " +
                          fixed + " or later"},
           {"missing", json::array()}});
    } else if (const auto* family = package_family_for_component(type)) {
      auto& slot = by_family[std::string(family->name())];
      slot.first = family;
      slot.second.push_back(f);
    } else if (type != "deb" && type != "apk" && type != "rpm" && !location.empty()) {
      binaries[location].push_back(
          {f["ecosystem"].get<std::string>(), f["package"].get<std::string>(), fixed, id});
    } else {
      deferred.insert(id);
    }
  }
  for (const auto& [name, slot] : by_family) {
    // Only packages of the family's own format (a .deb cannot fix an apk database, nor the other
    // way round, whatever the names); content imported before formats were recorded is "deb".
    std::vector<Content> of_family;
    for (const auto& c : packages)
      if (c.meta.value("format", "deb") == slot.first->component_type()) of_family.push_back(c);
    FamilyPlanInput in;
    in.findings = slot.second;
    in.inventory = inv;
    in.imported = &of_family;
    in.unsigned_channels = &input.unsigned_channels;
    auto fp = slot.first->plan(in, io);
    deferred.insert(fp.deferred.begin(), fp.deferred.end());
    p.missing.insert(p.missing.end(), fp.missing.begin(), fp.missing.end());
    for (const auto& d : fp.deferrals) p.deferrals.push_back(d);
    if (fp.packages.empty()) continue;
    if (!p.packages.empty()) {
      // An image has one package database in practice; a heal installs packages of one family.
      deferred.insert(fp.targeted.begin(), fp.targeted.end());
      p.missing.push_back(name + " packages: a heal installs packages of one family (" + p.family +
                          " here)");
      continue;
    }
    targeted.insert(fp.targeted.begin(), fp.targeted.end());
    p.family = name;
    p.packages = std::move(fp.packages);
    p.installer = fp.installer;
    p.apt_mark_auto = std::move(fp.apt_mark_auto);
    p.dpkg_batches = std::move(fp.dpkg_batches);
    p.notes = std::move(fp.notes);
    for (const auto* c : fp.used) use(*c);
  }
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
      auto bytes = io.artifact_bytes ? io.artifact_bytes(*d) : std::nullopt;
      if (!bytes) continue;
      auto info = scan::read_binary(*bytes);
      if (info.empty())
        continue;  // not a binary that says what it is built from: cannot be checked
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
      if (fixes.size() > best_fixes.size() ||
          (best && fixes.size() == best_fixes.size() && c.imported_at > best->imported_at)) {
        best = &c;
        best_fixes = fixes;
      }
    }
    if (!best || best_fixes.empty()) {
      for (const auto& n : needs) deferred.insert(n.id);
      p.missing.push_back("an artefact for /" + location + " with " + needs.front().package + " " +
                          needs.front().fixed);
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
  // In-place replacements: the lowest imported version that carries every fix, whose own
  // metadata says it is that package, and that every range depending on it allows.
  std::optional<Result<ImageFiles>> image_for_apps;
  for (const auto& [key, need] : applications) {
    const auto& [location, ecosystem, package] = key;
    auto kind = ecosystem == "npm"    ? "the npm package"
                : ecosystem == "PyPI" ? "the Python package"
                                      : "the Java library";
    auto defer_app = [&](const std::string& why) {
      std::set<std::string> ids;
      for (const auto& n : need.needs) ids.insert(n.id);
      for (const auto& i : ids) deferred.insert(i);
      std::string fixed = need.needs.front().fixed;
      p.deferrals.push_back({{"source", package},
                             {"fixed", fixed},
                             {"ids", ids},
                             {"reason", std::string(kind) + " " + package + " " + need.installed +
                                            " at /" + location + ": " + why},
                             {"missing", json::array()}});
    };
    if (!image_for_apps)
      image_for_apps = io.image
                           ? io.image()
                           : Result<ImageFiles>(make_error(Errc::unsupported, "no image files"));
    if (!*image_for_apps) {
      defer_app("the image's files cannot be read (" + image_for_apps->error().message + ")");
      continue;
    }
    const auto& image = **image_for_apps;
    std::vector<const Content*> candidates;
    std::vector<std::string> refused;
    for (const auto& c : artifacts) {
      if (c.meta.value("ecosystem", "") != ecosystem ||
          advisory::package_key(ecosystem, c.meta.value("package", "")) != package)
        continue;
      auto v = c.meta.value("version", "");
      bool all = !v.empty();
      for (const auto& n : need.needs) {
        auto cmp = version::compare(ecosystem, strip_v(v), strip_v(n.fixed));
        if (!cmp || *cmp < 0) all = false;
      }
      if (all) candidates.push_back(&c);
    }
    std::sort(candidates.begin(), candidates.end(), [&](const Content* a, const Content* b) {
      return version::compare(ecosystem, a->meta.value("version", ""), b->meta.value("version", ""))
                 .value_or(0) < 0;
    });
    bool done = false;
    for (const auto* c : candidates) {
      auto v = c->meta.value("version", "");
      auto d = Digest::parse(c->digest);
      auto bytes = d && io.artifact_bytes ? io.artifact_bytes(*d) : std::nullopt;
      if (!bytes) {
        refused.push_back(c->name + ": its bytes cannot be read");
        continue;
      }
      auto id = app::identify(*bytes, c->name);
      if (!id || id->ecosystem != ecosystem || id->name != package || id->version != v) {
        refused.push_back(
            c->name + ": " +
            (id ? "its own metadata says " + id->ecosystem + " " + id->name + " " + id->version
                : id.error().message));
        continue;
      }
      auto allowed = app::dependents_allow(image, ecosystem, location, package, v);
      if (!allowed) {
        refused.push_back(v + ": " + allowed.error().message);
        continue;
      }
      app::Replacement r;
      r.ecosystem = ecosystem;
      r.package = package;
      r.location = location;
      r.installed = need.installed;
      r.version = v;
      r.name = c->name;
      r.digest = c->digest;
      std::set<std::string> ids;
      for (const auto& n : need.needs) ids.insert(n.id);
      for (const auto& i : ids) r.fixes += (r.fixes.empty() ? "" : ",") + i;
      auto ops = app::plan_ops(r, *bytes, image);
      if (!ops) {
        refused.push_back(c->name + ": " + ops.error().message);
        continue;
      }
      r.changes = std::move(ops->changes);
      r.changes["dependents_checked"] = *allowed;
      p.applications.push_back(std::move(r));
      targeted.insert(ids.begin(), ids.end());
      use(*c);
      done = true;
      break;
    }
    if (done) continue;
    if (candidates.empty()) {
      p.missing.push_back(ecosystem + " " + package + " " + need.needs.front().fixed + " for /" +
                          location);
      defer_app("no artefact of " + ecosystem + " " + package + " " + need.needs.front().fixed +
                " or later has been imported; a snapshot must bring one");
    } else {
      std::string why = "no imported version can replace it:";
      for (const auto& r : refused) why += " " + r + ";";
      defer_app(why);
    }
  }
  // A lockfile entry an in-place replacement updated needs no pin: that finding is healed.
  std::set<std::pair<std::string, std::string>> relocked;
  for (const auto& a : p.applications)
    for (const auto& l : a.changes.value("lockfiles", json::array()))
      if (l.contains("key")) relocked.insert({l.value("path", "").substr(1), a.package});
  for (auto it = lockfiles.begin(); it != lockfiles.end();) {
    const auto& [lockfile, ecosystem, package] = it->first;
    if (!relocked.count({lockfile, package})) {
      ++it;
      continue;
    }
    for (const auto& n : it->second) targeted.insert(n.id);
    it = lockfiles.erase(it);
  }
  // Dependency pins: the lowest imported version that carries every fix (the smallest change to
  // the application's dependency graph).
  for (const auto& [key, needs] : lockfiles) {
    const auto& [lockfile, ecosystem, package] = key;
    const Content* best = nullptr;
    for (const auto& c : artifacts) {
      if (c.meta.value("ecosystem", "") != ecosystem || c.meta.value("package", "") != package)
        continue;
      auto v = c.meta.value("version", "");
      if (!safe_dependency(package, v) || (ecosystem == "Go" && v[0] != 'v')) continue;
      bool all = true;
      for (const auto& n : needs) {
        auto cmp = version::compare(ecosystem, strip_v(v), strip_v(n.fixed));
        if (!cmp || *cmp < 0) all = false;
      }
      if (!all) continue;
      if (best && version::compare(ecosystem, strip_v(v), strip_v(best->meta.value("version", "")))
                          .value_or(0) >= 0)
        continue;
      best = &c;
    }
    if (!best) {
      for (const auto& n : needs) deferred.insert(n.id);
      p.missing.push_back(ecosystem + " " + package + " " + needs.front().fixed + " for /" +
                          lockfile);
      continue;
    }
    std::string ids;
    std::set<std::string> idset;
    for (const auto& n : needs) idset.insert(n.id);
    for (const auto& i : idset) ids += (ids.empty() ? "" : ",") + i;
    auto inst = installed_of.find({lockfile, package});
    p.dependencies.push_back({lockfile, ecosystem, package,
                              inst == installed_of.end() ? "" : inst->second,
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
  std::string no_bump = input.no_bump;
  if (auto bump = input.upstream_bump) {
    std::set<std::string> covers(bump->targeted.begin(), bump->targeted.end());
    bool superset = !covers.empty();
    for (const auto& t : p.targeted)
      if (!covers.count(t)) superset = false;
    if (superset) {
      std::set<std::string> rest;
      for (const auto& f : findings)
        if (!covers.count(f["advisory"].get<std::string>()))
          rest.insert(f["advisory"].get<std::string>());
      for (const auto& x : p.pinned) rest.erase(x);
      bump->dependencies = p.dependencies;  // pins still go to the outbox
      bump->pinned = p.pinned;
      bump->deferred.assign(rest.begin(), rest.end());
      if (!bump->deferred.empty())
        bump->explanation +=
            " Not fixed by the newer base and deferred: " + std::to_string(bump->deferred.size()) +
            " finding(s).";
      return *bump;
    }
  }
  std::vector<std::string> parts;
  if (p.uses_dpkg())
    parts.push_back("package-patch");
  else if (!p.packages.empty())
    parts.push_back("package-files");
  if (!p.artifacts.empty()) parts.push_back("gold-substitution");
  if (!p.applications.empty()) parts.push_back("app-in-place");
  if (!p.dependencies.empty()) parts.push_back("dependency-pin");
  if (parts.empty()) {
    p.strategy = "defer";
    p.explanation = findings.empty() ? "Nothing to heal: the image has no open findings."
                                     : "No fix for these findings has been imported into the air "
                                       "gap yet: the heal is deferred.";
  } else {
    for (std::size_t i = 0; i < parts.size(); ++i) p.strategy += (i ? "+" : "") + parts[i];
    auto n = p.targeted.size();
    if (p.builds())
      p.explanation = "One heal layer over the original image, built with no network, removes " +
                      std::to_string(n) + " vulnerabilit" + (n == 1 ? "y" : "ies") + ".";
    if (!p.packages.empty()) {
      auto n_pkgs = std::to_string(p.packages.size());
      if (p.installer == "apt")
        p.explanation += " The image's own apt-get installs " + n_pkgs +
                         " fixed package(s) imported from a signed snapshot, from a local "
                         "read-only repository that is the only "
                         "source it sees (apt orders pre-dependencies and configuration):";
      else if (p.installer == "dpkg")
        p.explanation += " The image has dpkg but no apt, so dpkg installs " + n_pkgs +
                         " fixed package(s) imported from a signed snapshot in " +
                         std::to_string(p.dpkg_batches.size()) +
                         " call(s), each package after the packages it pre-depends on:";
      else if (p.installer == "apk")
        p.explanation += " The image's own apk installs " + n_pkgs +
                         " fixed Alpine package(s) imported from a signed snapshot, from a local "
                         "read-only repository (an APKINDEX airheal wrote) that is the only source "
                         "it sees, with no network (apk orders the dependencies):";
      else if (p.installer == "dnf" || p.installer == "yum")
        p.explanation += " The image's own " + p.installer + " installs " + n_pkgs +
                         " fixed rpm package(s) imported from a signed snapshot, from local "
                         "read-only repositories (repodata made with createrepo_c) that are the "
                         "only ones it sees, with no network, its dependency checks and, for "
                         "signed packages, its signature checks against the keys the image "
                         "trusts:";
      else if (p.installer == "rpm")
        p.explanation += " The image has rpm but no dnf, so its rpm upgrades " + n_pkgs +
                         " fixed rpm package(s) imported from a signed snapshot (rpm -K checks "
                         "the signed ones against the keys the image trusts first):";
      else if (p.installer == "host-rpm")
        p.explanation += " The image has no rpm, so the host's rpm installs " + n_pkgs +
                         " fixed rpm package(s) imported from a signed snapshot into a copy of "
                         "the image's database (--root, the image's --dbpath, --noscripts: "
                         "nothing from the image runs on the host), with rpm's dependency "
                         "checks; the files and database it wrote become the layer:";
      else if (p.family == "apk")
        p.explanation += " The image has no apk-tools, so the files of " + n_pkgs +
                         " fixed Alpine package(s) imported from a signed snapshot are written "
                         "into the layer and their records in /lib/apk/db/installed rewritten as "
                         "apk writes them (with each file's SHA-1), so scanners and apk see the "
                         "fix:";
      else
        p.explanation +=
            " The image has no package manager, so the files of " + n_pkgs +
            " fixed package(s) imported from a signed snapshot are written into the layer "
            "and their status.d records updated, so scanners see the fix:";
      std::map<std::string, std::vector<std::string>> by_fixes;  // packages upgraded together
      std::vector<std::string> closure;
      for (const auto& pin : p.packages) {
        if (pin.needed_by.empty())
          by_fixes[pin.fixes].push_back(pin.name + " " + pin.version);
        else
          closure.push_back(pin.name + " " + pin.version + " (" + pin.needed_by + ")");
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
      for (const auto& n : p.notes) p.explanation += " " + n + ";";
    }
    for (const auto& a : p.applications) {
      auto what = a.ecosystem == "npm"    ? "the npm package"
                  : a.ecosystem == "PyPI" ? "the Python package"
                                          : "the Java library";
      p.explanation += std::string(" ") + what + " " + a.package + " at /" + a.location +
                       " is replaced in place, " + a.installed + " -> " + a.version +
                       ", by the signed artefact " + a.name +
                       " (its own metadata names that package and version)";
      auto checked = a.changes.value("dependents_checked", json::array());
      if (!checked.empty())
        p.explanation += ", which every range that depends on it allows (" +
                         std::to_string(checked.size()) + " checked)";
      p.explanation += "; it fixes" + ids_text(split_ids(a.fixes)) + ";";
    }
    for (const auto& a : p.artifacts)
      p.explanation += " /" + a.path + " is replaced by the signed artefact " + a.name +
                       (a.version.empty() ? "" : " " + a.version) + " (" + a.digest.substr(0, 19) +
                       "), whose build information shows the fixed versions; it fixes" +
                       ids_text(split_ids(a.fixes)) + ";";
  }
  if (!p.dependencies.empty()) {
    p.explanation +=
        std::string(p.explanation.empty() ? "" : " ") +
        "The application pins vulnerable dependencies in its " +
        "lockfiles and fixed versions were imported; it must be rebuilt from source by its owners, "
        "so the pins " +
        "(patched lockfiles and the imported modules, usable offline) are written to the outbox:";
    for (const auto& d : p.dependencies)
      p.explanation += " " + d.package + " " + d.installed + " -> " + d.version + " in /" +
                       d.lockfile + " fixes" + ids_text(split_ids(d.fixes)) + ";";
  }
  if (!p.deferred.empty()) {
    p.explanation += " Deferred (no fix inside the air gap): " + std::to_string(p.deferred.size()) +
                     " finding(s)";
    if (!p.missing.empty()) {
      p.explanation += "; a snapshot must carry";
      for (const auto& m : p.missing) p.explanation += " [" + m + "]";
    }
    p.explanation += ".";
    for (const auto& d : p.deferrals)
      p.explanation +=
          " " + d["source"].get<std::string>() + ": " + d["reason"].get<std::string>() + ".";
  }
  return p;
}
}  // namespace

Plan plan_heal(const PlanInput& input, PlanSources& io) {
  auto p = plan_heal_choice(input, io);
  // When the oldest vulnerability it removes was published (the advisory's own date): time to
  // heal as customers measure it starts there.
  std::set<std::string> targeted(p.targeted.begin(), p.targeted.end());
  for (const auto& f : input.findings) {
    if (!targeted.count(f.value("advisory", "")) || !f.contains("published")) continue;
    auto t = parse_time(f.value("published", ""));
    if (t && (!p.first_published_at || *t < p.first_published_at)) p.first_published_at = *t;
  }
  return p;
}

}  // namespace airheal::heal
