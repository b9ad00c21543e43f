// The catalogue questions other components ask: what a manifest is and the names an image is
// known by (its repositories, its tags, and the tags of indexes holding it).
#include "store/catalog.hpp"

#include <catch2/catch.hpp>

#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("Manifest types and the names an image is known by", "[store]") {
  test::TempDir dir;
  auto opened = store::Store::open(dir / "state");
  REQUIRE(opened);
  auto& s = **opened;
  auto image = test::put_image(s, "apps/web", "1.0", "layer");
  REQUIRE(s.put_manifest("apps/web", "stable", *s.get_manifest("apps/web", image)->bytes,
                         "application/vnd.oci.image.manifest.v1+json"));
  auto index = test::put_index(s, "apps/web", "multi", {image});

  s.read([&](sqlite::Connection& c) {
    auto t = store::manifest_type(c, image);
    REQUIRE(t);
    CHECK(t->media_type == "application/vnd.oci.image.manifest.v1+json");
    CHECK(t->size > 0);
    CHECK(store::manifest_type(c, index)->media_type == "application/vnd.oci.image.index.v1+json");
    CHECK_FALSE(store::manifest_type(c, "sha256:" + std::string(64, '0')));
    CHECK(store::repositories_of(c, image) == std::vector<std::string>{"apps/web"});
    CHECK(store::tags_of(c, image) == std::vector<std::string>{"1.0", "stable"});
    CHECK(store::image_names(c, image) == std::vector<std::string>{"apps/web", "apps/web:1.0",
                                                                   "apps/web:stable",
                                                                   "apps/web:multi"});
    CHECK(store::image_names(c, "sha256:" + std::string(64, '0')).empty());
  });
}
