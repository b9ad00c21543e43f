// Read-only questions about the registry's catalogue that other components ask inside their own
// transactions: what a manifest is, and the names an image is known by.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/sqlite.hpp"

namespace airheal::store {

struct ManifestType {
  std::string media_type;
  std::int64_t size = 0;
};
// The stored manifest's media type and size; nullopt when the registry has no such manifest.
std::optional<ManifestType> manifest_type(sqlite::Connection& c, const std::string& digest);

// The repositories holding DIGEST, by name.
std::vector<std::string> repositories_of(sqlite::Connection& c, const std::string& digest);
// The tags (in any repository) pointing at DIGEST, by name.
std::vector<std::string> tags_of(sqlite::Connection& c, const std::string& digest);

// Repositories and repo:tag names an image is known by (tags of indexes holding it included).
std::vector<std::string> image_names(sqlite::Connection& c, const std::string& digest);

// The tags clients see (staged heal tags, NAME-airheal-DATE.N, left out), by repository and tag.
struct ServedTag {
  std::string repository, tag, digest;
};
std::vector<ServedTag> served_tags(sqlite::Connection& c);
// What the tags served at time AT (tag history): the digest each tag pointed at then, leaving out
// tags created after AT. Tags deleted since are not known to the history and are not listed.
std::vector<ServedTag> served_tags_at(sqlite::Connection& c, std::int64_t at);

// When the registry first stored the manifest DIGEST; nullopt when it has no such manifest.
std::optional<std::int64_t> manifest_stored_at(sqlite::Connection& c, const std::string& digest);
// Manifests other than EXCEPT that have LAYER among their blobs and were tagged before (tag
// history): the earlier versions of images an image may have been built FROM.
std::vector<std::string> formerly_tagged_with_layer(sqlite::Connection& c, const std::string& layer,
                                                    const std::string& except);
// The repository and tag that pointed at DIGEST most recently (tag history).
std::optional<std::pair<std::string, std::string>> last_tag_of(sqlite::Connection& c,
                                                               const std::string& digest);

}  // namespace airheal::store
