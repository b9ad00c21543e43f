#include "support/store_fixtures.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace airheal::test {
using nlohmann::json;

namespace {
constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kIndexType = "application/vnd.oci.image.index.v1+json";
}  // namespace

TempStore::TempStore() {
  auto opened = store::Store::open(dir / "state");
  REQUIRE(opened);
  store = std::move(*opened);
}

std::string put_image(store::Store& s, const std::string& repo, const std::string& reference,
                      const std::string& content) {
  return put_image(s, repo, reference, std::vector<std::string>{content}, json::object());
}

std::string put_image(store::Store& s, const std::string& repo, const std::string& reference,
                      const std::vector<std::string>& layers, const json& annotations) {
  auto descriptors = json::array();
  auto diff_ids = json::array();
  for (const auto& content : layers) {
    auto layer = s.put_blob(repo, content);
    REQUIRE(layer);
    descriptors.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                           {"digest", layer->digest.str()},
                           {"size", layer->size}});
    diff_ids.push_back(layer->digest.str());
  }
  auto config = s.put_blob(repo, json{{"architecture", "amd64"},
                                      {"os", "linux"},
                                      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}}
                                     .dump());
  REQUIRE(config);
  auto m = json{{"schemaVersion", 2},
                {"mediaType", kManifestType},
                {"config",
                 {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                  {"digest", config->digest.str()},
                  {"size", config->size}}},
                {"layers", descriptors}};
  if (!annotations.empty()) m["annotations"] = annotations;
  auto put = s.put_manifest(repo, reference, m.dump(), kManifestType);
  REQUIRE(put);
  return put->digest.str();
}

std::string put_index(store::Store& s, const std::string& repo, const std::string& reference,
                      const std::vector<std::string>& children) {
  auto manifests = json::array();
  for (const auto& child : children) {
    auto got = s.get_manifest(repo, child);
    REQUIRE(got);
    manifests.push_back({{"mediaType", kManifestType},
                         {"digest", child},
                         {"size", got->bytes->size()},
                         {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}});
  }
  auto put = s.put_manifest(
      repo, reference,
      json{{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", manifests}}.dump(),
      kIndexType);
  REQUIRE(put);
  return put->digest.str();
}

}  // namespace airheal::test
