// The connected side: building, signing, verifying and splitting snapshot files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/pgp.hpp"
#include "core/result.hpp"
#include "snapshot/archive.hpp"
#include "snapshot/format.hpp"

namespace airheal::snapshot {

struct ImageSource {
  std::filesystem::path layout;  // an OCI image layout directory
  std::string repository, tag;
  std::string ref;  // which manifest of the layout (ref.name annotation); empty: the only one
};
// "DIR=REPO:TAG" or "DIR:REF=REPO:TAG".
Result<ImageSource> parse_image_source(const std::string& text);

struct CreateOptions {
  std::string channel;
  std::int64_t sequence = 0;
  std::int64_t created = 0;     // unix seconds
  std::int64_t expires_in = 0;  // seconds after created
  std::filesystem::path out;
  Compression compression = Compression::none;
  std::vector<std::filesystem::path> advisories;
  std::vector<ImageSource> images;
  std::vector<std::filesystem::path> packages;
  std::vector<std::filesystem::path> artifacts;
  std::optional<std::filesystem::path> previous;
  std::optional<std::filesystem::path> trust_keys;  // armoured public keys to deliver
  std::vector<std::string> trust_add, trust_remove;
  std::optional<int> trust_threshold;
  // What an artefact says it is when it is an application package (an npm tarball, a wheel, a
  // jar): {"ecosystem", "package", "version"} read from its own metadata; Errc::unsupported when
  // the file is no such package. The artefact's metadata gets these fields; a FILE.json that
  // names others is refused. The airheal-snapshot tool passes the appliance's own reader.
  std::function<Result<nlohmann::json>(const std::filesystem::path&)> describe_artifact;
};

struct CreateReport {
  Digest digest;
  Manifest manifest;
  std::uint64_t bytes_written = 0;
  std::uint64_t bytes_left_out = 0;  // delta: listed but carried by the previous snapshot
};

Result<CreateReport> create(const CreateOptions& o);

// Adds one detached signature per key (replacing an earlier signature by the same key).
Status sign(const std::filesystem::path& file, const std::vector<std::string>& fingerprints,
            const std::filesystem::path& gpg_home, const std::optional<std::string>& passphrase);

struct VerifyReport {
  Head head;
  std::vector<pgp::SignatureCheck> signatures;
  std::size_t good = 0;
};
// Checks signatures against `keyring` (a throw-away GnuPG home holding only the given keys),
// then every entry's size and sha256. Fails unless at least `threshold` distinct keys signed.
Result<VerifyReport> verify(const std::filesystem::path& file, pgp::Keyring& keyring,
                            int threshold);

Result<Head> inspect(const std::filesystem::path& file);

struct PartsReport {
  std::vector<std::filesystem::path> parts;
  std::filesystem::path index;
};
// FILE -> FILE.part001, FILE.part002, ... and FILE.parts.json (sizes and sha256 of each part and
// of the whole). join() checks every part and the whole before renaming the result into place.
Result<PartsReport> split(const std::filesystem::path& file, std::uint64_t part_size,
                          const std::filesystem::path& out_dir);
Status join(const std::filesystem::path& index, const std::filesystem::path& out);

// Parsed .deb control fields.
struct DebInfo {
  std::string package, version, architecture, source, source_version;
};
Result<DebInfo> read_deb(const std::filesystem::path& deb);

// "4G", "700M", "512K", "1024".
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace airheal::snapshot
