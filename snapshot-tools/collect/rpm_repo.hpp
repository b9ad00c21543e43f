// RPM repositories (rpm-md, as dnf reads them), trusted only as far as their signatures reach:
// repodata/repomd.xml must carry a good detached OpenPGP signature (repomd.xml.asc) by a key of
// the configured keyring (dnf's repo_gpgcheck); the primary metadata must have the checksum and
// size repomd.xml names; each .rpm the checksum its primary entry names, and inside the name,
// epoch, version, release and architecture the entry says.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "collect/fetch.hpp"
#include "core/result.hpp"

namespace airheal::collect {

struct RpmSource {
  std::string name;
  std::string url;      // the repository root (repodata/ under it)
  std::string release;  // the needs' release it serves: "9"
  std::vector<std::string> architectures{"x86_64", "noarch"};
  std::string keyring;                // OpenPGP keys (RPM-GPG-KEY-...)
  std::vector<std::string> packages;  // names to collect besides the needs
};

struct RpmEntry {
  std::string name, arch, epoch, version, release, sourcerpm;
  std::string checksum_type, checksum;  // sha256 or sha512
  std::string location;                 // relative to the repository root, checked
  std::uint64_t size = 0;
  std::string evr() const;  // [E:]V-R
  std::string source_name() const;
};

// repomd.xml: where the primary metadata is and what it must hash to.
struct RepomdPrimary {
  std::string location, checksum_type, checksum;
  std::uint64_t size = 0;
};
Result<RepomdPrimary> parse_repomd(std::string_view xml);
// primary.xml (decompressed): every package entry, each checked (location, checksum).
Result<std::vector<RpmEntry>> parse_primary(std::string_view xml);

struct RpmWant {
  std::string name, arch, source, min_evr, why;
};
struct RpmChosen {
  RpmEntry entry;
  std::string why;
};
// The newest build of each want at or above its minimum (rpm's order), from its source rpm.
std::vector<RpmChosen> select_rpm(const std::vector<RpmEntry>& index,
                                  const std::vector<RpmWant>& wants,
                                  const std::vector<std::string>& architectures,
                                  std::vector<std::string>& missing);

struct RpmLog {
  std::function<void(const nlohmann::json&)> record;
};

class RpmRepository {
 public:
  static Result<RpmRepository> open(const RpmSource& source, const std::filesystem::path& cache,
                                    const FetchOptions& fetch, const RpmLog& log);
  const std::vector<RpmEntry>& index() const { return index_; }
  Result<std::filesystem::path> download(const RpmEntry& e, const std::filesystem::path& out_dir,
                                         const RpmLog& log) const;

 private:
  RpmSource source_;
  std::filesystem::path cache_;
  FetchOptions fetch_;
  std::vector<RpmEntry> index_;
};

}  // namespace airheal::collect
