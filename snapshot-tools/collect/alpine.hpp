// Alpine repositories, trusted as apk trusts them: ARCH/APKINDEX.tar.gz must carry a good
// abuild signature (.SIGN.RSA[256].<key>) by a key in the configured keys folder (the
// distribution's /etc/apk/keys), over the index member; each package's identity (Q1 + base64 of
// the SHA-1 of its control member) must be the C: its signed index record names, and its
// .PKGINFO the name, version and architecture the record says.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "collect/fetch.hpp"
#include "core/apk.hpp"
#include "core/result.hpp"

namespace airheal::collect {

struct ApkSource {
  std::string name;
  std::string url;      // the repository: https://dl-cdn.alpinelinux.org/alpine/v3.10/main
  std::string release;  // the needs' release it serves: v3.10
  std::vector<std::string> architectures{"x86_64"};
  std::string keys;  // a folder of PEM public keys named as the signatures name them
};

struct ApkIndexEntry {
  apk::Record record;
  std::string checksum;  // C:
};
// The records of an APKINDEX, each with its C: (refused when one has none).
Result<std::vector<ApkIndexEntry>> parse_apkindex(std::string_view text);

struct ApkWant {
  std::string name, architecture, origin, min_version, why;
};
struct ApkChosen {
  ApkIndexEntry entry;
  std::string architecture, why;
};
// The newest build of each want at or above its minimum (apk's order), from its origin.
std::vector<ApkChosen> select_apk(const std::vector<ApkIndexEntry>& index, const std::string& arch,
                                  const std::vector<ApkWant>& wants,
                                  std::vector<std::string>& missing);

struct ApkLog {
  std::function<void(const nlohmann::json&)> record;
};

class ApkRepository {
 public:
  static Result<ApkRepository> open(const ApkSource& source, const std::string& arch,
                                    const std::filesystem::path& cache, const FetchOptions& fetch,
                                    const ApkLog& log);
  const std::vector<ApkIndexEntry>& index() const { return index_; }
  // Downloads the package into OUT_DIR as NAME-VERSION.apk after checking it against its record.
  Result<std::filesystem::path> download(const ApkIndexEntry& e,
                                         const std::filesystem::path& out_dir,
                                         const ApkLog& log) const;

 private:
  ApkSource source_;
  std::string arch_;
  std::filesystem::path cache_;
  FetchOptions fetch_;
  std::vector<ApkIndexEntry> index_;
};

}  // namespace airheal::collect
