#include "scan/layer_cache_repository.hpp"

#include <nlohmann/json.hpp>

namespace airheal::scan {

std::optional<LayerInventory> LayerCache::get(sqlite::Connection& c, const std::string& digest) {
  auto st = c.prepare("SELECT data FROM layer_inventory WHERE digest = ? AND parser = ?");
  st.bind(1, digest);
  st.bind(2, std::int64_t{kLayerParserVersion});
  if (!st.step()) return std::nullopt;
  auto j = nlohmann::json::from_cbor(st.get_blob(0).begin(), st.get_blob(0).end(), true, false);
  if (j.is_discarded()) return std::nullopt;
  return LayerInventory::from_json(j);
}

void LayerCache::put(sqlite::Connection& c, const std::string& digest, const LayerInventory& inv,
                     std::int64_t now) {
  auto bytes = nlohmann::json::to_cbor(inv.to_json());
  auto st = c.prepare(
      "INSERT INTO layer_inventory (digest, parser, data, files, bytes_read, created_at) VALUES "
      "(?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (digest) DO UPDATE SET parser = excluded.parser, data = excluded.data, files = "
      "excluded.files, "
      "bytes_read = excluded.bytes_read, created_at = excluded.created_at");
  st.bind(1, digest);
  st.bind(2, std::int64_t{kLayerParserVersion});
  st.bind_blob(3, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  st.bind(4, static_cast<std::int64_t>(inv.files.size()));
  st.bind(5, static_cast<std::int64_t>(inv.bytes_read));
  st.bind(6, now);
  st.run();
}

std::size_t LayerCache::count(sqlite::Connection& c) {
  auto st = c.prepare("SELECT count(*) FROM layer_inventory WHERE parser = ?");
  st.bind(1, std::int64_t{kLayerParserVersion});
  st.step();
  return static_cast<std::size_t>(st.get_int(0));
}

std::size_t LayerCache::count_all(sqlite::Connection& c) {
  auto st = c.prepare("SELECT count(*) FROM layer_inventory");
  st.step();
  return static_cast<std::size_t>(st.get_int(0));
}

}  // namespace airheal::scan
