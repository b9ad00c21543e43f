// OCI image-spec and distribution-spec vocabulary: media types, the name and reference
// grammars, and validation of pushed manifests. Everything here treats input as untrusted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"

namespace airheal::oci {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media

bool is_manifest_media_type(std::string_view media_type);
bool is_index_media_type(std::string_view media_type);

// distribution-spec: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
// at most 255 characters in all.
bool is_valid_repository_name(std::string_view name);
// A repository pattern in configuration and rights: fnmatch(3) over a-z 0-9 . _ - / * ?.
bool is_valid_repository_pattern(std::string_view pattern);
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool is_valid_tag(std::string_view tag);

struct Descriptor {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  std::optional<std::string> artifact_type;
  std::vector<std::string> urls;
  std::string annotations_json;  // "{}" when absent
};

struct Manifest {
  std::string media_type;  // the effective media type (Content-Type / mediaType)
  bool is_index = false;
  std::optional<Descriptor> config;   // image manifests
  std::vector<Descriptor> layers;     // image manifests
  std::vector<Descriptor> manifests;  // indexes
  std::optional<Descriptor> subject;
  std::optional<std::string> artifact_type;  // artifactType, or config.mediaType for images
  std::string annotations_json = "{}";

  // Blobs that must exist in the repository before this manifest can be accepted.
  std::vector<Digest> required_blobs() const;
  // Manifests this manifest references (index children).
  std::vector<Digest> child_manifests() const;
};

// Parses and validates a pushed manifest. content_type is the request's Content-Type (may be
// empty, in which case the manifest's mediaType field decides).
Result<Manifest> parse_manifest(std::string_view bytes, std::string_view content_type);

}  // namespace airheal::oci
