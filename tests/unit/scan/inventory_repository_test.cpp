// The inventory repository against a real store: an image's inventory and components round-trip,
// are found by their match keys, and go when the image leaves the registry. The components are
// shaped as the scanner writes them for Debian 12's openssl and libssl3 (real names and versions
// from bookworm-security); the images are small made-up manifests.
#include "scan/inventory_repository.hpp"

#include <catch2/catch.hpp>

#include "scan/layer.hpp"
#include "scan/match.hpp"
#include "scan/sbom.hpp"
#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::scan;

namespace {

Component deb(const std::string& name, const std::string& version, const std::string& source) {
  Component c;
  c.type = "deb";
  c.ecosystem = "Debian";
  c.name = name;
  c.version = version;
  c.source = source;
  c.source_version = version;
  c.arch = "amd64";
  c.purl = "pkg:deb/debian/" + name + "@" + version + "?arch=amd64&distro=debian-12";
  c.layer = "sha256:" + std::string(64, '1');
  c.location = "var/lib/dpkg/status";
  return c;
}

}  // namespace

TEST_CASE("An image's inventory round-trips and is found by its components' match keys", "[scan]") {
  test::TempStore temp;
  auto& s = *temp;
  auto image = test::put_image(s, "apps/web", "1", "layer");
  auto other = test::put_image(s, "apps/api", "1", "another layer");
  auto index = test::put_index(s, "apps/web", "multi", {image});

  ImageInventory inv;
  inv.os = {"debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"};
  inv.layers = {"sha256:" + std::string(64, '1')};
  inv.files = 4321;
  inv.problems = {"usr/bin/odd: unreadable ELF"};
  inv.components = {deb("libssl3", "3.0.17-1~deb12u2", "openssl"),
                    deb("openssl", "3.0.17-1~deb12u2", "openssl")};

  s.read([&](sqlite::Connection& c) {
    CHECK_FALSE(InventoryRepository::load(c, image));
    CHECK(InventoryRepository::layers(c, image).empty());
    CHECK(InventoryRepository::count(c) == 0);
    auto pending = InventoryRepository::unscanned(c);
    CHECK(std::find(pending.begin(), pending.end(), image) != pending.end());
    CHECK(std::find(pending.begin(), pending.end(), index) ==
          pending.end());  // an index is not scanned itself
  });
  s.transaction(
      [&](sqlite::Connection& c) { InventoryRepository::save(c, image, inv, 1000, 1001); });
  s.read([&](sqlite::Connection& c) {
    auto back = InventoryRepository::load(c, image);
    REQUIRE(back);
    CHECK(back->to_json() == inv.to_json());
    CHECK(InventoryRepository::scanned_at(c, image) == 1000);
    CHECK(InventoryRepository::count(c) == 1);
    CHECK_FALSE(InventoryRepository::scanned_at(c, other));
    CHECK(InventoryRepository::layers(c, image) == inv.layers);
    auto comps = InventoryRepository::components(c, image);
    REQUIRE(comps.size() == 2);
    CHECK(comps[1].name == "openssl");
    auto key = match_key(inv.components[0]);
    CHECK(InventoryRepository::images_with(c, key.ecosystem, key.package) ==
          std::vector<std::string>{image});
    CHECK(InventoryRepository::images_with(c, key.ecosystem, "zlib").empty());
    CHECK(InventoryRepository::served(c) == std::vector<std::string>{image});
    auto pending = InventoryRepository::unscanned(c);
    CHECK(std::find(pending.begin(), pending.end(), image) == pending.end());
    CHECK(std::find(pending.begin(), pending.end(), other) != pending.end());
    CHECK(InventoryRepository::index_children(c, index, false) == std::vector<std::string>{image});
    CHECK(InventoryRepository::index_children(c, index, true) == std::vector<std::string>{image});
    CHECK(InventoryRepository::index_children(c, image, false).empty());
    // No SBOM referrer yet: the image is listed once per repository holding it.
    auto missing = InventoryRepository::without_referrer(c, kCycloneDxMediaType);
    REQUIRE(missing.size() == 1);
    CHECK(missing[0].manifest == image);
    CHECK(missing[0].media_type == "application/vnd.oci.image.manifest.v1+json");
  });
  // Saved again (a rescan): the components are replaced, not added.
  inv.components.pop_back();
  s.transaction([&](sqlite::Connection& c) {
    InventoryRepository::save(c, image, inv, 1000, 2000);
    InventoryRepository::set_matched(c, image, 2001);
  });
  s.read(
      [&](sqlite::Connection& c) { CHECK(InventoryRepository::components(c, image).size() == 1); });

  // The image leaves the registry (deleted, then collected): its inventory goes with it.
  REQUIRE(s.delete_manifest("apps/web", index));
  REQUIRE(s.delete_manifest("apps/web", image));
  s.read([&](sqlite::Connection& c) { CHECK(InventoryRepository::served(c).empty()); });
  store::GcOptions gc;
  gc.dry_run = false;
  gc.delete_untagged = true;
  gc.grace_seconds = 0;
  s.gc(gc);
  s.transaction([](sqlite::Connection& c) { InventoryRepository::prune(c); });
  s.read([&](sqlite::Connection& c) {
    CHECK_FALSE(InventoryRepository::load(c, image));
    CHECK(InventoryRepository::components(c, image).empty());
    CHECK(InventoryRepository::served(c).empty());
  });
}
