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

#include "collect/apt_index.hpp"
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
