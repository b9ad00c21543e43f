// A local, read-only apt repository of imported .debs, mounted into a heal build as the only
// source the image's apt sees: a flat repository ("deb [trusted=yes] file:/MOUNT ./") with a
// Packages index and a Release file listing its hash, made by airheal from the packages' own
// control files. trusted=yes because the .debs were verified on import (signed snapshot, SHA-256 of
// every entry); apt still checks each .deb against the index's SHA256 and size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "heal/deb/control.hpp"

namespace airheal::heal::deb {

struct RepositoryPackage {
  Paragraph control;  // the .deb's own control paragraph
  std::filesystem::path
      file;  // the .deb (hard-linked into the repository, copied across file systems)
  std::uint64_t size = 0;
  std::string sha256;  // hex
};

// The file name a package gets in the repository and in the outbox: NAME_VERSION_ARCH.deb, with
// the epoch's ':' written as '%' (as apt names its downloads). Refuses names that are not a
// package name, a Debian version and an architecture.
Result<std::string> deb_file_name(const Paragraph& control);

// The Packages index: each control paragraph without the fields an index sets itself (and without
// Status), then Filename, Size and SHA256.
Result<std::string> packages_index(const std::vector<RepositoryPackage>& packages);

// Writes DIR/{Packages, Release, <the .debs>} and the apt configuration the build uses
// (DIR/sources.list naming file:MOUNT, empty sources.list.d, preferences and preferences.d, so the
// image's own sources and pins play no part). DATE is the Release's Date (RFC 2822, UTC).
Status write_repository(const std::filesystem::path& dir, const std::string& mount,
                        const std::vector<RepositoryPackage>& packages, std::int64_t date);

// The options that point the image's apt at that repository and at scratch state outside the
// image (lists, caches, logs under STATE_MOUNT), non-interactively.
std::vector<std::string> apt_options(const std::string& mount, const std::string& state_mount);

}  // namespace airheal::heal::deb
