// The healer's candidate queries against a real store: which tags have fixes inside the gap and no
// heal yet for the content imported so far, which name a base that has moved on, and which share
// the layers of an earlier version of a moved tag. Images are small made-up manifests.
#include "heal/candidates_repository.hpp"

#include <catch2/catch.hpp>

#include "heal/heal_repository.hpp"
#include "scan/findings_repository.hpp"
#include "scan/inventory_repository.hpp"
#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;

namespace {

void add_finding(store::Store& s, const std::string& image, const std::string& fix_available) {
  scan::Finding f;
  f.advisory_id = "DSA-6015-1";
  f.severity = "high";
  f.fix_available = fix_available;
  s.transaction([&](sqlite::Connection& c) {
    // Findings belong to an inventoried image.
    if (!scan::InventoryRepository::scanned_at(c, image))
      scan::InventoryRepository::save(c, image, {}, 100, 100);
    scan::FindingsRepository::replace(c, image, {f}, 100);
  });
}

}  // namespace

TEST_CASE("Tags with fixes inside the gap and no heal for the content imported so far", "[heal]") {
  test::TempStore temp;
  auto& s = *temp;
  auto web = test::put_image(s, "apps/web", "1", "web layer");
  auto api = test::put_image(s, "apps/api", "1", "api layer");
  add_finding(s, web, "package");
  add_finding(s, api, "none");  // nothing inside the gap fixes it
  // A staging tag of the same image is never a candidate itself.
  REQUIRE(s.put_manifest("apps/web", "1-airheal-20261130.1",
                         *s.get_manifest("apps/web", web)->bytes,
                         "application/vnd.oci.image.manifest.v1+json"));
  using Tags = std::vector<CandidatesRepository::Tag>;
  auto with = [&](const std::string& g) {
    return s.read([&](sqlite::Connection& c) { return CandidatesRepository::with_fixes(c, g); });
  };
  CHECK(with("1/100") == Tags{{"apps/web", "1"}});

  auto id = s.transaction([&](sqlite::Connection& c) {
    return HealRepository::create(c, "apps/web", "1", web, "autonomous-staging", "1/100", 1000);
  });
  CHECK(with("2/200").empty());  // in flight
  s.transaction([&](sqlite::Connection& c) {
    HealRepository::set_state(c, id, HealState::held, "held", 1001);
  });
  CHECK(with("1/100").empty());                     // settled against this content
  CHECK(with("2/200") == Tags{{"apps/web", "1"}});  // new content: tried again
  s.read([&](sqlite::Connection& c) { CHECK(HealRepository::in_flight(c).empty()); });
}

TEST_CASE("Images whose base moved on: named by annotations, or found by shared layers", "[heal]") {
  test::TempStore temp;
  auto& s = *temp;
  auto base = test::put_image(s, "library/debian", "12", std::vector<std::string>{"base layer"},
                              nlohmann::json::object());
  auto named = test::put_image(
      s, "apps/named", "1", std::vector<std::string>{"base layer", "named app"},
      {{"org.opencontainers.image.base.name", "registry.local:5000/library/debian:12"},
       {"org.opencontainers.image.base.digest", base}});
  auto plain =
      test::put_image(s, "apps/plain", "1", std::vector<std::string>{"base layer", "plain app"},
                      nlohmann::json::object());
  add_finding(s, named, "none");
  add_finding(s, plain, "none");

  s.read([&](sqlite::Connection& c) {
    auto b = CandidatesRepository::naming_their_base(c, "1/100");
    REQUIRE(b.size() == 1);
    CHECK(b[0].repository == "apps/named");
    CHECK(b[0].base_name == "registry.local:5000/library/debian:12");
    CHECK(b[0].base_digest == base);
    CHECK(CandidatesRepository::tag_digest(c, "library/debian", "12") == base);
    CHECK_FALSE(CandidatesRepository::tag_digest(c, "library/debian", "13"));
    CHECK(CandidatesRepository::moved_versions(c, 200).empty());
  });
  // The base's tag moves on to a newer build.
  auto newer =
      test::put_image(s, "library/debian", "12", std::vector<std::string>{"newer base layer"},
                      nlohmann::json::object());
  s.read([&](sqlite::Connection& c) {
    CHECK(CandidatesRepository::tag_digest(c, "library/debian", "12") == newer);
    auto moved = CandidatesRepository::moved_versions(c, 200);
    REQUIRE(moved.size() == 1);
    CHECK(moved[0].first == base);
    auto users = CandidatesRepository::unnamed_users_of(c, Sha256::of("base layer").str(), base,
                                                        moved[0].second);
    REQUIRE(users.size() == 1);  // the annotated image is found by its annotations instead
    CHECK(users[0].repository == "apps/plain");
    CHECK(users[0].digest == plain);
  });
}

TEST_CASE("The promoted heal each tag serves", "[heal]") {
  test::TempStore temp;
  auto& s = *temp;
  auto original = test::put_image(s, "apps/web", "1", "original");
  auto healed = test::put_image(s, "apps/web", "1-airheal-20261130.1", "healed");
  auto id = s.transaction([&](sqlite::Connection& c) {
    auto h =
        HealRepository::create(c, "apps/web", "1", original, "autonomous-staging", "1/1", 1000);
    HealRepository::set_staged_image(c, h, "1-airheal-20261130.1", healed, 10, 100);
    HealRepository::set_state(c, h, HealState::promoted, "approved", 1002);
    HealRepository::set_promoted(c, h, "apps/web", "1", 1002, "approved by alice");
    return h;
  });
  // Promoted, but the tag does not serve the healed image yet: nothing to pin.
  s.read([&](sqlite::Connection& c) { CHECK(HealRepository::serving(c).empty()); });
  REQUIRE(s.put_manifest("apps/web", "1", *s.get_manifest("apps/web", healed)->bytes,
                         "application/vnd.oci.image.manifest.v1+json"));
  s.read([&](sqlite::Connection& c) {
    auto serving = HealRepository::serving(c);
    REQUIRE(serving.size() == 1);
    CHECK(serving[0].id == id);
    CHECK(serving[0].staged == healed);
    CHECK(serving[0].original == original);
    CHECK(serving[0].promoted_at == 1002);
  });
}
