// Version comparison for the ecosystems whose advisories airheal evaluates.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace airheal::version {

// Semantic Versioning 2.0.0 precedence. A leading "v" is accepted (Go module versions); build
// metadata ("+incompatible") is ignored, as the specification requires. nullopt: not semver.
std::optional<int> compare_semver(std::string_view a, std::string_view b);
bool is_semver(std::string_view v);

// Debian policy 5.6.12 ([epoch:]upstream[-revision]), as `dpkg --compare-versions` orders them.
// nullopt when either string is not a valid Debian version.
std::optional<int> compare_dpkg(std::string_view a, std::string_view b);
bool is_dpkg_version(std::string_view v);

// apk-tools 3 (Alpine, Wolfi): digits, one letter, _suffixes (alpha beta pre rc < none < cvs svn
// git hg p) with numbers, -rN revision, ~commit hash. Invalid strings compare as plain strings, as
// apk does; is_apk_version says whether apk would accept the string.
int compare_apk(std::string_view a, std::string_view b);
bool is_apk_version(std::string_view v);

// rpm 4.18: rpmvercmp on one version segment, and epoch:version-release (missing epoch = 0; the
// release is compared only when both sides have one, as rpm.vercmp does).
int rpmvercmp(std::string_view a, std::string_view b);
int compare_rpm(std::string_view a, std::string_view b);

// PEP 440 (Python packages, as pip and the packaging library order them): [N!]N(.N)*[{a|b|rc}N]
// [.postN][.devN][+local], with the spellings PEP 440 normalises (alpha, beta, c, pre, preview,
// rev, r, -N, separators, a leading v, upper case). nullopt when either is not a PEP 440 version.
std::optional<int> compare_pep440(std::string_view a, std::string_view b);
bool is_pep440(std::string_view v);
// The normalised form ("1.0-RC1" -> "1.0rc1"); nullopt when it is not a PEP 440 version.
std::optional<std::string> normalise_pep440(std::string_view v);

// Maven (org.apache.maven.artifact.versioning.ComparableVersion of maven-artifact 3.8): items split
// at '.', '-' and digit/letter switches; qualifiers alpha < beta < milestone < rc = cr < snapshot <
// "" = ga = final = release < sp < any other (lexical), a/b/m before a digit meaning alpha/beta/
// milestone; trailing zeros and empty qualifiers ignored. Every string is a Maven version; nullopt
// only for empty or absurdly long ones.
std::optional<int> compare_maven(std::string_view a, std::string_view b);

// NuGet (NuGet.Versioning): up to four numbers, pre-release labels compared as SemVer 2.0 does
// but case-insensitively, build metadata ignored. nullopt when either is not a NuGet version.
std::optional<int> compare_nuget(std::string_view a, std::string_view b);

// RubyGems (Gem::Version#<=>): runs of digits and of letters, '-' read as ".pre.", a letter run
// (a pre-release) before any number, trailing zeros ignored. nullopt when either is not a gem
// version.
std::optional<int> compare_rubygems(std::string_view a, std::string_view b);

// Packagist: PHP's version_compare after a leading v is dropped (what OSV's Packagist ranges
// mean): dev < alpha = a < beta = b < RC = rc < a number < pl = p, other words before dev.
std::optional<int> compare_composer(std::string_view a, std::string_view b);

// Does VERSION satisfy RANGE as node-semver reads it (npm's dependency ranges: ||, hyphen ranges,
// ~ ^ x-ranges, comparators; a pre-release only where a comparator names its core)? nullopt when
// the range is not a semver range (a URL, a git or file reference, a dist-tag) or VERSION is not
// a semantic version.
std::optional<bool> satisfies_npm_range(std::string_view version, std::string_view range);

// Does VERSION satisfy the PEP 440 specifier set SPECIFIERS ("<3,>=1.21.1"; ~= == != <= >= < >
// === and == V.* prefixes, pre-releases only where a specifier names one), as the packaging
// library decides? nullopt when either does not parse.
std::optional<bool> satisfies_pep440(std::string_view version, std::string_view specifiers);

// Comparison by ecosystem name as OSV spells it ("Go", "Debian", "Debian:12", ...).
// nullopt for an ecosystem airheal cannot order, or versions that ecosystem rejects.
std::optional<int> compare(std::string_view ecosystem, std::string_view a, std::string_view b);

}  // namespace airheal::version
