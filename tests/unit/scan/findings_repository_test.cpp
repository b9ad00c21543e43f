// The findings repository against a real store: findings are replaced per image and keep when
// each was first seen; the match-key fingerprints that drive re-matching are set and removed.
// Advisory ids are real Debian ones for openssl; the image is a small made-up manifest.
#include "scan/findings_repository.hpp"

#include <catch2/catch.hpp>

#include "scan/inventory_repository.hpp"
#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::scan;

namespace {

Finding finding(std::size_t component, const std::string& id, const std::string& fix_available,
                std::optional<double> score) {
  Finding f;
  f.component = component;
  f.advisory_id = id;
  f.aliases = {"CVE-2025-9230"};
  f.channel = "debian";
  f.source = "debian-security-tracker";
  f.severity = "high";
  f.score = score;
  f.installed = "3.0.17-1~deb12u2";
  f.fixed = "3.0.17-1~deb12u3";
  f.vendor_status = "fixed";
  f.fix_available = fix_available;
  f.summary = std::string(600, 's');  // stored at most 500 characters
  return f;
}

}  // namespace

TEST_CASE("Findings are replaced per image and keep when each was first seen", "[scan]") {
  test::TempStore temp;
  auto& s = *temp;
  auto image = test::put_image(s, "apps/web", "1", "layer");
  // Findings belong to an inventoried image.
  s.transaction([&](sqlite::Connection& c) { InventoryRepository::save(c, image, {}, 100, 100); });

  s.transaction([&](sqlite::Connection& c) {
    FindingsRepository::replace(
        c, image,
        {finding(0, "DSA-6015-1", "package", 7.5), finding(1, "DSA-6015-1", "none", std::nullopt)},
        100);
  });
  s.transaction([&](sqlite::Connection& c) {
    // A rescan: the first finding stays, the second is gone, a third is new.
    FindingsRepository::replace(
        c, image,
        {finding(0, "DSA-6015-1", "package", 7.5), finding(0, "DSA-5999-1", "none", std::nullopt)},
        200);
  });
  s.read([&](sqlite::Connection& c) {
    auto rows = FindingsRepository::of_image(c, image);
    REQUIRE(rows.size() == 2);
    std::map<std::string, FindingRow> by_id;
    for (auto& r : rows) by_id[r.advisory_id] = r;
    CHECK(by_id["DSA-6015-1"].first_seen == 100);
    CHECK(by_id["DSA-5999-1"].first_seen == 200);
    CHECK(by_id["DSA-6015-1"].score == 7.5);
    CHECK_FALSE(by_id["DSA-5999-1"].score);
    CHECK(by_id["DSA-6015-1"].aliases == std::vector<std::string>{"CVE-2025-9230"});
    CHECK(by_id["DSA-6015-1"].summary.size() == 500);
    CHECK(by_id["DSA-6015-1"].fixed == "3.0.17-1~deb12u3");
    CHECK(FindingsRepository::waiting_for_fix(c) == std::set<std::string>{image});
  });
  s.transaction([&](sqlite::Connection& c) { FindingsRepository::remove(c, image); });
  s.read([&](sqlite::Connection& c) {
    CHECK(FindingsRepository::of_image(c, image).empty());
    CHECK(FindingsRepository::waiting_for_fix(c).empty());
  });

  SECTION("findings of an image that left the registry are pruned") {
    s.transaction([&](sqlite::Connection& c) {
      FindingsRepository::replace(c, image, {finding(0, "DSA-6015-1", "none", {})}, 300);
    });
    REQUIRE(s.delete_manifest("apps/web", image));
    store::GcOptions gc;  // the manifest is gone once collected
    gc.dry_run = false;
    gc.delete_untagged = true;
    gc.grace_seconds = 0;
    s.gc(gc);
    s.transaction([](sqlite::Connection& c) { FindingsRepository::prune(c); });
    s.read([&](sqlite::Connection& c) { CHECK(FindingsRepository::of_image(c, image).empty()); });
  }
  SECTION("match-key fingerprints are set, replaced and removed") {
    s.transaction([](sqlite::Connection& c) {
      FindingsRepository::set_key_fingerprint(c, "Debian", "openssl", "aa");
      FindingsRepository::set_key_fingerprint(c, "Debian", "zlib", "bb");
      FindingsRepository::set_key_fingerprint(c, "Debian", "openssl", "cc");
      FindingsRepository::set_key_fingerprint(c, "Debian", "zlib", std::nullopt);
    });
    auto keys =
        s.read([](sqlite::Connection& c) { return FindingsRepository::key_fingerprints(c); });
    CHECK(keys == std::map<std::pair<std::string, std::string>, std::string>{
                      {{"Debian", "openssl"}, "cc"}});
  }
}
