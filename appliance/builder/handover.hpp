// What a build leaves in a work folder belongs to the user who asked for it. airheal-builder runs
// as root (buildah, runc) while airheald runs as its own unprivileged user: the committed image
// layout, and whatever a build step wrote to a scratch mount, would otherwise be root's files that
// airheald can neither read nor remove.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "core/result.hpp"

namespace airheal::builder {

// Gives every entry under WORK (not WORK itself) that UID does not own to UID:GID. Safe against a
// requester that rearranges the folder while this runs: entries are reached through directory
// descriptors opened without following symbolic links, a symbolic link is changed itself (never
// its target), and a regular file with more than one hard link is left alone (it may be a link
// to a file elsewhere). At most MAX_DEPTH levels, MAX_ENTRIES entries.
Status hand_over(const std::filesystem::path& work, uid_t uid, gid_t gid, int max_depth = 64,
                 std::size_t max_entries = 1'000'000);

// hand_over, and WORK itself too (opened without following a symbolic link).
Status hand_over_folder(const std::filesystem::path& work, uid_t uid, gid_t gid);

}  // namespace airheal::builder
