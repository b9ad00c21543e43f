// Application packages for tests: real npm tarballs (npm pack from the npm registry, the one
// package registry besides Debian's these machines reach), wheels assembled here with a correct
// RECORD (no Python package index is reachable; each test says where the files come from), and an
// image's file system held in memory for the heal planner.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace airheal::test {

// `npm pack NAME@VERSION` into the fixture cache: the registry's own tarball.
std::filesystem::path npm_tarball(const std::string& name, const std::string& version);

// A wheel (zip) holding FILES (path in the wheel -> bytes) plus NAME-VERSION.dist-info/{METADATA,
// WHEEL, RECORD}; METADATA gets REQUIRES (Requires-Dist lines) and WHEEL the given purelib flag.
std::string make_wheel(const std::string& name, const std::string& version,
                       const std::map<std::string, std::string>& files,
                       const std::vector<std::string>& requires_dist = {}, bool purelib = true);

// A wheel of the tree ROOT (every file under it, paths relative to it): the dist-info folder
// DIST_INFO in it gets a WHEEL (purelib, py3-none-any) when it has none and a RECORD of every file.
std::string wheel_from_tree(const std::filesystem::path& root, const std::string& dist_info);

// PACKAGE from Debian SUITE's main archive (bookworm, trixie, ...) as it is today, downloaded with
// a private apt configuration for that suite (Debian's keyring checks its InRelease); cached.
std::filesystem::path suite_deb(const std::string& suite, const std::string& package);

// The node-semver that npm itself uses (npm's bundled copy, or Debian's node-semver): the
// reference implementation of npm's version order and ranges. Fails the test when there is none.
std::filesystem::path npm_semver();

// The "sha256=<urlsafe base64>" hash RECORD files use.
std::string record_hash_of(const std::string& bytes);

}  // namespace airheal::test
