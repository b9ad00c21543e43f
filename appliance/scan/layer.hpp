// One image layer's inventory, read by streaming its blob once (tar, gzip or zstd) without
// unpacking anything to disk: the file list with whiteouts and opaque directories, and every
// package database and self-describing binary in it, already parsed. Results are kept per layer
// digest (LayerCache, scan/layer_cache_repository.hpp), so a base layer shared by many images is
// read once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/sqlite.hpp"

namespace airheal::scan {

// Bumped whenever what read_layer extracts changes: cached layers of older parsers are re-read.
// 2: go.mod and package-lock.json; 3: installed npm and Python packages, rpm file lists;
// 4: Java archives, gemspecs, .deps.json, .nupkg, Composer's installed.json, Cargo.lock;
// 5: Python RECORD file lists; 6: package suppliers, relationships and provides, Debian
// copyright files' licences
inline constexpr int kLayerParserVersion = 6;

struct LayerFile {
  std::string path;  // image-relative, no leading "/" or "./"
  char type = 'f';   // f file, d directory, l symlink, h hardlink, o other
  std::uint64_t size = 0;
  std::string link;
};

// A parsed record found at one path: kind is os-release, dpkg-status, dpkg-statusd, dpkg-list,
// md5sums, deb-copyright, apk, rpm, go-mod, npm-lock, node-package, python-package, python-record,
// java-archive, gemspec, dotnet-deps, nupkg, composer-installed, cargo-lock or binary; data its
// parsed form.
struct LayerRecord {
  std::string kind;
  nlohmann::json data;
};

struct LayerInventory {
  std::vector<LayerFile> files;
  std::vector<std::string> whiteouts;  // paths removed from lower layers
  std::vector<std::string> opaque;     // directories whose lower contents are hidden
  std::map<std::string, LayerRecord> records;
  std::vector<std::string> problems;
  std::uint64_t bytes_read = 0;  // uncompressed bytes parsed

  nlohmann::json to_json() const;
  static LayerInventory from_json(const nlohmann::json& j);
};

struct LayerReadOptions {
  std::uint64_t max_binary_bytes = 512ull << 20;  // larger executables are listed, not parsed
  std::uint64_t max_database_bytes = 256ull << 20;
};

Result<LayerInventory> read_layer(const std::filesystem::path& blob,
                                  const LayerReadOptions& options = {});

// The bytes of one regular file in a layer blob (PATH image-relative), streamed; not_found when
// the layer has no such file, too_large past MAX bytes.
Result<std::string> read_layer_file(const std::filesystem::path& blob, const std::string& path,
                                    std::uint64_t max_bytes);

// Image-relative form of an archive path ("./a//b" -> "a/b"); nullopt when it would leave the root.
std::optional<std::string> normalise_path(std::string_view p);

// Which record kind a path is, or empty when it is none (exposed for tests).
std::string classify_path(const std::string& path);

}  // namespace airheal::scan
