#include "collect/decompress.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace airheal::collect {

Result<std::string> decompress(const std::string& bytes, const std::string& what,
                               std::size_t max_bytes) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), &archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
    return make_error(Errc::invalid_argument,
                      what + ": cannot decompress: " + archive_error_string(a.get()));
  archive_entry* e = nullptr;
  if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
    return make_error(Errc::invalid_argument,
                      what + ": cannot decompress: " + std::string(archive_error_string(a.get())));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    auto n = archive_read_data(a.get(), buf, sizeof buf);
    if (n < 0)
      return make_error(Errc::invalid_argument,
                        what + ": corrupt: " + std::string(archive_error_string(a.get())));
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes)
      return make_error(Errc::too_large, what + ": larger than " + std::to_string(max_bytes >> 20) +
                                             " MiB decompressed");
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace airheal::collect
