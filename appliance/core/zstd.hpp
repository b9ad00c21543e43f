// zstd files for OCI layer blobs (application/vnd.oci.image.layer.v1.tar+zstd, image-spec 1.1):
// one zstd frame with its content checksum, no dictionary, a window of at most 8 MiB (every
// decoder's default limit), so containerd >= 1.5, CRI-O, podman and skopeo read it. Deterministic:
// the same input and level give the same bytes, whatever the number of worker threads.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/result.hpp"

namespace airheal::zst {

inline constexpr int kDefaultLevel = 19;

// Compresses IN into OUT (created or truncated; not synced). Streams, so memory stays bounded.
Result<std::uint64_t> compress_file(const std::filesystem::path& in,
                                    const std::filesystem::path& out, int level = kDefaultLevel);

}  // namespace airheal::zst
