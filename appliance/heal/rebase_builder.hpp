// The upstream-bump build as a pure step: the image's own layers put, unchanged, on a newer
// version of its base. From the documents alone (the image's manifest and config, the old and the
// new base's manifest and config), no I/O: the engine reads them from the store and stores what
// this returns. Nothing is rebuilt, so the result is exact: the new base's layers and diff ids,
// then the image's own; the image's config (command, environment, labels) with the new base's
// history, the image's own history entries and one entry saying what airheal did.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.hpp"

namespace airheal::heal {

struct RebaseInput {
  nlohmann::json image, image_config;        // the image to heal
  nlohmann::json old_base, old_base_config;  // the base it was built on
  nlohmann::json new_base, new_base_config;  // the newer version of that base
  std::size_t base_layers = 0;               // leading layers of the image that are the old base's
  std::string original, old_base_digest, new_base_digest;  // manifest digests
  std::int64_t heal_id = 0, now = 0;
};

struct RebasedImage {
  nlohmann::json manifest;  // OCI image manifest
  std::string config;       // its config, serialised (the bytes the manifest's digest names)
  nlohmann::json layers;    // the manifest's layer descriptors (each must be in the store)
};

// Refuses (manifest_invalid, one line) documents without layers, configs whose diff ids do not
// match their layers, and an image with no layers of its own above BASE_LAYERS.
Result<RebasedImage> rebase_image(const RebaseInput& in);

}  // namespace airheal::heal
