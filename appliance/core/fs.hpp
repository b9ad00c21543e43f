// File-system helpers that keep on-disk state consistent across crashes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace airheal::fs {

// Writes data to a temporary file in the target's directory, fsyncs it, renames it over the
// target and fsyncs the directory. Readers see the old content or the new, never a mix.
Status write_file_atomic(const std::filesystem::path& target, std::string_view data);
Status fsync_path(const std::filesystem::path& path);  // file or directory
Result<std::string> read_file(const std::filesystem::path& path, std::uintmax_t max_bytes);

// An exclusive advisory lock on a file, held for the lifetime of the object.
class LockFile {
 public:
  static Result<LockFile> acquire(const std::filesystem::path& path);
  LockFile(LockFile&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  LockFile& operator=(LockFile&&) = delete;
  ~LockFile();

 private:
  explicit LockFile(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// A file descriptor owner.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// "1.5 GiB": sizes for people.
std::string human_bytes(std::uint64_t bytes);

// Writes all bytes, retrying on EINTR and short writes.
Status write_all(int fd, const void* data, std::size_t size, std::string_view what);

}  // namespace airheal::fs
