// Repository metadata as it is published: xz, gzip, bzip2, zstd or plain, decompressed with
// libarchive into memory with a bound on the result.
#pragma once

#include <cstddef>
#include <string>

#include "core/result.hpp"

namespace airheal::collect {

// WHAT names the file in errors ("... : cannot decompress", "... larger than N MiB").
Result<std::string> decompress(const std::string& bytes, const std::string& what,
                               std::size_t max_bytes);

}  // namespace airheal::collect
