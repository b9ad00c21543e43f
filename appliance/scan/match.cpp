#include "scan/match.hpp"

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "advisory/advisory.hpp"
#include "advisory/advisory_repository.hpp"
#include "scan/layer.hpp"
#include "store/content_repository.hpp"
#include "version/version.hpp"

namespace airheal::scan {
namespace {

std::string upper(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

double roundup(double x) {
  auto i = static_cast<long long>(std::llround(x * 100000));
  if (i % 10000 == 0) return static_cast<double>(i) / 100000.0;
  return (std::floor(static_cast<double>(i) / 10000.0) + 1) / 10.0;
}

// The fixed version that ends the range holding `version`: the smallest "fixed" event above it.
std::string osv_fixed_version(const nlohmann::json& affected, const std::string& ecosystem,
                              const std::string& version) {
  std::string best;
  if (!affected.contains("ranges") || !affected["ranges"].is_array()) return best;
  for (const auto& r : affected["ranges"]) {
    if (!r.contains("events") || !r["events"].is_array()) continue;
    auto type = r.value("type", "");
    auto eco = type == "SEMVER" ? std::string("SEMVER") : ecosystem;
    for (const auto& e : r["events"]) {
      if (!e.contains("fixed") || !e["fixed"].is_string()) continue;
      auto f = e["fixed"].get<std::string>();
      auto above = version::compare(eco, version, f);
      if (!above || *above >= 0) continue;
      if (best.empty() || version::compare(eco, f, best).value_or(0) < 0) best = f;
    }
  }
  return best;
}

// Debian tracker policy: what a status, urgency and no-dsa mark mean for an installed version.
struct TrackerVerdict {
  bool affected = false;
  std::string fixed, vendor_status, urgency;
};

TrackerVerdict debian_policy(const nlohmann::json& d, const std::string& source_version) {
  TrackerVerdict v;
  v.urgency = d.value("urgency", "");
  auto status = d.value("status", "");
  if (status == "resolved") {
    auto fixed = d.value("fixed_version", "");
    if (fixed == "0") return v;  // never affected in this release
    auto c = version::compare_dpkg(source_version, fixed);
    if (!c || *c >= 0) return v;
    v.affected = true;
    v.fixed = fixed;
    v.vendor_status = "fixed";
    return v;
  }
  v.affected =
      true;  // open or undetermined: the installed version is vulnerable until shown otherwise
  if (v.urgency == "end-of-life") {
    v.vendor_status = "end-of-life";
  } else if (status == "undetermined") {
    v.vendor_status = "undetermined";
  } else {
    auto reason = d.value("nodsa_reason", "");
    if (reason == "postponed" || reason == "ignored")
      v.vendor_status = reason;
    else if (d.contains("nodsa"))
      v.vendor_status = "no-dsa";
    else
      v.vendor_status = "unfixed";
  }
  return v;
}

bool release_matches(const std::string& affected_ecosystem, const std::string& base,
                     const std::vector<std::string>& releases, bool os_package) {
  auto colon = affected_ecosystem.find(':');
  auto eco_base = affected_ecosystem.substr(0, colon);
  if (eco_base != base) return false;
  if (colon == std::string::npos) return true;
  if (!os_package) return true;
  auto rel = affected_ecosystem.substr(colon + 1);
  for (const auto& r : releases)
    if (r == rel) return true;
  return false;
}

std::string canonical_id(const advisory::StoredAdvisory& a) {
  if (a.id.rfind("CVE-", 0) == 0) return a.id;
  for (const auto& al : a.aliases)
    if (al.rfind("CVE-", 0) == 0) return al;
  return a.id;
}

}  // namespace

std::optional<double> cvss3_base_score(std::string_view vector) {
  if (vector.rfind("CVSS:3.", 0) != 0) return std::nullopt;
  std::map<std::string, std::string> m;
  std::size_t i = vector.find('/');
  while (i != std::string_view::npos && i < vector.size()) {
    auto next = vector.find('/', i + 1);
    auto part = vector.substr(
        i + 1, next == std::string_view::npos ? std::string_view::npos : next - i - 1);
    auto colon = part.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    m[std::string(part.substr(0, colon))] = std::string(part.substr(colon + 1));
    i = next;
  }
  auto get =
      [&](const char* k,
          std::initializer_list<std::pair<const char*, double>> values) -> std::optional<double> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    for (auto [name, v] : values)
      if (it->second == name) return v;
    return std::nullopt;
  };
  auto s = m.count("S") ? m["S"] : "";
  if (s != "U" && s != "C") return std::nullopt;
  bool changed = s == "C";
  auto av = get("AV", {{"N", 0.85}, {"A", 0.62}, {"L", 0.55}, {"P", 0.2}});
  auto ac = get("AC", {{"L", 0.77}, {"H", 0.44}});
  auto pr = get("PR", {{"N", 0.85}, {"L", changed ? 0.68 : 0.62}, {"H", changed ? 0.5 : 0.27}});
  auto ui = get("UI", {{"N", 0.85}, {"R", 0.62}});
  auto c = get("C", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  auto in = get("I", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  auto a = get("A", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  if (!av || !ac || !pr || !ui || !c || !in || !a) return std::nullopt;
  double iss = 1 - (1 - *c) * (1 - *in) * (1 - *a);
  double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  double expl = 8.22 * *av * *ac * *pr * *ui;
  if (impact <= 0) return 0.0;
  return changed ? roundup(std::min(1.08 * (impact + expl), 10.0))
                 : roundup(std::min(impact + expl, 10.0));
}

std::string severity_from_score(double s) {
  if (s >= 9.0) return "critical";
  if (s >= 7.0) return "high";
  if (s >= 4.0) return "medium";
  if (s > 0.0) return "low";
  return "negligible";
}

int severity_rank(const std::string& s) {
  if (s == "critical") return 5;
  if (s == "high") return 4;
  if (s == "medium") return 3;
  if (s == "low") return 2;
  if (s == "negligible") return 1;
  return 0;
}

std::pair<std::string, std::optional<double>> advisory_severity(
    const nlohmann::json& severity_array, const nlohmann::json& document,
    const std::string& urgency) {
  if (severity_array.is_array())
    for (const auto& s : severity_array)
      if (s.is_object() && s.value("type", "") == "CVSS_V3" && s.contains("score") &&
          s["score"].is_string())
        if (auto score = cvss3_base_score(s["score"].get<std::string>()))
          return {severity_from_score(*score), score};
  if (document.is_object() && document.contains("database_specific") &&
      document["database_specific"].is_object()) {
    auto sev = upper(document["database_specific"].value("severity", ""));
    if (sev == "CRITICAL") return {"critical", std::nullopt};
    if (sev == "HIGH") return {"high", std::nullopt};
    if (sev == "MODERATE" || sev == "MEDIUM") return {"medium", std::nullopt};
    if (sev == "LOW") return {"low", std::nullopt};
  }
  if (urgency == "high" || urgency == "high*") return {"high", std::nullopt};
  if (urgency == "medium" || urgency == "medium*") return {"medium", std::nullopt};
  if (urgency == "low" || urgency == "low*") return {"low", std::nullopt};
  if (urgency == "unimportant") return {"negligible", std::nullopt};
  return {"unknown", std::nullopt};
}

MatchKey match_key(const Component& c) {
  // Debian advisories name source packages; Alpine's name the origin (aport); rpm ecosystems and
  // language ecosystems name the package itself.
  if (c.type == "deb" || c.type == "apk")
    return {c.ecosystem, c.source.empty() ? c.name : c.source};
  return {c.ecosystem, c.name};
}

std::vector<MatchKey> match_keys(const Component& c) {
  std::vector<MatchKey> out{match_key(c)};
  // rpm vendors name either: the binary package (Red Hat's CSAF products, openssl-libs) or the
  // source rpm (openssl, as errata name their packages); a component is matched by both.
  if (c.type == "rpm" && !c.source.empty() && c.source != c.name)
    out.push_back({c.ecosystem, c.source});
  return out;
}

std::vector<Finding> match(sqlite::Connection& c, const ImageInventory& inv) {
  std::vector<Finding> out;
  auto releases = inv.os.releases();
  std::map<std::pair<std::string, std::string>, std::vector<advisory::StoredAdvisory>> cache;
  for (std::size_t ci = 0; ci < inv.components.size(); ++ci) {
    const auto& comp = inv.components[ci];
    if (!comp.owner.empty()) continue;  // matched as the OS package that owns its files
    bool os_package = comp.type == "deb" || comp.type == "apk" || comp.type == "rpm";
    // Debian compares the source version (binNMUs and epochs as Source: gives them).
    std::string installed = comp.type == "deb" ? comp.source_version : comp.version;
    std::map<std::string, std::size_t> by_canonical;  // one finding per vulnerability per component
    for (const auto& key : match_keys(comp)) {
      if (key.ecosystem.empty() || key.package.empty()) continue;
      auto it = cache.find({key.ecosystem, key.package});
      if (it == cache.end())
        it = cache
                 .emplace(std::pair{key.ecosystem, key.package},
                          advisory::for_package(c, key.ecosystem, key.package))
                 .first;
      for (const auto& adv : it->second) {
        if (!adv.withdrawn.empty()) continue;
        for (const auto& aff : adv.affected) {
          if (aff.package != key.package ||
              !release_matches(aff.ecosystem, key.ecosystem, releases, os_package))
            continue;
          Finding f;
          f.component = ci;
          f.advisory_id = adv.id;
          f.aliases = adv.aliases;
          f.channel = adv.channel;
          f.source = adv.source;
          f.installed = installed;
          f.summary = adv.summary;
          std::string urgency;
          if (adv.source == "debian-tracker") {
            auto v = debian_policy(aff.data, installed);
            if (!v.affected) continue;
            f.fixed = v.fixed;
            f.vendor_status = v.vendor_status;
            urgency = v.urgency;
          } else if (adv.source == "alpine-secdb") {
            auto fixed = aff.data.value("fixed_version", "");
            if (fixed == "0" || version::compare_apk(installed, fixed) >= 0) continue;
            f.fixed = fixed;
            f.vendor_status = "fixed";
          } else {
            if (advisory::osv_evaluate(aff.data, aff.ecosystem, installed) !=
                advisory::Verdict::affected)
              continue;
            f.fixed = osv_fixed_version(aff.data, aff.ecosystem, installed);
            f.vendor_status = f.fixed.empty() ? "unfixed" : "fixed";
            if (aff.data.contains("ecosystem_specific") &&
                aff.data["ecosystem_specific"].is_object())
              urgency = aff.data["ecosystem_specific"].value("urgency", "");
          }
          auto [sev, score] = advisory_severity(adv.severity, adv.document, urgency);
          f.severity = sev;
          f.score = score;
          auto canon = canonical_id(adv);
          auto seen = by_canonical.find(canon);
          if (seen == by_canonical.end()) {
            by_canonical[canon] = out.size();
            out.push_back(std::move(f));
          } else {
            // The same vulnerability from another source: keep one finding, remember every id,
            // prefer a known fixed version and the higher severity.
            auto& g = out[seen->second];
            std::set<std::string> ids(g.aliases.begin(), g.aliases.end());
            ids.insert(f.advisory_id);
            ids.insert(f.aliases.begin(), f.aliases.end());
            ids.erase(g.advisory_id);
            g.aliases.assign(ids.begin(), ids.end());
            if (g.fixed.empty() && !f.fixed.empty()) {
              g.fixed = f.fixed;
              g.vendor_status = f.vendor_status;
            }
            if (severity_rank(f.severity) > severity_rank(g.severity)) {
              g.severity = f.severity;
              g.score = f.score;
            }
          }
        }
      }
    }
  }
  // Is the fix already inside the air gap? A fixed package or a gold artefact imported from a
  // snapshot (artefact paths read once, on the first binary finding).
  std::optional<std::set<std::string>> artifact_paths;
  for (auto& f : out) {
    const auto& comp = inv.components[f.component];
    if (f.fixed.empty()) {
      f.fix_available = "no-fix";
      continue;
    }
    f.fix_available = "none";
    if (comp.type == "go-module" || comp.type == "npm") {
      // A lockfile: a fixed version of the dependency imported as an artefact (a Go module zip,
      // an npm tarball) lets the heal planner write the pin.
      for (const auto& text : store::ContentRepository::artifact_metadata(c)) {
        auto meta = nlohmann::json::parse(text, nullptr, false);
        if (!meta.is_object() || meta.value("ecosystem", "") != comp.ecosystem ||
            meta.value("package", "") != comp.name)
          continue;
        auto strip = [](std::string v) { return v.size() > 1 && v[0] == 'v' ? v.substr(1) : v; };
        auto cmp =
            version::compare(comp.ecosystem, strip(meta.value("version", "")), strip(f.fixed));
        if (cmp && *cmp >= 0) {
          f.fix_available = "dependency";
          break;
        }
      }
      continue;
    }
    if (comp.type != "deb" && comp.type != "apk" && comp.type != "rpm") {
      // A self-describing binary: a gold artefact imported for its path may replace it (the heal
      // planner reads the artefact to check that it carries the fix).
      if (!artifact_paths) {
        artifact_paths.emplace();
        for (const auto& text : store::ContentRepository::artifact_metadata(c)) {
          auto meta = nlohmann::json::parse(text, nullptr, false);
          if (!meta.is_object() || !meta.contains("path") || !meta["path"].is_string()) continue;
          if (auto path = normalise_path(meta["path"].get<std::string>()))
            artifact_paths->insert(*path);
        }
      }
      if (artifact_paths->count(comp.location)) f.fix_available = "artifact";
      continue;
    }
    for (const auto& row : store::ContentRepository::packages_named(c, comp.name)) {
      auto meta = nlohmann::json::parse(row.metadata, nullptr, false);
      auto v = comp.type == "deb" && meta.is_object() && !meta.value("source_version", "").empty()
                   ? meta.value("source_version", "")
                   : row.version;
      auto cmp = comp.type == "deb"   ? version::compare_dpkg(v, f.fixed)
                 : comp.type == "apk" ? std::optional<int>(version::compare_apk(v, f.fixed))
                                      : std::optional<int>(version::compare_rpm(v, f.fixed));
      if (cmp && *cmp >= 0) {
        f.fix_available = "package";
        break;
      }
    }
  }
  return out;
}

}  // namespace airheal::scan
