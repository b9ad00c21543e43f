// Paths of tar entries as the archive holds them, whatever the process's locale. libarchive
// converts pax (UTF-8) paths to the locale's encoding for archive_entry_pathname(), which fails
// in the C locale for any non-ASCII name (ca-certificates ships several): the entry would read as
// nameless. These read the UTF-8 form first and fall back to the raw bytes; never null.
#pragma once

#include <optional>
#include <string>
#include <string_view>

struct archive_entry;

namespace airheal {

const char* entry_pathname(struct archive_entry* e);
const char* entry_hardlink(struct archive_entry* e);  // "" when not a hard link
const char* entry_symlink(struct archive_entry* e);   // "" when not a symbolic link

// An archive member's path relative to the root: "." parts and repeated or leading slashes
// dropped; nullopt when a ".." part would leave the root ("" for the root itself).
std::optional<std::string> normalise_archive_path(std::string_view p);

// Sets LC_CTYPE to C.UTF-8 (built into glibc since 2.35) so that libarchive, GPGME and the
// standard library agree on UTF-8; every executable calls it first.
void use_utf8_ctype();

}  // namespace airheal
