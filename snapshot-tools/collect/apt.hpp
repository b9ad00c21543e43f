// Debian and Ubuntu apt repositories, read as apt reads them and trusted only as far as their
// signatures reach: the suite's Release file must carry a good OpenPGP signature (InRelease, or
// Release with Release.gpg) by a key of the distribution's keyring given in the configuration,
// must not be past its Valid-Until, and names the SHA256 and size of every Packages index; each
// index must match them, and each .deb the SHA256 and size its index names and, inside, the name,
// version and architecture its index entry says. Whatever fails a link of that chain is refused
// with the reason and never reaches the output.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "collect/fetch.hpp"
#include "core/result.hpp"
#include "heal/deb/control.hpp"

namespace airheal::collect {

struct AptSource {
  std::string name;     // how logs and summaries name it
  std::string url;      // the archive root: http://deb.debian.org/debian-security
  std::string suite;    // bookworm-security
  std::string release;  // the needs' release it serves
  std::vector<std::string> components{"main"};      //
  std::vector<std::string> architectures{"amd64"};  // "all" is always read as well
  std::string keyring;                              // OpenPGP keys (binary or armoured)
  std::vector<std::string> packages;  // NAME or NAME=VERSION to collect besides the needs
};

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

struct AptLog {
  std::function<void(const nlohmann::json&)> record;  // one line of the collect log per step
  std::function<void(const std::string&)> progress;   // a line for the terminal
};

// A repository opened: its Release verified and its indices read (from the cache when their
// hashes match, so a second run fetches only the Release and what changed).
class AptRepository {
 public:
  static Result<AptRepository> open(const AptSource& source, const std::filesystem::path& cache,
                                    const FetchOptions& fetch, std::int64_t now, const AptLog& log);
  const std::vector<IndexEntry>& index() const { return index_; }
  const AptSource& source() const { return source_; }
  // Downloads ENTRY (or takes it from the cache) into OUT_DIR as NAME_VERSION_ARCH.deb, after
  // checking its size and SHA256 against the index and its control against the entry. Returns
  // the file written and whether it came from the cache.
  Result<std::pair<std::filesystem::path, bool>> download(const IndexEntry& entry,
                                                          const std::filesystem::path& out_dir,
                                                          const AptLog& log) const;

 private:
  AptSource source_;
  std::filesystem::path cache_;
  FetchOptions fetch_;
  std::vector<IndexEntry> index_;
};

}  // namespace airheal::collect
