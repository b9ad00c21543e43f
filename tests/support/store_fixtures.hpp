// Small made-up OCI images and indexes put straight into a Store, for repository tests about
// rows and names (not content).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace airheal::test {

// A one-layer image holding CONTENT in REPO under REFERENCE (a tag or its digest); returns its
// digest.
std::string put_image(store::Store& s, const std::string& repo, const std::string& reference,
                      const std::string& content);
// An image whose layers hold LAYERS (bottom first), with manifest ANNOTATIONS.
std::string put_image(store::Store& s, const std::string& repo, const std::string& reference,
                      const std::vector<std::string>& layers, const nlohmann::json& annotations);
// An OCI index listing CHILDREN (manifest digests already in REPO) under REFERENCE; returns its
// digest.
std::string put_index(store::Store& s, const std::string& repo, const std::string& reference,
                      const std::vector<std::string>& children);

}  // namespace airheal::test
