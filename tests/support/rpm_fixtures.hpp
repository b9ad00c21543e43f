// rpm packages and rpm-based image roots for tests. No rpm distribution's repository is reachable
// from this machine, so the packages are made up (built by the host's real rpmbuild from specs
// written here); everything that indexes, signs, installs and checks them is the real rpm tooling:
// createrepo_c, rpmsign with GnuPG, dnf --installroot, rpm -V. An image "with dnf" gets the
// host's own dnf, rpm and Python (Debian's builds, the files of their dependency closure) copied
// into its root, so the dnf that heals it runs inside the image, as on a RHEL-family image.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace airheal::test {

struct RpmSpec {
  std::string name, version, release = "1";
  std::string arch = "noarch";
  std::vector<std::string> requires_, provides;
  std::map<std::string, std::string> files;     // absolute path -> content (mode 0644)
  std::map<std::string, std::string> programs;  // absolute path -> content (mode 0755)
  std::map<std::string, std::string> configs;   // %config(noreplace) files (mode 0644)
  std::string post;                             // a %post body, "" for none
};

struct RpmSigner {
  std::filesystem::path gnupg_home;
  std::string name;                  // the key's user id, as rpmsign's %_gpg_name
  std::filesystem::path public_key;  // ASCII-armoured
};

// Builds SPEC with rpmbuild under TOP (AutoReqProv off: only what SPEC says is required) and
// returns the .rpm's path; signed by SIGNER when given. Throws with rpmbuild's output on failure.
std::filesystem::path build_rpm(const RpmSpec& spec, const std::filesystem::path& top,
                                const std::optional<RpmSigner>& signer = std::nullopt);
// The made-up "greet" family, built under TOP (signed by SIGNER when given):
//   greet-base 1.0-1 (x86_64): /usr/bin/sh (the host's static busybox), Provides /bin/sh, as a
//     distribution's shell package does;
//   libgreet 1.0-1.el9: /usr/share/greet/message, /usr/share/greet/old-only, %config(noreplace)
//     /etc/greet.conf; Requires greet-base and /bin/sh; a %post that records it ran;
//   libgreet 1.1-1.el9: the same without old-only, Requires greet-data >= 1.1 too (a package the
//     image does not have: the dependency closure must bring it);
//   greet-data 1.1-1.el9: /usr/share/greet/data;
//   greet-app 1.0-1.el9: /usr/bin/greet (a shell script), Requires libgreet >= 1.0.
struct GreetRpms {
  std::filesystem::path base, libgreet_old, libgreet_new, data, app;
};
GreetRpms build_greet_rpms(const std::filesystem::path& top,
                           const std::optional<RpmSigner>& signer = std::nullopt);

// An RSA signing key in a fresh GnuPG home under DIR.
RpmSigner make_rpm_signing_key(const std::filesystem::path& dir, const std::string& name);
// createrepo_c over DIR (repodata/ next to the packages).
void create_rpm_repo(const std::filesystem::path& dir);
// The host's dnf installs PACKAGES (names) from the local repository REPO into ROOT (a real rpmdb
// under ROOT/var/lib/rpm), with ROOT/etc/os-release saying ID and VERSION_ID. Keys in TRUST are
// imported into ROOT's rpmdb first (rpm --import), as an image's release package does.
void make_rpm_root(const std::filesystem::path& root, const std::filesystem::path& repo,
                   const std::vector<std::string>& packages, const std::string& id,
                   const std::string& version_id,
                   const std::vector<std::filesystem::path>& trust = {});
// Copies the host's dnf (with rpm, Python and their dependency closure as Debian installed them)
// into ROOT, and sets rpm's database path to /var/lib/rpm inside it (Debian's rpm defaults to
// ~/.rpmdb). Paths ROOT already has are kept.
void add_host_dnf(const std::filesystem::path& root);
// The same for the host's rpm alone (an image with rpm and no dnf, as ubi-minimal's microdnf
// images are to airheal).
void add_host_rpm(const std::filesystem::path& root);
// HOME for running the host's rpm and dnf on a root: rpm's %_dbpath set to /var/lib/rpm.
std::filesystem::path rpm_home(const std::filesystem::path& dir);
// rpm --root ROOT ARGS..., the output; throws when it fails.
std::string rpm_in_root(const std::filesystem::path& root, const std::vector<std::string>& args);

}  // namespace airheal::test
