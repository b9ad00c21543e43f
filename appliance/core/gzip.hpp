// gzip files for OCI layer blobs (application/vnd.oci.image.layer.v1.tar+gzip): one gzip member
// (RFC 1952), no file name, mtime 0, so the same input always gives the same blob and digest.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/result.hpp"

namespace airheal::gz {

// Inputs up to this size are compressed whole with libdeflate at its strongest level (12:
// near-optimal parsing); on heal layers that is about 4% smaller than zlib -9 and no slower.
// Larger inputs are streamed through zlib at -9, so memory stays bounded whatever the input.
inline constexpr std::uint64_t kWholeBufferLimit = 256ull << 20;

// Compresses IN into OUT (created or truncated; not synced, the caller adopts it). Returns OUT's
// size. Every client's gzip reader reads the result: it is plain DEFLATE either way.
Result<std::uint64_t> compress_file(const std::filesystem::path& in,
                                    const std::filesystem::path& out,
                                    std::uint64_t whole_buffer_limit = kWholeBufferLimit);

}  // namespace airheal::gz
