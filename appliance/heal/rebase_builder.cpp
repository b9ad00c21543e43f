#include "heal/rebase_builder.hpp"

#include <optional>

#include "core/digest.hpp"
#include "core/oci.hpp"
#include "core/time.hpp"

namespace airheal::heal {

using json = nlohmann::json;

namespace {

bool has_layers(const json& j) {
  return j.is_object() && j.contains("layers") && j["layers"].is_array() && j.contains("config") &&
         j["config"].is_object();
}

std::optional<json> diff_ids(const json& c) {
  if (!c.is_object() || !c.contains("rootfs") || !c["rootfs"].is_object() ||
      !c["rootfs"].contains("diff_ids") || !c["rootfs"]["diff_ids"].is_array())
    return std::nullopt;
  return c["rootfs"]["diff_ids"];
}

std::size_t history_size(const json& c) {
  return c.contains("history") && c["history"].is_array() ? c["history"].size() : 0;
}

}  // namespace

Result<RebasedImage> rebase_image(const RebaseInput& in) {
  if (!has_layers(in.image) || !has_layers(in.new_base) || !has_layers(in.old_base) ||
      in.image["layers"].size() <= in.base_layers)
    return make_error(Errc::manifest_invalid, "the image or its bases have no layers");
  if (!in.image_config.is_object() || !in.new_base_config.is_object() ||
      !in.old_base_config.is_object())
    return make_error(Errc::manifest_invalid, "a config cannot be read");
  auto own = diff_ids(in.image_config), base_ids = diff_ids(in.new_base_config);
  if (!own || !base_ids || own->size() != in.image["layers"].size() ||
      base_ids->size() != in.new_base["layers"].size())
    return make_error(Errc::manifest_invalid, "diff ids do not match the layers");
  // The config: the image's own (its command, environment, labels), over the newer base's layers.
  json cfg = in.image_config;
  json ids = *base_ids;
  for (std::size_t i = in.base_layers; i < own->size(); ++i) ids.push_back((*own)[i]);
  cfg["rootfs"]["diff_ids"] = ids;
  json history = history_size(in.new_base_config) ? in.new_base_config["history"] : json::array();
  for (std::size_t i = history_size(in.old_base_config); i < history_size(in.image_config); ++i)
    history.push_back(in.image_config["history"][i]);
  history.push_back(
      {{"created", format_time(in.now)},
       {"created_by", "airheal heal " + std::to_string(in.heal_id) + ": rebased from " +
                          in.old_base_digest + " onto " + in.new_base_digest},
       {"comment", "airheal upstream-bump"},
       {"empty_layer", true}});
  cfg["history"] = history;
  RebasedImage out;
  out.config = cfg.dump();
  out.layers = in.new_base["layers"];
  for (std::size_t i = in.base_layers; i < in.image["layers"].size(); ++i)
    out.layers.push_back(in.image["layers"][i]);
  out.manifest = in.image;
  out.manifest["mediaType"] = oci::media::kOciManifest;
  out.manifest["config"]["digest"] = Sha256::of(out.config).str();
  out.manifest["config"]["size"] = out.config.size();
  out.manifest["layers"] = out.layers;
  if (!out.manifest.contains("annotations") || !out.manifest["annotations"].is_object())
    out.manifest["annotations"] = json::object();
  out.manifest["annotations"]["org.opencontainers.image.base.digest"] = in.new_base_digest;
  out.manifest["annotations"]["dev.airheal.heal"] = std::to_string(in.heal_id);
  out.manifest["annotations"]["dev.airheal.original"] = in.original;
  return out;
}

}  // namespace airheal::heal
