// Debian control data as dpkg and apt read it: deb822 paragraphs (a .deb's control file, dpkg's
// status database, distroless status.d records), binary package relationship fields (Depends,
// Pre-Depends, Breaks, Conflicts, Provides; Debian Policy 7.1) and whether a package satisfies a
// relation. Input is untrusted (it comes from images and snapshots): sizes and counts are bounded
// and a malformed field is an error, never a crash or a guess.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace airheal::heal::deb {

// One paragraph: fields in file order, continuation lines folded into the value (with their
// newlines, as dpkg keeps them). Field names compare case-insensitively, as in deb822.
class Paragraph {
 public:
  std::string_view field(std::string_view name) const;  // "" when absent
  bool has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  // The paragraph written back: "Name: value" lines, newline-terminated, no blank line.
  std::string text() const;
  void set(std::string_view name, std::string value);
  void erase(std::string_view name);

 private:
  friend Result<std::vector<Paragraph>> parse_paragraphs(std::string_view, std::size_t);
  std::vector<std::pair<std::string, std::string>> fields_;
};

inline constexpr std::size_t kMaxControlBytes = 64u << 20;  // a large image's whole status file
inline constexpr std::size_t kMaxParagraphs = 200000;
inline constexpr std::size_t kMaxFieldBytes = 1u << 20;

// Every paragraph of TEXT (at most MAX_BYTES). Refuses field lines without a valid name, a
// continuation line before any field, and duplicate fields in one paragraph.
Result<std::vector<Paragraph>> parse_paragraphs(std::string_view text,
                                                std::size_t max_bytes = kMaxControlBytes);

// A relation operator; Policy 7.1 (the obsolete "<" and ">" mean "<=" and ">=").
enum class Op { none, lt, le, eq, ge, gt };

struct Relation {
  std::string name;
  std::string arch;  // the qualifier after ':' (any, native, amd64, ...), empty when absent
  Op op = Op::none;
  std::string version;
  std::string text() const;  // "libc6 (>= 2.36)"
};
// "a | b": the group is satisfied when one alternative is.
using Alternatives = std::vector<Relation>;
using Relations = std::vector<Alternatives>;
std::string text(const Alternatives& group);

inline constexpr std::size_t kMaxRelationGroups = 4096;
inline constexpr std::size_t kMaxAlternatives = 64;

// A relationship field ("libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0"). Architecture
// restrictions ("[amd64]") and build profiles ("<!nocheck>") belong to source packages; they are
// accepted and dropped.
Result<Relations> parse_relations(std::string_view field);

// A binary package as the resolver sees it.
struct Package {
  std::string name, version, architecture, multi_arch;
  std::string source, source_version;  // Source: (defaults to the package and its version)
  std::string status;                  // dpkg's "want flag state", empty outside dpkg's status
  Relations depends, pre_depends, breaks, conflicts;
  std::vector<Relation> provides;  // unversioned or "(= v)"

  bool installed()
      const;          // dpkg's state is "installed" (status.d records carry no Status: installed)
  bool held() const;  // dpkg's selection is "hold" (apt-mark hold)
  std::string id() const { return name + " " + version; }
};

// The package a paragraph describes; refuses a paragraph without Package or Version, with a
// version dpkg would refuse, or with a malformed relationship field.
Result<Package> package_from(const Paragraph& p);

// Whether P satisfies R: by its own name and version, or by a Provides entry (an unversioned
// Provides satisfies only unversioned relations, as in dpkg).
bool satisfies(const Relation& r, const Package& p);
// Whether VERSION satisfies R's version constraint.
bool version_satisfies(const Relation& r, std::string_view version);

}  // namespace airheal::heal::deb
