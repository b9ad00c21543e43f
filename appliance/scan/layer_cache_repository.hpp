// The per-layer inventory cache (table layer_inventory): a layer is read once, whatever number of
// images share it; rows written by an older parser version are not returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/sqlite.hpp"
#include "scan/layer.hpp"

namespace airheal::scan {

class LayerCache {
 public:
  static std::optional<LayerInventory> get(sqlite::Connection& c, const std::string& digest);
  static void put(sqlite::Connection& c, const std::string& digest, const LayerInventory& inv,
                  std::int64_t now);
  static std::size_t count(sqlite::Connection& c);  // rows of the current parser
  // Every row, whichever parser wrote it.
  static std::size_t count_all(sqlite::Connection& c);
};

}  // namespace airheal::scan
