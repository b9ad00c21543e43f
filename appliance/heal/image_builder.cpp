#include "heal/image_builder.hpp"

#include <nlohmann/json.hpp>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"
#include "heal/rpm/rpm_family.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;
using nlohmann::json;

Result<LayerBlob> read_added_layer(const fsys::path& dir, std::size_t base_layers) {
  auto index_bytes = fs::read_file(dir / "index.json", 1 << 20);
  if (!index_bytes)
    return make_error(Errc::io_error, "the build wrote no image: " + index_bytes.error().message);
  auto index = json::parse(*index_bytes, nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array() ||
      index["manifests"].size() != 1 || !index["manifests"][0].is_object() ||
      !index["manifests"][0].contains("digest") || !index["manifests"][0]["digest"].is_string())
    return make_error(Errc::io_error, "the build's image index does not name exactly one image");
  auto blob = [&](const Digest& d) {
    return dir / "blobs" / std::string(d.algorithm_name()) / d.hex();
  };
  auto manifest_digest = Digest::parse(index["manifests"][0]["digest"].get<std::string>());
  if (!manifest_digest)
    return make_error(Errc::io_error, "the build's image index has a bad digest");
  auto manifest_bytes = fs::read_file(blob(*manifest_digest), 8 << 20);
  if (!manifest_bytes) return manifest_bytes.error();
  if (Sha256::of(*manifest_bytes) != *manifest_digest)
    return make_error(Errc::digest_invalid, "the build's manifest does not match its digest");
  auto m = oci::parse_manifest(*manifest_bytes, oci::media::kOciManifest);
  if (!m || m->is_index || !m->config)
    return make_error(Errc::io_error, "the build's manifest is not readable");
  if (m->layers.size() != base_layers + 1)
    return make_error(Errc::io_error, "the build's image has " + std::to_string(m->layers.size()) +
                                          " layers, not exactly one more than the original's " +
                                          std::to_string(base_layers));
  auto config_bytes = fs::read_file(blob(m->config->digest), 8 << 20);
  if (!config_bytes) return config_bytes.error();
  auto config = json::parse(*config_bytes, nullptr, false);
  if (!config.is_object() || !config.contains("rootfs") || !config["rootfs"].is_object() ||
      !config["rootfs"].contains("diff_ids") || !config["rootfs"]["diff_ids"].is_array() ||
      config["rootfs"]["diff_ids"].size() != m->layers.size() ||
      !config["rootfs"]["diff_ids"].back().is_string())
    return make_error(Errc::io_error, "the build's config does not list one diff id per layer");
  auto diff = Digest::parse(config["rootfs"]["diff_ids"].back().get<std::string>());
  if (!diff) return make_error(Errc::io_error, "the build's config has a bad diff id");
  const auto& added = m->layers.back();
  LayerBlob out;
  out.media_type = added.media_type;
  out.digest = added.digest;
  out.diff_id = *diff;
  out.file = blob(added.digest);
  auto check = Sha256::of_file(out.file, &out.size);
  if (!check || *check != added.digest)
    return make_error(Errc::digest_invalid, "the heal layer does not match its digest");
  return out;
}

Status ImageBuilder::host_rpm(const HostRpmRequest& request, std::string& log) {
  return rpmfamily::run_host_rpm(request, log);
}

}  // namespace airheal::heal
