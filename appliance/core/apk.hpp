// apk v2 package files (Alpine, and apk-based distributions): what a package says about itself
// and the records apk-tools keeps about it. A .apk is two or three concatenated gzip members, each
// a tar stream: an optional signature (.SIGN.RSA.<key>.pub or .SIGN.RSA256.<key>.pub), the control
// stream (.PKGINFO, install scripts) and the data stream (the files, each with its SHA-1 in a pax
// header). apk names a package by its "identity": Q1 + base64(SHA-1 of the control member's
// compressed bytes); a signature signs those same bytes.
//
// Every byte here is untrusted: members, the control stream, .PKGINFO and the database are read
// with size and count limits, and paths are normalised and kept inside the root.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace airheal::apk {

inline constexpr std::uint64_t kMaxPackageBytes = 2ull << 30;  // a .apk file
inline constexpr std::size_t kMaxControlBytes = 4 << 20;       // signature + control streams
inline constexpr std::size_t kMaxPkginfoBytes = 1 << 20;
inline constexpr std::size_t kMaxDataEntries = 200000;
inline constexpr std::size_t kMaxDatabaseBytes = 256 << 20;  // lib/apk/db/installed

// .PKGINFO ("key = value" lines; depend, provides, install_if, replaces may repeat).
struct PkgInfo {
  std::string name, version, arch, origin, description, url, license, maintainer, commit;
  std::string datahash, replaces_priority, provider_priority;
  std::uint64_t installed_size = 0;
  std::int64_t build_date = 0;
  std::vector<std::string> depends, provides, install_if, replaces, triggers;
};
Result<PkgInfo> parse_pkginfo(std::string_view text);

struct Signature {
  std::string algorithm;  // "RSA" (SHA-1) or "RSA256" (SHA-256)
  std::string key_name;   // the file name in /etc/apk/keys
  std::string bytes;      // the raw PKCS#1 v1.5 signature
};

// One member of the data stream, as apk records it.
struct DataEntry {
  std::string path;  // normalised, relative to the root
  char type = 'f';   // f, d, l (symlink), h (hard link)
  int mode = 0644;
  std::uint32_t uid = 0, gid = 0;
  std::string link;      // symlink or hard link target
  std::string checksum;  // Q1 + base64(SHA-1) of the content (of the target, for a symlink)
  std::uint64_t size = 0;
};

struct PackageFile {
  PkgInfo info;
  std::string pkginfo;         // .PKGINFO as it is
  std::string identity;        // Q1 + base64(SHA-1 of the control member)
  std::string control_member;  // the control member's compressed bytes (what a signature signs)
  std::vector<Signature> signatures;
  std::vector<std::string> scripts;  // .pre-install, .post-upgrade, ... names
  std::vector<DataEntry> data;       // only when read with data
  std::uint64_t size = 0;            // of the file
  std::size_t control_entries = 0;   // tar entries before the data stream's first
  std::uint64_t data_offset = 0;     // where the data stream's gzip member starts in the file
};

// Reads FILE: its members, .PKGINFO, signatures and (WITH_DATA) every data entry with its
// checksum. invalid_argument for anything that is not a well-formed apk v2 package.
Result<PackageFile> read_package(const std::filesystem::path& file, bool with_data = false);

// "Q1" + base64 of a raw 20-byte SHA-1, as apk writes checksums.
std::string q1(std::string_view raw_sha1);
std::string q1_of(std::string_view bytes);  // Q1 of the SHA-1 of BYTES

// The package's stanza in an APKINDEX (C: P: V: A: S: I: T: U: L: o: m: t: c: k: D: p: i:),
// newline-terminated, no blank line.
std::string index_record(const PackageFile& p);
// Its record in lib/apk/db/installed, as apk-tools 2 writes it: the index fields, r:/q:, then per
// directory F: (M: when not root:root 0755) and per file R: (a: when not root:root 0644) and Z:.
// Needs P.data. Newline-terminated, no blank line.
std::string installed_record(const PackageFile& p);

// One record of lib/apk/db/installed (or an APKINDEX).
struct Record {
  std::string name, version, arch, origin;
  std::vector<std::string> depends, provides;
  std::vector<std::string> files;  // the files it owns (F: and R: joined, normalised)
  std::string text;                // the record's lines as they are, newline-terminated
};
Result<std::vector<Record>> parse_database(std::string_view text);
// DB with NAME's record replaced by RECORD (appended when there is none); the others kept byte
// for byte, records separated by one blank line as apk writes them.
Result<std::string> replace_record(std::string_view db, std::string_view name,
                                   std::string_view record);

// A dependency or provides token: [!]name[op version] (op one of = < > <= >= ~ ><), or
// name=version for provides.
struct Dependency {
  std::string name, op, version;
  bool conflict = false;
};
std::optional<Dependency> parse_dependency(std::string_view token);

// Checks SIG over P's control member with the PEM public key KEY.
Status verify_signature(const PackageFile& p, const Signature& sig, std::string_view key_pem);
// Checks that FILE's data stream (its compressed bytes from P.data_offset to the end) has the
// SHA-256 .PKGINFO's datahash names, as apk does before it installs: the signature and the
// identity cover the control stream, and the control stream covers the data through datahash.
Status check_datahash(const std::filesystem::path& file, const PackageFile& p);

// Checks SIG over SIGNED (the compressed bytes of the member after the signature member).
Status verify_signature(std::string_view signed_bytes, const Signature& sig,
                        std::string_view key_pem);

// A repository's APKINDEX.tar.gz: a signature member (abuild-sign's .SIGN.RSA[256].<key> files)
// and the index member (a tar with DESCRIPTION and APKINDEX); unsigned, the index member alone.
inline constexpr std::size_t kMaxIndexBytes = 64 << 20;  // decompressed (a large repository)
struct RepositoryIndex {
  std::vector<Signature> signatures;
  std::string signed_member;  // the index member's compressed bytes (what the signatures sign)
  std::string apkindex, description;
};
Result<RepositoryIndex> read_index(const std::filesystem::path& file);

}  // namespace airheal::apk
