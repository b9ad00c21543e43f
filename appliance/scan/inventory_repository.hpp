// The image_inventory and image_components tables: each scanned image's inventory (operating
// system, layers, files, problems, the parser version that read it) and its components in index
// order, with the keys they are matched and reverse-indexed by.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/sqlite.hpp"
#include "scan/inventory.hpp"

namespace airheal::scan {

class InventoryRepository {
 public:
  // The image's inventory as read by this airheal's layer parser (components in index order);
  // nullopt when it was never scanned or an older parser read it.
  static std::optional<ImageInventory> load(sqlite::Connection& c, const std::string& manifest);
  // When the image was first inventoried (unix seconds), if it was.
  static std::optional<std::int64_t> scanned_at(sqlite::Connection& c, const std::string& manifest);
  // The image's layer digests, bottom first (empty when it was never inventoried).
  static std::vector<std::string> layers(sqlite::Connection& c, const std::string& manifest);
  // Replaces the image's inventory and components. CREATED is when it was first scanned, NOW
  // when it was matched.
  static void save(sqlite::Connection& c, const std::string& manifest, const ImageInventory& inv,
                   std::int64_t created, std::int64_t now);
  static void set_matched(sqlite::Connection& c, const std::string& manifest, std::int64_t now);
  // The image's components by index.
  static std::map<std::int64_t, Component> components(sqlite::Connection& c,
                                                      const std::string& manifest);
  // Images with a component matched by ECOSYSTEM and PACKAGE (match_key).
  static std::vector<std::string> images_with(sqlite::Connection& c, const std::string& ecosystem,
                                              const std::string& package);
  // Images (not artefacts, not indexes) with no inventory from this parser yet, oldest first.
  static std::vector<std::string> unscanned(sqlite::Connection& c);
  // Removes the inventories of manifests no longer in the registry.
  static void prune(sqlite::Connection& c);
  // Inventoried images some repository still holds, by digest.
  static std::vector<std::string> served(sqlite::Connection& c);
  // Images inventoried (by any parser version).
  static std::int64_t count(sqlite::Connection& c);
  // Inventoried images that lack, in some repository holding them, a referrer of ARTIFACT_TYPE.
  struct Unreferred {
    std::string manifest, media_type;
    std::int64_t size = 0;
  };
  static std::vector<Unreferred> without_referrer(sqlite::Connection& c,
                                                  const std::string& artifact_type);
  // The images an index lists (none for an image); only those inventoried when INVENTORIED.
  static std::vector<std::string> index_children(sqlite::Connection& c, const std::string& manifest,
                                                 bool inventoried);
};

}  // namespace airheal::scan
