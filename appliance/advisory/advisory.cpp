#include "advisory/advisory.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "core/json.hpp"
#include "core/yaml.hpp"
#include "version/version.hpp"

namespace airheal::advisory {
namespace {

using nlohmann::json;

Error bad(std::string_view name, const std::string& what) {
  return make_error(Errc::invalid_argument, "advisory " + std::string(name) + ": " + what);
}

// Limits for advisory documents from snapshots. One OSV record is a few KiB (the largest in the
// Go database is under 100 KiB); the whole Debian tracker is one document of tens of MiB.
constexpr JsonLimits kOsvLimits{16u << 20, 64, false};
constexpr JsonLimits kTrackerLimits{512u << 20, 16, false};
constexpr YamlLimits kSecdbLimits{64u << 20, 32, 1000, 4'000'000};
constexpr std::size_t kMaxIdBytes = 256;

// Parses with LIMITS; the error names the advisory file and says which limit.
Result<json> parse_limited(std::string_view bytes, std::string_view name,
                           const JsonLimits& limits) {
  auto j = parse_json(bytes, limits, "the document");
  if (!j) return bad(name, j.error().message);
  return j;
}

bool plausible_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

bool is_string_array(const json& j) {
  if (!j.is_array()) return false;
  return std::all_of(j.begin(), j.end(), [](const json& e) { return e.is_string(); });
}

// Checks one OSV `affected[]` element against the schema; returns a message or empty.
std::string check_affected(const json& a, std::size_t index) {
  auto at = "affected[" + std::to_string(index) + "]";
  if (!a.is_object()) return at + " is not an object";
  if (a.contains("package")) {
    const auto& p = a["package"];
    if (!p.is_object() || !p.contains("ecosystem") || !p["ecosystem"].is_string() ||
        !p.contains("name") || !p["name"].is_string() || p["name"].get<std::string>().empty())
      return at + ".package needs string fields ecosystem and name";
  }
  if (a.contains("versions") && !is_string_array(a["versions"]))
    return at + ".versions must be an array of strings";
  if (a.contains("ranges")) {
    if (!a["ranges"].is_array()) return at + ".ranges must be an array";
    std::size_t ri = 0;
    for (const auto& r : a["ranges"]) {
      auto rat = at + ".ranges[" + std::to_string(ri++) + "]";
      if (!r.is_object() || !r.contains("type") || !r["type"].is_string())
        return rat + " needs a string type";
      auto type = r["type"].get<std::string>();
      if (type != "SEMVER" && type != "ECOSYSTEM" && type != "GIT")
        return rat + ".type '" + type + "' is not SEMVER, ECOSYSTEM or GIT";
      if (type == "GIT" && (!r.contains("repo") || !r["repo"].is_string()))
        return rat + " of type GIT needs repo";
      if (!r.contains("events") || !r["events"].is_array() || r["events"].empty())
        return rat + ".events must be a non-empty array";
      bool introduced = false, fixed = false, last = false;
      for (const auto& e : r["events"]) {
        if (!e.is_object() || e.size() != 1)
          return rat +
                 ".events: each event has exactly one of introduced, fixed, last_affected, limit";
        auto k = e.begin().key();
        if (k != "introduced" && k != "fixed" && k != "last_affected" && k != "limit")
          return rat + ".events: unknown event '" + k + "'";
        if (!e.begin().value().is_string() || e.begin().value().get<std::string>().empty())
          return rat + ".events: " + k + " must be a non-empty string";
        introduced |= k == "introduced";
        fixed |= k == "fixed";
        last |= k == "last_affected";
      }
      if (!introduced) return rat + " has no introduced event";
      if (fixed && last) return rat + " has both fixed and last_affected events";
      if (type == "SEMVER")
        for (const auto& e : r["events"]) {
          auto v = e.begin().value().get<std::string>();
          if (!(e.begin().key() == "introduced" && v == "0") &&
              !(e.begin().key() == "limit" && v == "*") && !version::is_semver(v))
            return rat + ": '" + v + "' is not a semantic version";
        }
    }
  }
  return {};
}

}  // namespace

const char* to_string(Format f) {
  switch (f) {
    case Format::osv:
      return "osv";
    case Format::debian_tracker:
      return "debian-tracker";
    case Format::alpine_secdb:
      return "alpine-secdb";
    case Format::csaf:
      return "csaf";
  }
  return "?";
}

std::optional<Format> format_from_string(std::string_view s) {
  if (s == "osv") return Format::osv;
  if (s == "debian-tracker") return Format::debian_tracker;
  if (s == "alpine-secdb") return Format::alpine_secdb;
  if (s == "csaf") return Format::csaf;
  return std::nullopt;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::affected:
      return "affected";
    case Verdict::not_affected:
      return "not-affected";
    case Verdict::unknown:
      return "unknown";
  }
  return "?";
}

std::optional<Format> detect_format(std::string_view filename, std::string_view bytes) {
  auto ends = [&](std::string_view s) {
    return filename.size() >= s.size() && filename.substr(filename.size() - s.size()) == s;
  };
  if (ends(".yaml") || ends(".yml")) return Format::alpine_secdb;
  if (!ends(".json")) return std::nullopt;
  auto parsed = parse_json(bytes, kTrackerLimits);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  const auto& j = *parsed;
  if (j.contains("id") && j["id"].is_string() && j.contains("modified")) return Format::osv;
  if (j.contains("document") && j["document"].is_object() && j["document"].contains("csaf_version"))
    return Format::csaf;
  // The tracker: {source package: {CVE id: {releases: ...}}}.
  for (const auto& [pkg, cves] : j.items()) {
    if (!cves.is_object()) return std::nullopt;
    for (const auto& [id, rec] : cves.items())
      if (rec.is_object() && rec.contains("releases")) return Format::debian_tracker;
  }
  return j.empty() ? std::optional<Format>(Format::debian_tracker) : std::nullopt;
}

std::string package_key(std::string_view ecosystem, std::string_view name) {
  auto base = ecosystem.substr(0, ecosystem.find(':'));
  if (base == "NuGet" || base == "Packagist") {
    std::string out(name);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  if (base != "PyPI") return std::string(name);
  std::string out;  // re.sub(r"[-_.]+", "-", name).lower()
  bool run = false;
  for (char c : name) {
    bool sep = c == '-' || c == '_' || c == '.';
    if (sep && !run) out += '-';
    if (!sep) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    run = sep;
  }
  return out;
}

Result<Advisory> parse_osv(std::string_view bytes, std::string_view name) {
  auto parsed = parse_limited(bytes, name, kOsvLimits);
  if (!parsed) return parsed.error();
  auto& j = *parsed;
  if (!j.is_object()) return bad(name, "an OSV record must be a JSON object");
  for (auto key : {"id", "modified"})
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty())
      return bad(name, std::string("OSV field '") + key + "' must be a non-empty string");
  if (!plausible_id(j["id"].get<std::string>()))
    return bad(name, "OSV field 'id' must be 1-" + std::to_string(kMaxIdBytes) +
                         " printable ASCII characters without spaces");
  Advisory a;
  a.source = Format::osv;
  a.id = j["id"];
  a.modified = j["modified"];
  for (auto key : {"published", "withdrawn", "summary", "details", "schema_version"})
    if (j.contains(key) && !j[key].is_string())
      return bad(name, std::string("OSV field '") + key + "' must be a string");
  a.published = j.value("published", "");
  a.withdrawn = j.value("withdrawn", "");
  a.summary = j.value("summary", "");
  if (a.summary.empty()) a.summary = j.value("details", "").substr(0, 200);
  for (auto key : {"aliases", "related", "upstream"})
    if (j.contains(key) && !is_string_array(j[key]))
      return bad(name, std::string("OSV field '") + key + "' must be an array of strings");
  if (j.contains("aliases")) a.aliases = j["aliases"].get<std::vector<std::string>>();
  if (j.contains("severity")) {
    if (!j["severity"].is_array()) return bad(name, "OSV field 'severity' must be an array");
    for (const auto& s : j["severity"])
      if (!s.is_object() || !s.contains("type") || !s["type"].is_string() || !s.contains("score") ||
          !s["score"].is_string())
        return bad(name, "OSV severity entries need string type and score");
    a.severity = j["severity"];
  }
  if (j.contains("affected")) {
    if (!j["affected"].is_array()) return bad(name, "OSV field 'affected' must be an array");
    std::size_t i = 0;
    for (const auto& aff : j["affected"]) {
      if (auto msg = check_affected(aff, i++); !msg.empty()) return bad(name, a.id + ": " + msg);
      if (!aff.contains("package")) continue;  // GIT-only entries have no package to match
      const auto& eco = aff["package"]["ecosystem"].get_ref<const std::string&>();
      a.affected.push_back(
          Affected{eco, package_key(eco, aff["package"]["name"].get<std::string>()), aff});
    }
  }
  a.document = std::move(j);
  return a;
}

Result<std::vector<Advisory>> parse_debian_tracker(std::string_view bytes, std::string_view name) {
  auto parsed = parse_limited(bytes, name, kTrackerLimits);
  if (!parsed) return parsed.error();
  auto& j = *parsed;
  if (!j.is_object())
    return bad(name, "the Debian security tracker document must be an object of source packages");
  std::map<std::string, Advisory> by_id;
  for (const auto& [pkg, cves] : j.items()) {
    if (!cves.is_object())
      return bad(name, "package '" + pkg + "' must map to an object of issues");
    for (const auto& [id, rec] : cves.items()) {
      auto at = pkg.substr(0, 128) + "/" + id.substr(0, 128);
      if (!plausible_id(id))
        return bad(name, at + ": an issue id must be 1-" + std::to_string(kMaxIdBytes) +
                             " printable ASCII characters");
      if (!rec.is_object()) return bad(name, at + " is not an object");
      if (!rec.contains("releases") || !rec["releases"].is_object())
        return bad(name, at + " has no releases object");
      auto& adv = by_id[id];
      if (adv.id.empty()) {
        adv.source = Format::debian_tracker;
        adv.id = id;
        adv.document = json::object();
        if (rec.contains("description") && rec["description"].is_string())
          adv.summary = rec["description"];
      }
      adv.document[pkg] = rec;
      for (const auto& [release, r] : rec["releases"].items()) {
        auto rat = at + "/" + release;
        if (!r.is_object() || !r.contains("status") || !r["status"].is_string())
          return bad(name, rat + " needs a string status");
        auto status = r["status"].get<std::string>();
        if (status != "resolved" && status != "open" && status != "undetermined")
          return bad(name, rat + ": unknown status '" + status + "'");
        json data{{"release", release}, {"status", status}};
        for (auto key : {"fixed_version", "urgency", "nodsa", "nodsa_reason"}) {
          if (!r.contains(key)) continue;
          if (!r[key].is_string()) return bad(name, rat + ": " + key + " must be a string");
          data[key] = r[key];
        }
        if (status == "resolved") {
          if (!data.contains("fixed_version"))
            return bad(name, rat + ": resolved without fixed_version");
          auto fv = data["fixed_version"].get<std::string>();
          if (fv != "0" && !version::is_dpkg_version(fv))
            return bad(name, rat + ": fixed_version '" + fv + "' is not a Debian version");
        }
        adv.affected.push_back(Affected{"Debian:" + release, pkg, std::move(data)});
      }
    }
  }
  std::vector<Advisory> out;
  out.reserve(by_id.size());
  for (auto& [id, a] : by_id) out.push_back(std::move(a));
  return out;
}

Result<std::vector<Advisory>> parse_alpine_secdb(std::string_view bytes, std::string_view name) {
  if (auto st = check_yaml(bytes, kSecdbLimits, "the document"); !st)
    return bad(name, st.error().message);
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(bytes));
  } catch (const YAML::Exception& e) {
    return bad(name, std::string("not valid YAML: ") + e.what());
  }
  try {
    if (!doc.IsMap() || !doc["distroversion"] || !doc["packages"])
      return bad(name, "an Alpine secdb document needs distroversion and packages");
    auto branch = doc["distroversion"].as<std::string>();
    auto repo = doc["reponame"] ? doc["reponame"].as<std::string>() : std::string();
    if (!doc["packages"].IsSequence() && !doc["packages"].IsNull())
      return bad(name, "packages must be a list");
    std::map<std::string, Advisory> by_id;
    for (const auto& entry : doc["packages"]) {
      const auto& p = entry["pkg"];
      if (!p || !p.IsMap() || !p["name"]) return bad(name, "every packages[] entry needs pkg.name");
      auto pkg = p["name"].as<std::string>();
      if (!p["secfixes"]) continue;
      if (!p["secfixes"].IsMap())
        return bad(name, pkg + ": secfixes must be a map of version to ids");
      for (const auto& fix : p["secfixes"]) {
        auto fixed = fix.first.as<std::string>();
        if (fix.second.IsNull()) continue;
        if (!fix.second.IsSequence()) return bad(name, pkg + " " + fixed + ": ids must be a list");
        for (const auto& idn : fix.second) {
          if (!idn.IsScalar()) return bad(name, pkg + " " + fixed + ": ids must be strings");
          // Entries look like "CVE-2019-1234" or "CVE-2019-1234 CVE-2019-1235".
          std::string ids = idn.as<std::string>();
          std::size_t pos = 0;
          while (pos < ids.size()) {
            auto end = ids.find(' ', pos);
            auto id = ids.substr(pos, end - pos);
            pos = end == std::string::npos ? ids.size() : end + 1;
            if (id.empty()) continue;
            if (!plausible_id(id))
              return bad(name, pkg + " " + fixed + ": an id must be 1-" +
                                   std::to_string(kMaxIdBytes) + " printable characters");
            auto& adv = by_id[id];
            if (adv.id.empty()) {
              adv.source = Format::alpine_secdb;
              adv.id = id;
              adv.document = nlohmann::json::array();
            }
            nlohmann::json data{{"fixed_version", fixed}, {"branch", branch}, {"repository", repo}};
            adv.document.push_back(
                {{"package", pkg}, {"fixed_version", fixed}, {"branch", branch}});
            adv.affected.push_back(Affected{"Alpine:" + branch, pkg, std::move(data)});
          }
        }
      }
    }
    std::vector<Advisory> out;
    for (auto& [id, a] : by_id) out.push_back(std::move(a));
    return out;
  } catch (const YAML::Exception& e) {
    return bad(name, std::string("unexpected structure: ") + e.what());
  }
}

Result<std::vector<Advisory>> parse(Format format, std::string_view bytes, std::string_view name) {
  switch (format) {
    case Format::osv: {
      auto a = parse_osv(bytes, name);
      if (!a) return a.error();
      return std::vector<Advisory>{std::move(*a)};
    }
    case Format::debian_tracker:
      return parse_debian_tracker(bytes, name);
    case Format::alpine_secdb:
      return parse_alpine_secdb(bytes, name);
    case Format::csaf:
      return parse_csaf(bytes, name);
  }
  return bad(name, "unknown format");
}

Verdict osv_evaluate(const nlohmann::json& affected, std::string_view ecosystem,
                     std::string_view v) {
  // 1. An exact match in versions[] is affected whatever the ranges say.
  if (affected.contains("versions"))
    for (const auto& e : affected["versions"])
      if (e.get<std::string>() == v) return Verdict::affected;
  if (!affected.contains("ranges")) return Verdict::not_affected;
  bool unknown = false;
  for (const auto& r : affected["ranges"]) {
    auto type = r["type"].get<std::string>();
    if (type == "GIT") continue;  // commit ranges cannot be evaluated against a version
    auto cmp = [&](std::string_view a, std::string_view b) -> std::optional<int> {
      if (type == "SEMVER") return version::compare_semver(a, b);
      return version::compare(ecosystem, a, b);
    };
    // 2. Sort events by version ("0" lowest; "*" limit highest), then walk them in order.
    struct Ev {
      std::string kind, ver;
    };
    std::vector<Ev> events;
    for (const auto& e : r["events"])
      events.push_back({e.begin().key(), e.begin().value().get<std::string>()});
    bool comparable = true;
    auto less = [&](const Ev& a, const Ev& b) {
      auto rank = [](const Ev& e) {
        return e.kind == "introduced" && e.ver == "0" ? -1
               : e.kind == "limit" && e.ver == "*"    ? 1
                                                      : 0;
      };
      if (rank(a) != rank(b)) return rank(a) < rank(b);
      if (rank(a) != 0) return false;
      auto c = cmp(a.ver, b.ver);
      if (!c) comparable = false;
      return c.value_or(0) < 0;
    };
    std::stable_sort(events.begin(), events.end(), less);
    if (!comparable || !cmp(v, v)) {
      unknown = true;
      continue;
    }
    auto ge = [&](const std::string& bound) { return *cmp(v, bound) >= 0; };
    // limit: versions at or above any limit are outside this range.
    bool limited = false;
    for (const auto& e : events)
      if (e.kind == "limit" && e.ver != "*" && ge(e.ver)) limited = true;
    if (limited) continue;
    bool hit = false;
    for (const auto& e : events) {
      if (e.kind == "introduced") {
        if (e.ver == "0" || ge(e.ver)) hit = true;
      } else if (e.kind == "fixed") {
        if (ge(e.ver)) hit = false;
      } else if (e.kind == "last_affected") {
        if (*cmp(v, e.ver) > 0) hit = false;
      }
    }
    if (hit) return Verdict::affected;
  }
  return unknown ? Verdict::unknown : Verdict::not_affected;
}

Verdict debian_evaluate(const nlohmann::json& data, std::string_view source_version) {
  auto status = data.value("status", "");
  if (status != "resolved") return Verdict::affected;  // open or undetermined: no fix yet
  auto fixed = data.value("fixed_version", "");
  if (fixed == "0") return Verdict::not_affected;
  auto c = version::compare_dpkg(source_version, fixed);
  if (!c) return Verdict::unknown;
  return *c < 0 ? Verdict::affected : Verdict::not_affected;
}

}  // namespace airheal::advisory
