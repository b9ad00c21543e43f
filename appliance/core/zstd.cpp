#include "core/zstd.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "core/fs.hpp"

namespace airheal::zst {
namespace fsys = std::filesystem;

Result<std::uint64_t> compress_file(const fsys::path& in, const fsys::path& out, int level) {
  fs::UniqueFd src(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src)
    return make_error(Errc::io_error, "cannot read " + in.string() + ": " + std::strerror(errno));
  fs::UniqueFd dst(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!dst)
    return make_error(Errc::io_error, "cannot write " + out.string() + ": " + std::strerror(errno));
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  if (!cctx) return make_error(Errc::io_error, "zstd: out of memory");
  auto set = [&](ZSTD_cParameter p, int v) {
    return !ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), p, v));
  };
  if (!set(ZSTD_c_compressionLevel, level) || !set(ZSTD_c_checksumFlag, 1) ||
      !set(ZSTD_c_windowLog, 23))
    return make_error(Errc::invalid_argument,
                      "zstd: level " + std::to_string(level) + " is not usable");
  // Worker threads where libzstd has them: with one or more workers the frame is the same
  // whatever their number (libzstd documents it), so the digest does not depend on the host.
  auto threads = std::max(1u, std::thread::hardware_concurrency());
  (void)set(ZSTD_c_nbWorkers, static_cast<int>(threads));
  std::vector<char> ibuf(ZSTD_CStreamInSize()), obuf(ZSTD_CStreamOutSize());
  std::uint64_t written = 0;
  auto drain = [&](ZSTD_EndDirective mode, ZSTD_inBuffer& input) -> Result<bool> {
    while (true) {
      ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
      auto left = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
      if (ZSTD_isError(left))
        return make_error(Errc::io_error, std::string("zstd: ") + ZSTD_getErrorName(left));
      if (auto st = fs::write_all(dst.get(), obuf.data(), output.pos, out.string()); !st)
        return st.error();
      written += output.pos;
      bool done = mode == ZSTD_e_end ? left == 0 : input.pos == input.size;
      if (done) return true;
    }
  };
  while (true) {
    auto n = ::read(src.get(), ibuf.data(), ibuf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::io_error, "cannot read " + in.string() + ": " + std::strerror(errno));
    }
    ZSTD_inBuffer input{ibuf.data(), static_cast<std::size_t>(n), 0};
    if (n == 0) {
      if (auto r = drain(ZSTD_e_end, input); !r) return r.error();
      break;
    }
    if (auto r = drain(ZSTD_e_continue, input); !r) return r.error();
  }
  return written;
}

}  // namespace airheal::zst
