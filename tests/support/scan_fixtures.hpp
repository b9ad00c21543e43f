// Real images for scanner tests, built from Debian's archive only (the one network these machines
// reach): a bookworm main minbase root (mmdebstrap), advisories from the bookworm-security
// archive's changelogs, a distroless-style root assembled from .debs with status.d records, and a
// Go program built with Debian's golang-1.19. Results are cached across runs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace airheal::test {

std::filesystem::path fixture_cache();
// mmdebstrap --variant=minbase bookworm (main only) as one tar.
std::filesystem::path debian_minbase_tar();
// Its dpkg status file, extracted.
std::filesystem::path debian_minbase_status();
// Security-tracker-format advisories for it, from bookworm-security's changelogs.
std::filesystem::path debian_security_tracker();
// `apt-get download PKG=VERSION` into the cache.
std::filesystem::path download_deb(const std::string& package, const std::string& version);
// The package's newest build in bookworm-security (apt-cache madison), downloaded; empty path
// when the security archive has none.
std::filesystem::path security_deb(const std::string& package);
// The version of a package installed in the minbase root.
std::string minbase_version(const std::string& package);
// A static Go program (module example.com/app with a replaced dependency) built by go 1.19.
std::filesystem::path go_binary();

}  // namespace airheal::test
