// Dependency lockfiles found in images: Go's go.mod (since Go 1.17 it lists every module the
// build selects, so it pins the graph) and npm's package-lock.json (lockfileVersion 1, 2 and 3).
// Their contents are untrusted data: parsed, bounded, never executed.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airheal::scan {

struct LockedDependency {
  std::string name, version;
  bool indirect = false;  // go.mod "// indirect"; npm: not a direct dependency of the root
  nlohmann::json to_json() const;
};

// Is this image path a lockfile we read ("go-mod", "npm-lock"), or "" when not. Copies inside
// module caches, vendored trees, node_modules, test data and toolchains (Go's own source tree)
// describe other projects and are skipped.
std::string lockfile_kind(const std::string& path);

// Is this image path an installed npm package's manifest: .../node_modules/NAME/package.json or
// .../node_modules/@SCOPE/NAME/package.json (a package that npm or yarn installed, nested ones
// included)?
bool node_package_path(const std::string& path);

// An installed package's package.json: its "name" and "version" (nullopt, with a problem
// appended, when it is not a JSON object with a plausible name and version). Bounded like the
// lockfiles: 1 MiB, depth 64.
std::optional<LockedDependency> parse_node_package(const std::string& text,
                                                   std::vector<std::string>& problems);

// Is this image path an installed Python distribution's metadata, directly in a site-packages or
// dist-packages folder: NAME-VERSION.dist-info/METADATA, NAME-VERSION.egg-info/PKG-INFO, or an
// NAME-VERSION.egg-info file (the older single-file form)?
bool python_package_path(const std::string& path);

// Core metadata (METADATA, PKG-INFO): the "Name" and "Version" headers before the first blank
// line (nullopt, with a problem appended, when either is missing or implausible). 1 MiB at most.
std::optional<LockedDependency> parse_python_metadata(const std::string& text,
                                                      std::vector<std::string>& problems);

// Is this image path an installed distribution's RECORD (SITE/NAME-VERSION.dist-info/RECORD)?
bool python_record_path(const std::string& path);

// A RECORD file's rows (CSV as the csv module writes it: path, hash, size; quoted fields with
// commas and doubled quotes). At most 16 MiB and 200,000 rows.
std::vector<std::vector<std::string>> parse_record_rows(std::string_view text);

// go.mod: the require directives (single-line and blocks); replace directives that point a module
// elsewhere are applied (a replacement with a version pins that version; a local path drops the
// module, since its source is in the tree, not a version). Problems are appended to PROBLEMS.
std::vector<LockedDependency> parse_go_mod(const std::string& text,
                                           std::vector<std::string>& problems);

// package-lock.json: "packages" (v2, v3) or "dependencies" (v1), nested node_modules included.
std::vector<LockedDependency> parse_package_lock(const std::string& text,
                                                 std::vector<std::string>& problems);

// go.mod with the require of MODULE set to VERSION (every occurrence, block or single line); an
// indirect marker is kept. nullopt when the file does not require MODULE.
std::optional<std::string> pin_go_mod(const std::string& text, const std::string& module,
                                      const std::string& version);

// package-lock.json with every installed copy of PACKAGE set to VERSION, its "resolved" to
// RESOLVED and its "integrity" to INTEGRITY (SRI, "sha512-..."). nullopt when it lists no PACKAGE.
std::optional<std::string> pin_package_lock(const std::string& text, const std::string& package,
                                            const std::string& version, const std::string& resolved,
                                            const std::string& integrity);

// Go module proxy path escaping (golang.org/x/mod/module.EscapePath): each upper-case letter
// becomes '!' and its lower-case form.
std::string go_escape_path(const std::string& module);

}  // namespace airheal::scan
