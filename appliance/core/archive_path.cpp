#include "core/archive_path.hpp"

#include <archive_entry.h>

#include <clocale>

namespace airheal {

const char* entry_pathname(struct archive_entry* e) {
  if (const char* p = archive_entry_pathname_utf8(e)) return p;
  if (const char* p = archive_entry_pathname(e)) return p;
  return "";
}

const char* entry_hardlink(struct archive_entry* e) {
  if (const char* p = archive_entry_hardlink_utf8(e)) return p;
  if (const char* p = archive_entry_hardlink(e)) return p;
  return "";
}

const char* entry_symlink(struct archive_entry* e) {
  if (const char* p = archive_entry_symlink_utf8(e)) return p;
  if (const char* p = archive_entry_symlink(e)) return p;
  return "";
}

void use_utf8_ctype() {
  if (!std::setlocale(LC_CTYPE, "C.UTF-8")) std::setlocale(LC_CTYPE, "C.utf8");
}

std::optional<std::string> normalise_archive_path(std::string_view p) {
  std::string out;
  std::size_t i = 0;
  while (i <= p.size()) {
    auto slash = p.find('/', i);
    auto part = p.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  return out;
}

}  // namespace airheal
