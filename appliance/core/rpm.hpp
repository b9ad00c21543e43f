// rpm packages and databases (RHEL/UBI, Rocky, Alma, Fedora, SUSE): what a package says about
// itself and what an rpmdb records. A .rpm file is a 96-byte lead, a signature header (padded to 8
// bytes), the main header and the compressed cpio payload; an rpmdb.sqlite row holds the main
// header without its 8-byte magic. Headers are an index of (tag, type, offset, count) entries over
// a data store.
//
// Every byte here is untrusted: headers are read with size and count limits, offsets are checked
// against the data store, and file paths are normalised and kept inside the root.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace airheal::rpm {

inline constexpr std::uint64_t kMaxPackageBytes = 4ull << 30;  // a .rpm file
inline constexpr std::size_t kMaxHeaderBytes = 64 << 20;       // one header's index and data
inline constexpr std::size_t kMaxHeaderEntries = 65536;
inline constexpr std::size_t kMaxFiles = 200000;
inline constexpr std::size_t kMaxDatabaseBytes = 1ull << 30;  // rpmdb.sqlite

// A dependency as rpm records it: NAME, an optional comparison and an [E:]V[-R] version.
// rpmlib(...) names are the tool's own capabilities; names starting with '/' are file paths.
struct Dependency {
  std::string name, op, version;  // op: "", "<", "<=", "=", ">=", ">"
  bool rpmlib() const { return name.starts_with("rpmlib("); }
  std::string text() const;  // "name >= 1.0"
};

// What airheal reads of a header.
struct Header {
  std::string name, version, release, arch, sourcerpm, license, summary, vendor, packager;
  std::optional<std::uint32_t> epoch;
  std::vector<Dependency> requires_, provides, conflicts, obsoletes;
  std::vector<std::string> files;         // normalised, relative to the root
  std::vector<std::uint32_t> file_modes;  // parallel to files when the header has FILEMODES
  std::vector<std::uint32_t> file_flags;  // parallel to files (RPMFILE_CONFIG = 1, ...)
  std::vector<std::string> scripts;       // "%post (/sbin/ldconfig)", "%pre (/bin/sh)", ...
  std::string payload_format, payload_compressor;
  bool gpg_pubkey() const { return name == "gpg-pubkey"; }
  std::string evr() const;    // [E:]V-R
  std::string nevra() const;  // N-[E:]V-R.A
  std::string source_name()
      const;  // the source rpm's name ("openssl" of openssl-3.0.7-27.el9.src.rpm)
};

// One header in rpmdb form (no magic): index count, data size, entries, data store.
Result<Header> parse_header(std::string_view blob);

struct PackageFile {
  Header header;
  std::vector<std::string> signer_key_ids;  // 16 hex digits, lowercase, from OpenPGP signatures
  std::string header_sha256;                // the signature header's SHA-256 of the main header
  std::uint64_t size = 0;
  std::uint64_t payload_offset = 0;
  bool signed_() const { return !signer_key_ids.empty(); }
};

// Reads FILE's lead, signature header and main header, and checks the header's SHA-256 when the
// signature header gives one. invalid_argument for anything that is not a well-formed .rpm.
Result<PackageFile> read_package(const std::filesystem::path& file);

// Every header in an rpmdb.sqlite (rpm >= 4.16), read in memory; gpg-pubkey pseudo-packages
// included (they are the keys the image trusts). Headers that do not parse are skipped.
Result<std::vector<Header>> read_database_sqlite(std::string_view bytes);

// The issuer key id (16 hex digits, lowercase) of one OpenPGP signature packet (v3 or v4).
std::optional<std::string> signature_key_id(std::string_view packet);

}  // namespace airheal::rpm
