// Security advisories from the four formats a snapshot may carry, normalised to one shape:
// an advisory (id, aliases, severity, the source document verbatim) affecting packages keyed by
// (ecosystem, package). Parsing is strict: a malformed document is an error naming the file and
// the field, never a partial result.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace airheal::advisory {

enum class Format { osv, debian_tracker, alpine_secdb, csaf };
const char* to_string(Format f);
std::optional<Format> format_from_string(std::string_view s);

// For OSV: one `affected[]` element verbatim. For the Debian tracker: {release, status,
// fixed_version, urgency, nodsa, nodsa_reason} of one source package in one release. For Alpine:
// {fixed_version} ("0" = never affected) of one package in one branch.
struct Affected {
  std::string ecosystem;  // "Go", "Debian:bookworm", "Alpine:v3.10", ...
  std::string package;    // Debian: the source package
  nlohmann::json data;
};

struct Advisory {
  Format source = Format::osv;
  std::string id;
  std::vector<std::string> aliases;
  std::string summary;
  nlohmann::json severity = nlohmann::json::array();
  std::string published, modified, withdrawn;  // RFC 3339 or empty
  nlohmann::json document;                     // the source record
  std::vector<Affected> affected;
};

// Guesses the format of one advisory file from its name and first bytes.
std::optional<Format> detect_format(std::string_view filename, std::string_view bytes);

Result<std::vector<Advisory>> parse(Format format, std::string_view bytes, std::string_view name);
Result<Advisory> parse_osv(std::string_view bytes, std::string_view name);
// The name a package is matched by in ECOSYSTEM: for PyPI the PEP 503 normalised name (lower
// case, runs of "-", "_" and "." as one "-": "PyYAML" and "pyyaml", "Jinja2" and "jinja2" are one
// project); NuGet ids and Packagist names in lower case (both registries treat names
// case-insensitively: "Newtonsoft.Json" is "newtonsoft.json"); other ecosystems' names as they are
// (Maven coordinates and gem names are case-sensitive).
std::string package_key(std::string_view ecosystem, std::string_view name);
Result<std::vector<Advisory>> parse_debian_tracker(std::string_view bytes, std::string_view name);
Result<std::vector<Advisory>> parse_alpine_secdb(std::string_view bytes, std::string_view name);
// CSAF 2.0 (advisory/csaf.cpp): one advisory per vulnerability, products resolved through the
// product tree to (ecosystem[:release], package, version), as OSV-shaped affected[] elements.
Result<std::vector<Advisory>> parse_csaf(std::string_view bytes, std::string_view name);

// OSV schema 1.6 "Evaluation": is `version` of the package covered by this affected[] element?
enum class Verdict { affected, not_affected, unknown };
const char* to_string(Verdict v);
Verdict osv_evaluate(const nlohmann::json& affected, std::string_view ecosystem,
                     std::string_view version);

// Debian tracker verdict for an installed source version.
Verdict debian_evaluate(const nlohmann::json& data, std::string_view source_version);

}  // namespace airheal::advisory
