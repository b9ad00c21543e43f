// What the collect tests serve on loopback: a static HTTP server (tests/support/
// static_http_server.py: Range requests, a connection cut on purpose) and a real apt repository
// built from real .debs with apt-ftparchive and signed with a test key, as a distribution's
// archive is laid out (dists/SUITE/{InRelease,Release,Release.gpg}, main/binary-amd64/Packages.xz,
// pool/).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

namespace airheal::test {

class StaticServer {
 public:
  // Serves DIR; DROPS: URL path -> bytes after which the first GET of it is cut.
  explicit StaticServer(const std::filesystem::path& dir,
                        const std::map<std::string, std::uint64_t>& drops = {});
  ~StaticServer();
  StaticServer(const StaticServer&) = delete;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string requests() const;  // "GET /path" lines, as the server logged them

 private:
  TempDir tmp_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

struct AptRepoOptions {
  std::string suite = "bookworm-security";
  std::string codename = "bookworm-security";
  bool inrelease = true;    // write a clearsigned InRelease
  bool detached = true;     // write Release.gpg
  std::string valid_until;  // a Valid-Until line's value, when not empty
};
// Lays out an apt repository in DIR holding DEBS (copied into pool/main/), indexes it with
// apt-ftparchive and signs its Release with SIGNER (nullptr: unsigned).
void build_apt_repository(const std::filesystem::path& dir,
                          const std::vector<std::filesystem::path>& debs, const Signer* signer,
                          const AptRepoOptions& options = {});

}  // namespace airheal::test
