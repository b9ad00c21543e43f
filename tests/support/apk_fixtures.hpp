// apk v2 packages for tests, rebuilt from a real Alpine root file system: a package's record in
// that root's lib/apk/db/installed says which files it owns (with their modes and SHA-1s) and
// everything .PKGINFO holds, so the package apk-tools once installed there can be written again
// (the control stream from the record, the data stream from the root's files, each file's
// APK-TOOLS.checksum.SHA1 pax header as abuild writes it). Alpine's own signatures cannot be
// reproduced: the packages are unsigned unless a test key signs them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace airheal::test {

struct ApkSigningKey {
  std::filesystem::path private_pem;  // RSA private key (PEM)
  std::string name;                   // the public key's file name in /etc/apk/keys
};

// Writes DIR/<name>-<version>.apk for the package NAME installed in ROOT and returns its path.
// Throws when the record or a file it lists is missing, or a symlink's target differs from its
// record; a regular file changed since apk installed it (a configuration file) is packed as it is.
std::filesystem::path write_apk_from_root(const std::filesystem::path& root,
                                          const std::string& name, const std::filesystem::path& dir,
                                          const std::optional<ApkSigningKey>& key = std::nullopt);

// The signature member abuild-sign puts before SIGNED_GZ (a package's control member, or a
// repository's whole APKINDEX.tar.gz): a gzip'd tar holding .SIGN.RSA.<key name>, RSA-SHA1.
std::string apk_signature_member(const std::string& signed_gz, const ApkSigningKey& key);

// An RSA key pair made by openssl: DIR/NAME (private, PEM) and DIR/NAME.pub (public, PEM).
ApkSigningKey make_apk_signing_key(const std::filesystem::path& dir, const std::string& name);

// The official Alpine minirootfs tarball of RELEASE ("3.10.3" or "3.10.9") from
// ../shared/data/alpine-rootfs, or "" when it is not there.
std::filesystem::path alpine_minirootfs(const std::string& release);
// Unpacks it into DIR (created) as root would (owners and modes kept); returns DIR.
std::filesystem::path unpack_alpine_minirootfs(const std::string& release,
                                               const std::filesystem::path& dir);

}  // namespace airheal::test
