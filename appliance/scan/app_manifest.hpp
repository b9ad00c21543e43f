// Installed application packages of the ecosystems airheal inventories but does not heal in
// place: Ruby gems (specifications/*.gemspec), .NET (*.deps.json and *.nupkg), PHP
// (vendor/composer/installed.json) and Rust (Cargo.lock). Untrusted: parsed, bounded, never
// executed (a gemspec is Ruby code and is read as text, not run).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scan/lockfile.hpp"

namespace airheal::scan {

// The record kind of an image path among these ("gemspec", "dotnet-deps", "nupkg",
// "composer-installed", "cargo-lock"), or "" when it is none.
std::string app_manifest_kind(const std::string& path);

// A gemspec's name and version: `s.name = "x"` / `s.version = "1.2"` (with .freeze, either quote,
// or Gem::Version.new), else the file name NAME-VERSION.gemspec.
std::vector<LockedDependency> parse_gemspec(const std::string& text, std::string_view file_name,
                                            std::vector<std::string>& problems);

// A .NET application's NAME.deps.json: the "libraries" of type "package" ("Name/Version").
std::vector<LockedDependency> parse_deps_json(const std::string& text,
                                              std::vector<std::string>& problems);

// A .nupkg (zip): the <id> and <version> of its .nuspec.
std::vector<LockedDependency> parse_nupkg(const std::string& bytes,
                                          std::vector<std::string>& problems);

// Composer's vendor/composer/installed.json (Composer 1: an array; 2: {"packages": [...]}).
std::vector<LockedDependency> parse_composer_installed(const std::string& text,
                                                       std::vector<std::string>& problems);

// Cargo.lock: every [[package]] with a registry source (path and git dependencies have no
// crates.io version).
std::vector<LockedDependency> parse_cargo_lock(const std::string& text,
                                               std::vector<std::string>& problems);

}  // namespace airheal::scan
