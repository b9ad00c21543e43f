// The layer a build tool added, read back from the OCI layout it wrote. The layout is written here
// by hand so that each way it can be wrong is tried; the real buildah's layouts go through the
// same function in the heal integration tests.
#include "heal/image_builder.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;
using namespace airheal::test;
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

std::string put_blob(const fsys::path& layout, const std::string& bytes) {
  auto d = Sha256::of(bytes);
  fsys::create_directories(layout / "blobs" / "sha256");
  REQUIRE(fs::write_file_atomic(layout / "blobs" / "sha256" / d.hex(), bytes));
  return d.str();
}

struct Layout {
  std::vector<std::string> layers;  // blob bytes, bottom first
  std::vector<std::string> diff_ids;
  int index_entries = 1;
  std::string tamper_layer;  // replaces the last layer's blob bytes after the manifest names it
};

void write(const fsys::path& dir, const Layout& l) {
  json layers = json::array();
  for (const auto& bytes : l.layers)
    layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                      {"digest", put_blob(dir, bytes)},
                      {"size", bytes.size()}});
  auto config = json{{"architecture", "amd64"},
                     {"os", "linux"},
                     {"rootfs", {{"type", "layers"}, {"diff_ids", l.diff_ids}}}}
                    .dump();
  auto manifest = json{
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
        {"digest", put_blob(dir, config)},
        {"size", config.size()}}},
      {"layers",
       layers}}.dump();
  auto md = put_blob(dir, manifest);
  json entries = json::array();
  for (int i = 0; i < l.index_entries; ++i)
    entries.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                       {"digest", md},
                       {"size", manifest.size()}});
  REQUIRE(fs::write_file_atomic(dir / "index.json",
                                json{{"schemaVersion", 2}, {"manifests", entries}}.dump()));
  if (!l.tamper_layer.empty())
    REQUIRE(fs::write_file_atomic(dir / "blobs" / "sha256" / Sha256::of(l.layers.back()).hex(),
                                  l.tamper_layer));
}

const std::string kDiff1 = "sha256:" + std::string(64, '1'),
                  kDiff2 = "sha256:" + std::string(64, '2');

}  // namespace

TEST_CASE("The added layer is read back with its digest, size and diff id checked", "[heal]") {
  TempDir t;
  write(t / "out", {{"base layer", "heal layer"}, {kDiff1, kDiff2}, 1, ""});
  auto layer = read_added_layer(t / "out", 1);
  REQUIRE(layer);
  CHECK(layer->digest == Sha256::of("heal layer"));
  CHECK(layer->diff_id.str() == kDiff2);
  CHECK(layer->size == std::string("heal layer").size());
  CHECK(layer->media_type == "application/vnd.oci.image.layer.v1.tar+gzip");
  CHECK(*fs::read_file(layer->file, 1 << 10) == "heal layer");
}

TEST_CASE("A build's layout that is not exactly one checked layer more is refused with its reason",
          "[heal][hostile]") {
  TempDir t;
  struct Case {
    const char* name;
    Layout layout;
    std::size_t base;
    const char* message;
  };
  std::vector<Case> cases = {
      {"two layers added",
       {{"a", "b", "c"}, {kDiff1, kDiff1, kDiff2}, 1, ""},
       1,
       "has 3 layers, not exactly one more than the original's 1"},
      {"no layer added", {{"a"}, {kDiff1}, 1, ""}, 1, "has 1 layers, not exactly one more"},
      {"a diff id missing",
       {{"a", "b"}, {kDiff1}, 1, ""},
       1,
       "does not list one diff id per layer"},
      {"a bad diff id", {{"a", "b"}, {kDiff1, "sha256:nothex"}, 1, ""}, 1, "bad diff id"},
      {"two images", {{"a", "b"}, {kDiff1, kDiff2}, 2, ""}, 1, "does not name exactly one image"},
      {"the layer changed after the build",
       {{"a", "b"}, {kDiff1, kDiff2}, 1, "not b"},
       1,
       "does not match its digest"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto dir = t / c.name;
      write(dir, c.layout);
      auto r = read_added_layer(dir, c.base);
      REQUIRE_FALSE(r);
      CHECK_THAT(r.error().message, Catch::Contains(c.message));
    }
  }
  SECTION("no layout at all") {
    auto r = read_added_layer(t / "missing", 0);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("the build wrote no image"));
  }
}
