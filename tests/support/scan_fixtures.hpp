// Real images for scanner tests, built from Debian's archive only (the one network these machines
// reach): a bookworm main minbase root (mmdebstrap), advisories from the bookworm-security
// archive's changelogs, a distroless-style root assembled from .debs with status.d records, and a
// Go program built with Debian's golang-1.19. Results are cached across runs.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
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
// A static Go program that vendors example.com/greeter at GREETER_VERSION ("v1.2.3"): its build
// information names that version. It prints a greeting and exits 0; with "fail" it exits 4, with
// "sleep" it sleeps for ten minutes.
std::filesystem::path go_greeter_app(const std::string& greeter_version);
// A HIGH-severity OSV advisory for the vendored greeter module (example.com/greeter), fixed in
// FIXED (empty: no fix known); write_greeter_advisory puts it in DIR/ID.json.
nlohmann::json greeter_osv(const std::string& id, const std::string& fixed);
void write_greeter_advisory(const std::filesystem::path& dir, const std::string& id,
                            const std::string& fixed);
// The gold-artefact scenario: a FROM scratch image holding greeter-app v1.2.3 pushed to each of
// REFS ("repo:tag") at ADDRESS; then a snapshot on channel "go" signed by SIGNER, carrying
// GO-2026-9001 (fixed in 1.2.4), GO-2026-9002 (no fix) when WITH_UNFIXED, and greeter-app v1.2.4
// as a gold artefact for /app, trusted and imported with airhealctl into STATE. Work under WORK.
class Signer;
void import_greeter_gold(const std::filesystem::path& work, const std::string& address,
                         const std::filesystem::path& state, const std::vector<std::string>& refs,
                         const Signer& signer, bool with_unfixed);

// A distroless-style root from real .debs under ROOT: files extracted, and the dpkg records in
// status.d in the three forms distroless images use (file, directory, several stanzas in one file).
// Packages: base-files, libc6, libcrypt1, zlib1g, perl-base, libpcre2-8-0 at their minbase
// versions (enough for perl to run).
std::filesystem::path distroless_root(const std::filesystem::path& root);
// Builds an image FROM scratch holding ROOT's files with buildah (storage under WORK) and pushes it
// to DEST ("host:port/repo:tag"); ENTRYPOINT, when given, is set in its config.
std::string buildah_image(const std::filesystem::path& work, const std::filesystem::path& root,
                          const std::string& dest, const std::vector<std::string>& entrypoint = {});

// Whole-release replays (tests/integration/replay_test.cpp): real images of a Debian release and
// every build its security suite has today for them, nothing chosen by hand.
struct DebianImage {
  std::filesystem::path tar;     // the root file system as one tar
  std::filesystem::path status;  // its dpkg status file
};
// mmdebstrap --variant=VARIANT SUITE from the release's main archive alone (so it really is
// behind SUITE-security), with INCLUDE added; with WITH_SECURITY, from main and SUITE-security
// (what a distribution's newer base image is); cached.
DebianImage debian_image(const std::string& suite, const std::string& variant,
                         const std::vector<std::string>& include, bool with_security = false);
// A realistic image's packages beyond minbase: openssl and its library, curl, openssh-client,
// python3, perl, pam, libsystemd0, libxml2, zlib1g, ca-certificates, tzdata.
std::vector<std::string> realistic_packages(const std::string& suite);
// Security-tracker-format advisories for the packages of STATUS from SUITE-security's changelogs.
std::filesystem::path security_advisories(const std::filesystem::path& status,
                                          const std::string& suite);
// Every source package installed in STATUS for which SUITE-security has a newer build today, and
// the newest security build of each of its installed binaries, downloaded into OUT with a
// private apt configuration for that suite (Debian's keyring checks the suite's InRelease).
struct SecurityBuilds {
  std::set<std::string> sources;
  std::map<std::string, std::string> versions;   // binary package -> the security build's version
  std::map<std::string, std::string> installed;  // binary package -> the version the image has
  std::map<std::string, std::string> source_of;  // binary package -> its source package
  std::vector<std::string> absent;  // installed binaries of those sources the suite has no build of
};
SecurityBuilds security_builds(const std::filesystem::path& status, const std::string& suite,
                               const std::filesystem::path& out);

}  // namespace airheal::test
