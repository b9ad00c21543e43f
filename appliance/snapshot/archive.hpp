// Streaming tar I/O for snapshots over libarchive. The reader accepts only tar, uncompressed or
// zstd, and reports every entry's type so callers can refuse links and devices; nothing here
// ever touches the file system with a path taken from an archive.
#pragma once

#include <archive.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "snapshot/format.hpp"

namespace airheal::snapshot {

enum class Compression { none, zstd };

struct Header {
  enum class Type { regular, directory, symlink, hardlink, device, sparse, other };
  std::string path;
  std::uint64_t size = 0;
  Type type = Type::regular;
  std::string link_target;
};
const char* to_string(Header::Type t);

class ArchiveReader {
 public:
  static Result<std::unique_ptr<ArchiveReader>> open(const std::filesystem::path& file);
  ~ArchiveReader();

  // The next header, or nullopt at the end of the archive.
  Result<std::optional<Header>> next();
  // Reads the current entry's data; 0 at its end.
  Result<std::size_t> read(char* buf, std::size_t n);
  // Zero-copy: the next block of the current entry's data, valid until the next call; an empty
  // view at its end.
  Result<std::string_view> read_block();
  // Reads the whole current entry (at most max bytes; the header size was checked by the caller).
  Result<std::string> read_all(std::uint64_t max);
  Compression compression() const { return compression_; }
  std::uint64_t file_size() const { return file_size_; }
  std::uint64_t file_position() const;  // bytes of the file consumed so far
  // Where the current entry's data starts in the file, for an uncompressed snapshot (its bytes
  // can then be copied in the kernel); nullopt when compressed.
  std::optional<std::uint64_t> data_offset() const;
  int fd() const {
    return fd_;
  }  // the snapshot file, opened once (what is read is what was checked)
  // Moves past the current entry's data without reading it.
  Status skip_data();

 private:
  ArchiveReader() = default;
  Error failure(const std::string& what) const;
  struct archive* a_ = nullptr;
  int fd_ = -1;
  Compression compression_ = Compression::none;
  std::uint64_t file_size_ = 0;
  std::string current_;
};

class ArchiveWriter {
 public:
  // Writes to `file` (created or truncated). The caller renames a temporary into place.
  static Result<std::unique_ptr<ArchiveWriter>> create(const std::filesystem::path& file,
                                                       Compression c, std::int64_t mtime);
  ~ArchiveWriter();
  Status add(const std::string& path, std::string_view data);
  // Streams `size` bytes from `fill`, which returns the bytes it wrote into the buffer (0 = error).
  Status add_stream(const std::string& path, std::uint64_t size,
                    const std::function<Result<std::size_t>(char*, std::size_t)>& fill);
  Status add_file(const std::string& path, const std::filesystem::path& source, std::uint64_t size);
  Status close();

 private:
  ArchiveWriter() = default;
  struct archive* a_ = nullptr;
  std::int64_t mtime_ = 0;
  bool closed_ = false;
};

// The manifest and signatures at the head of a snapshot.
struct Head {
  std::string manifest_bytes;
  Digest digest;  // of manifest_bytes: the snapshot's identity
  Manifest manifest;
  std::vector<std::pair<std::string, std::string>> signatures;  // entry name, armoured signature
  std::optional<Header> first_body;                             // the header after the signatures
};

// Reads and checks the head: the manifest first (size-limited), then up to kMaxSignatures
// signature entries, then AUTHENTICATE (when given) sees the manifest bytes and signatures before
// the manifest is parsed (strictly, with limits). Stops at the first body header.
Result<Head> read_head(ArchiveReader& r,
                       const std::function<Status(const Head&)>& authenticate = {});

// Streams every body entry, checking each against the manifest (safe path, regular file,
// listed, not duplicated, declared size, sha256) and that no listed entry is missing. `sink`
// receives each entry's bytes; `open` is called before and `close` after an entry's data.
struct BodySink {
  std::function<Status(const Entry&)> open = [](const Entry&) { return Status{}; };
  std::function<Status(const Entry&, const char*, std::size_t)> write =
      [](const Entry&, const char*, std::size_t) { return Status{}; };
  std::function<Status(const Entry&)> close = [](const Entry&) { return Status{}; };
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
  // Optional, for large entries of uncompressed snapshots, in place of `write`: copy SIZE bytes of
  // the snapshot file (SRC_FD from OFFSET) into the entry's destination; returns how many bytes it
  // could copy and the file they are in. stream_body then hashes that file on other cores, so what
  // is checked is what was stored, and a mismatch is reported as if found in order.
  struct Copied {
    std::uint64_t bytes = 0;
    std::filesystem::path file;
  };
  std::function<Result<Copied>(const Entry&, int src_fd, std::uint64_t offset, std::uint64_t size)>
      copy;
};
inline constexpr std::uint64_t kCopyMinBytes = 1
                                               << 20;  // smaller entries always go through `write`
Status stream_body(ArchiveReader& r, const Head& head, const BodySink& sink);

}  // namespace airheal::snapshot
