// The catalogue questions other components ask: what a manifest is and the names an image is
// known by (its repositories, its tags, and the tags of indexes holding it).
#include "store/catalog.hpp"

#include <catch2/catch.hpp>

#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("Manifest types and the names an image is known by", "[store]") {
  test::TempStore temp;
  auto& s = *temp;
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

TEST_CASE("Earlier versions of a base are found through their layers and tag history", "[store]") {
  test::TempStore temp;
  auto& s = *temp;
  // library/base:12 was the image "base v1", the app was built FROM it; then the tag moved on.
  auto base_v1 = test::put_image(s, "library/base", "12", "base v1");
  auto app = test::put_image(s, "apps/web", "1.0", std::vector<std::string>{"base v1", "app"}, {});
  auto base_v2 = test::put_image(s, "library/base", "12", "base v2");
  test::put_image(s, "apps/web", "1.0-airheal-20261130.1", "healed");  // staged: not served
  auto layer = "sha256:" + test::sha256_hex("base v1");

  s.read([&](sqlite::Connection& c) {
    // The app itself is excluded; it was never retagged, and base v2 does not hold the layer.
    CHECK(store::formerly_tagged_with_layer(c, layer, app) == std::vector<std::string>{base_v1});
    CHECK(store::formerly_tagged_with_layer(c, layer, base_v1).empty());
    auto tag = store::last_tag_of(c, base_v1);
    REQUIRE(tag);
    CHECK(tag->first == "library/base");
    CHECK(tag->second == "12");
    CHECK_FALSE(store::last_tag_of(c, base_v2));  // still tagged: no history yet
    CHECK(store::manifest_stored_at(c, base_v2) > 0);
    auto served = store::served_tags(c);
    REQUIRE(served.size() == 2);  // by repository and tag
    CHECK(served[0].repository == "apps/web");
    CHECK(served[0].digest == app);
    CHECK(served[1].repository == "library/base");
    CHECK(served[1].digest == base_v2);
    CHECK_FALSE(store::manifest_stored_at(c, "sha256:" + std::string(64, '0')));
  });
}

namespace {
struct CatalogClock : store::Clock {
  std::int64_t t = 1'800'000'000;
  std::int64_t now_seconds() const override { return t; }
};
}  // namespace

TEST_CASE("What the tags served at a past time comes from the tag history", "[store]") {
  test::TempDir dir;
  auto clock = std::make_shared<CatalogClock>();
  auto opened = store::Store::open(dir / "state", clock);
  REQUIRE(opened);
  auto& s = **opened;
  auto v1 = test::put_image(s, "apps/web", "1.0", "v1");  // at t0
  clock->t += 100;
  auto v2 = test::put_image(s, "apps/web", "1.0", "v2");  // moved at t0+100
  clock->t += 100;
  auto db = test::put_image(s, "apps/db", "5", "db");  // created at t0+200
  clock->t += 100;
  test::put_image(s, "apps/web", "1.0-airheal-1", "staged");  // never served
  REQUIRE(s.put_manifest("apps/db", "5", *s.get_manifest("apps/db", db)->bytes,
                         "application/vnd.oci.image.manifest.v1+json"));  // same digest again
  auto t0 = clock->t - 300;
  s.read([&](sqlite::Connection& c) {
    auto at = [&](std::int64_t t) {
      std::vector<std::string> out;
      for (const auto& x : store::served_tags_at(c, t))
        out.push_back(x.repository + ":" + x.tag + "@" + x.digest);
      return out;
    };
    CHECK(at(t0 - 1).empty());  // nothing was served yet
    CHECK(at(t0) == std::vector<std::string>{"apps/web:1.0@" + v1});
    CHECK(at(t0 + 150) == std::vector<std::string>{"apps/web:1.0@" + v2});
    CHECK(at(t0 + 250) == std::vector<std::string>{"apps/db:5@" + db, "apps/web:1.0@" + v2});
    // Re-pushing db's digest moved its tag's time but not what it served.
    CHECK(at(clock->t) == at(t0 + 250));
    CHECK(at(clock->t).size() == store::served_tags(c).size());
  });
}
