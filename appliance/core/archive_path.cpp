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

}  // namespace airheal
