// The parts of an apt repository's metadata that collect trusts only after checking: the Release
// file (its SHA256 list of indices), a Packages index (each entry's Filename, Size, SHA256) and the
// choice of builds with their dependency closure. Pure functions over untrusted text, bounded, with
// a fuzz target (tests/fuzz: apt_metadata).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "heal/deb/control.hpp"

namespace airheal::collect {

// The fields of a Release file that the chain of trust uses.
struct ReleaseFile {
  std::string suite, codename, date;
  std::optional<std::int64_t> valid_until;
  bool by_hash = false;  // Acquire-By-Hash: indices also at DIR/by-hash/SHA256/HASH
  // apt reads binary-all only when Architectures lists "all" and No-Support-for-Architecture-all
  // does not say arch:all packages are in each binary-ARCH index; so does collect.
  bool read_binary_all = false;
  struct Entry {
    std::uint64_t size = 0;
    std::string sha256;
  };
  std::map<std::string, Entry> sha256;  // path relative to dists/SUITE -> size and hash
};
// Parses a Release file (the signed text of an InRelease, or Release itself); bounded to 16 MiB
// and 100,000 entries. Refuses one without SHA256 entries.
Result<ReleaseFile> parse_release(std::string_view text);

// A binary package of an index, with where it lives and what it must hash to.
struct IndexEntry {
  heal::deb::Package package;
  std::string filename;  // relative to the archive root, checked: no "..", no absolute path
  std::uint64_t size = 0;
  std::string sha256;
};

// A package wanted from the repository: a binary of SOURCE at FIXED or later (needs.json), or a
// name (and version) the configuration lists.
struct AptWant {
  std::string name, architecture;  // architecture empty: the source's architectures
  std::string source;              // empty: any
  std::string min_source_version;  // empty: the newest
  std::string exact_version;       // NAME=VERSION
  std::string why;                 // "needs: DSA-6015-1" / "collect.yaml"
};

// What one repository gave: the packages chosen (wanted ones and their closure), and what could
// not be found, each with why.
struct AptSelection {
  struct Chosen {
    IndexEntry entry;
    std::string why;
  };
  std::vector<Chosen> chosen;
  std::vector<std::string> missing;
};

// Picks from INDEX the newest build of each want (from the named source, at least its minimum
// source version), and the closure apt would add: each versioned Depends/Pre-Depends of a chosen
// package that this repository can satisfy and no chosen package does (an unversioned or
// unsatisfiable one is what the image's older build needed too: the image has it).
AptSelection select_packages(const std::vector<IndexEntry>& index,
                             const std::vector<AptWant>& wants,
                             const std::vector<std::string>& architectures);

// Reads a Packages index (the decompressed text), checking each entry's Filename, Size and SHA256.
Result<std::vector<IndexEntry>> parse_index(std::string_view text);

}  // namespace airheal::collect
