// The airheal snapshot format, version 1 (docs/airgap/snapshot-format.md). A snapshot is a tar
// archive (uncompressed or zstd) whose first entry is the manifest, followed by detached OpenPGP
// signatures over the manifest bytes, followed by every entry the manifest lists, in its order.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "core/time.hpp"

namespace airheal::snapshot {

inline constexpr std::string_view kManifestName = "airheal-snapshot.json";
inline constexpr std::string_view kSignaturePrefix = "signatures/";
inline constexpr std::string_view kFormatName = "airheal-snapshot";
inline constexpr int kFormatVersion = 1;

// Hard limits, applied before anything is trusted.
inline constexpr std::uint64_t kMaxManifestBytes = 32u << 20;
inline constexpr std::uint64_t kMaxSignatureBytes = 64u << 10;
inline constexpr std::size_t kMaxSignatures = 16;
inline constexpr std::size_t kMaxEntries = 1u << 20;
inline constexpr std::int64_t kMaxSequence = (std::int64_t{1} << 53) - 1;
inline constexpr std::size_t kMaxPathBytes = 1024;

enum class EntryKind { advisory, blob, layout, package_index, trust_keys };
const char* to_string(EntryKind k);

struct Entry {
  std::string path;
  std::uint64_t size = 0;
  Digest sha256;
  EntryKind kind = EntryKind::blob;
  std::string format;        // advisories: osv | debian-tracker | alpine-secdb
  bool in_previous = false;  // a delta leaves it out: the appliance already holds these bytes
};

struct Image {
  std::string repository, tag;
  Digest digest;  // manifest or index, a blob of this snapshot
  std::string media_type;
};

struct Package {
  std::string name, version, architecture, source, source_version, filename;
  Digest digest;
  std::uint64_t size = 0;
  // Which package family reads it: "deb" (the default, and all a manifest without the field can
  // hold), "apk" or "rpm". A heal uses a package only in an image of the same family.
  std::string format = "deb";
};
inline constexpr const char* kPackageFormats[] = {"deb", "apk", "rpm"};

struct Artifact {
  std::string name, version;
  Digest digest;
  std::uint64_t size = 0;
  nlohmann::json metadata = nlohmann::json::object();
};

struct TrustUpdate {
  std::string keys_path;                 // an entry of kind trust_keys (ASCII-armoured keys)
  std::vector<std::string> add, remove;  // primary key fingerprints
  std::optional<int> threshold;
};

struct Previous {
  std::int64_t sequence = 0;
  Digest digest;
};

struct Manifest {
  int version = kFormatVersion;
  std::string channel;
  std::int64_t sequence = 0;
  std::int64_t created = 0;  // unix seconds; RFC 3339 UTC in the JSON
  std::int64_t expires = 0;
  std::optional<Previous> previous;
  std::string generator;
  std::vector<Entry> entries;
  std::vector<Image> images;
  std::vector<Package> packages;
  std::vector<Artifact> artifacts;
  std::optional<TrustUpdate> trust;

  const Entry* find(std::string_view path) const;
};

// Strict: unknown top-level fields, wrong types, unsafe paths, duplicates, dangling references
// and a newer format version are all errors that name the field.
Result<Manifest> parse_manifest(std::string_view bytes);
std::string serialize(const Manifest& m);  // sorted keys, two-space indent, trailing newline

// A path inside a snapshot: relative, '/'-separated, no '.', '..' or empty components, printable
// ASCII from a conservative set, at most kMaxPathBytes.
bool is_safe_path(std::string_view path);
// A name that becomes one file name or one word in a generated file: 1-255 bytes, no '/' or '\\',
// no control characters (a newline would start a new Containerfile instruction), not . or ..,
// not starting with '-' (it would read as an option).
bool is_plain_name(std::string_view name);
// NAME for a message: control characters as \xNN, at most 80 bytes.
std::string human_name(std::string_view name);
bool is_valid_channel(std::string_view channel);

using airheal::format_time;  // core/time.hpp
using airheal::parse_time;

}  // namespace airheal::snapshot
