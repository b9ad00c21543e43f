// ZIP archives (jars, wheels) read and rewritten in memory, for replacing one entry of a fat jar:
// the central directory and local headers parsed with bounds checks, every other entry's
// compressed bytes copied as they are, the order kept (by local header offset), the replaced
// entry written with its original method (stored or deflated, zlib) and correct CRC and sizes in
// the local header (no data descriptor). zip64 archives are refused with a precise error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace airheal::zip {

struct ZipEntry {
  std::string name;
  std::uint16_t version_made = 0, version_needed = 0, flags = 0, method = 0, time = 0, date = 0;
  std::uint32_t crc = 0, csize = 0, usize = 0;
  std::uint16_t internal_attr = 0;
  std::uint32_t external_attr = 0, local_offset = 0;
  std::string cd_extra, comment, local_extra;
  std::size_t data_offset = 0;  // of the compressed data in the archive
};

struct ZipArchive {
  std::vector<ZipEntry> entries;  // in the order of their data
  std::string comment;
};

// The entries of the archive Z (its central directory, each checked against its local header).
Result<ZipArchive> read(const std::string& z);

// The bytes of ENTRY in ZIP (stored or deflated), at most MAX.
Result<std::string> entry(const std::string& zip, const std::string& entry, std::uint64_t max);

// OUTER with ENTRY's content replaced by BYTES (see above).
Result<std::string> replace_entry(const std::string& outer, const std::string& entry,
                                  const std::string& bytes);

}  // namespace airheal::zip
