// Small made-up OCI images and indexes put straight into a Store, for repository tests about
// rows and names (not content).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "support/test_support.hpp"

namespace airheal::test {

// A store opened in a fresh temporary folder (REQUIREs that it opens), removed with it.
struct TempStore {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  TempStore();
  store::Store& operator*() { return *store; }
};

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
