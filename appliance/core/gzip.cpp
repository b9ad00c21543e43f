#include "core/gzip.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/fs.hpp"

namespace airheal::gz {
namespace fsys = std::filesystem;

namespace {

std::string sys_error(int e) { return std::strerror(e); }

// The whole input mapped, compressed in one call, written out.
Result<std::uint64_t> whole(int in_fd, std::size_t size, const fsys::path& in,
                            const fsys::path& out) {
  const void* data = nullptr;
  void* map = MAP_FAILED;
  if (size > 0) {
    map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, in_fd, 0);
    if (map == MAP_FAILED)
      return make_error(Errc::io_error, "cannot map " + in.string() + ": " + sys_error(errno));
    ::madvise(map, size, MADV_SEQUENTIAL);
    data = map;
  }
  struct Unmapper {
    void* p;
    std::size_t n;
    ~Unmapper() {
      if (p != MAP_FAILED) ::munmap(p, n);
    }
  } unmapper{map, size};
  std::unique_ptr<libdeflate_compressor, decltype(&libdeflate_free_compressor)> c(
      libdeflate_alloc_compressor(12), &libdeflate_free_compressor);
  if (!c) return make_error(Errc::io_error, "cannot compress " + in.string() + ": out of memory");
  std::vector<unsigned char> buf(libdeflate_gzip_compress_bound(c.get(), size));
  std::size_t n = libdeflate_gzip_compress(c.get(), data, size, buf.data(), buf.size());
  if (n == 0)
    return make_error(Errc::io_error,
                      "cannot compress " + in.string());  // cannot happen within the bound
  fs::UniqueFd o(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!o)
    return make_error(Errc::io_error, "cannot write " + out.string() + ": " + sys_error(errno));
  if (auto st = fs::write_all(o.get(), buf.data(), n, out.string()); !st) return st.error();
  if (::close(o.release()) != 0)
    return make_error(Errc::io_error, "cannot write " + out.string() + ": " + sys_error(errno));
  return static_cast<std::uint64_t>(n);
}

// Streamed through zlib -9, 64 KiB at a time.
Result<std::uint64_t> streamed(int in_fd, const fsys::path& in, const fsys::path& out) {
  gzFile z = gzopen(out.c_str(), "wb9");
  if (!z)
    return make_error(Errc::io_error, "cannot write " + out.string() + ": " + sys_error(errno));
  std::vector<char> buf(1 << 16);
  for (;;) {
    auto r = ::read(in_fd, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      gzclose(z);
      return make_error(Errc::io_error, "cannot read " + in.string() + ": " + sys_error(e));
    }
    if (r == 0) break;
    if (gzwrite(z, buf.data(), static_cast<unsigned>(r)) != r) {
      gzclose(z);
      return make_error(Errc::io_error, "cannot write " + out.string() + " (disk full?)");
    }
  }
  if (gzclose(z) != Z_OK)
    return make_error(Errc::io_error, "cannot write " + out.string() + " (disk full?)");
  std::error_code ec;
  auto size = fsys::file_size(out, ec);
  if (ec) return make_error(Errc::io_error, "cannot stat " + out.string() + ": " + ec.message());
  return static_cast<std::uint64_t>(size);
}

}  // namespace

Result<std::uint64_t> compress_file(const fsys::path& in, const fsys::path& out,
                                    std::uint64_t whole_buffer_limit) {
  fs::UniqueFd i(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (!i) return make_error(Errc::io_error, "cannot read " + in.string() + ": " + sys_error(errno));
  struct stat st {};
  if (::fstat(i.get(), &st) != 0)
    return make_error(Errc::io_error, "cannot stat " + in.string() + ": " + sys_error(errno));
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size <= whole_buffer_limit) return whole(i.get(), static_cast<std::size_t>(size), in, out);
  return streamed(i.get(), in, out);
}

}  // namespace airheal::gz
