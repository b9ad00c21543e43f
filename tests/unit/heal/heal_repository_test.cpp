#include "heal/heal_repository.hpp"

#include <catch2/catch.hpp>

#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;

TEST_CASE("the heal repository keeps each heal's row and its state changes in order", "[heal]") {
  test::TempStore temp;
  auto& s = *temp;
  const std::string a = "sha256:" + std::string(64, 'a'), b = "sha256:" + std::string(64, 'b'),
                    c2 = "sha256:" + std::string(64, 'c');

  auto first = s.transaction([&](sqlite::Connection& c) {
    return HealRepository::create(c, "apps/web", "v1", a, "autonomous-staging", "3/100", 1000);
  });
  auto h = s.read([&](sqlite::Connection& c) { return HealRepository::get(c, first); });
  REQUIRE(h);
  CHECK(h->state == HealState::detected);
  CHECK(h->repository == "apps/web");
  CHECK(h->generation == "3/100");
  CHECK(h->created_at == 1000);

  s.transaction([&](sqlite::Connection& c) {
    HealRepository::set_state(c, first, HealState::planned, "package-patch: 2 package(s)", 1001);
    HealRepository::set_plan(c, first, "package-patch", {{"strategy", "package-patch"}}, 900);
    HealRepository::set_state(c, first, HealState::building, "no network", 1002);
    HealRepository::set_staged_image(c, first, "v1-airheal-20261129.1", b, 6 << 20, 60 << 20);
    HealRepository::set_state(c, first, HealState::staged, "staged", 1003);
    HealRepository::set_staged(c, first, 1003, std::string(100, 'x'), "waiting for approval");
  });
  h = s.read([&](sqlite::Connection& c) { return HealRepository::get(c, first); });
  REQUIRE(h);
  CHECK(h->state == HealState::staged);
  CHECK(h->strategy == "package-patch");
  CHECK(h->plan["strategy"] == "package-patch");
  CHECK(h->fix_imported_at == 900);
  CHECK(h->staged == b);
  CHECK(h->staged_at == 1003);
  CHECK(h->heal_layer_size == 6 << 20);
  CHECK(h->log.size() == 100);
  auto j = h->to_json();
  CHECK(j["state"] == "staged");
  CHECK(j["time_to_stage_seconds"] == 1003 - 900);  // from the fix's import

  auto events = s.read([&](sqlite::Connection& c) { return HealRepository::events(c, first); });
  std::vector<std::string> states;
  for (const auto& e : events) states.push_back(e["state"]);
  CHECK(states == std::vector<std::string>{"detected", "planned", "building", "staged"});
  CHECK(s.read([](sqlite::Connection& c) { return HealRepository::build_durations(c); }) ==
        std::vector<double>{1.0});  // building at 1002, staged at 1003

  SECTION("listing leaves the build logs out; get() has them") {
    auto all = s.read([](sqlite::Connection& c) { return HealRepository::list(c); });
    REQUIRE(all.size() == 1);
    CHECK(all[0].log.empty());
  }
  SECTION("promotion supersedes the earlier promoted heal of the same tag") {
    s.transaction([&](sqlite::Connection& c) {
      HealRepository::set_state(c, first, HealState::promoted, "approved", 1004);
      HealRepository::set_promoted(c, first, "apps/web", "v1", 1004, "approved by alice");
    });
    CHECK(s.read([&](sqlite::Connection& c) {
      return HealRepository::original_of_promoted(c, "apps/web", "v1", b);
    }) == a);
    CHECK(s.read([&](sqlite::Connection& c) {
             return HealRepository::latest_settled(c, "apps/web", "v1", a);
           })->id == first);

    auto second = s.transaction([&](sqlite::Connection& c) {
      return HealRepository::create(c, "apps/web", "v1", a, "continuous", "4/200", 2000);
    });
    s.transaction([&](sqlite::Connection& c) {
      HealRepository::set_staged_image(c, second, "v1-airheal-20261129.2", c2, 1, 2);
      HealRepository::set_state(c, second, HealState::promoted, "approved", 2001);
      HealRepository::set_promoted(c, second, "apps/web", "v1", 2001, "approved by bob");
    });
    auto old = s.read([&](sqlite::Connection& c) { return HealRepository::get(c, first); });
    CHECK(old->state == HealState::rolled_back);
    CHECK(old->reason == "superseded by heal " + std::to_string(second));
    CHECK(s.read([&](sqlite::Connection& c) {
             return HealRepository::latest_promoted(c, "apps/web", "v1");
           })->id == second);
    CHECK(s.read([&](sqlite::Connection& c) {
      return HealRepository::staged_tags(c, "apps/web");
    }) == std::set<std::string>{"v1-airheal-20261129.1", "v1-airheal-20261129.2"});
    CHECK(s.read([&](sqlite::Connection& c) {
             return HealRepository::staged_tags(c, "apps/other");
           }).empty());
  }
  SECTION("staged heals of a strategy are offered for layer reuse, newest first") {
    auto reusable = s.read(
        [&](sqlite::Connection& c) { return HealRepository::reusable(c, "package-patch", 200); });
    REQUIRE(reusable.size() == 1);
    CHECK(reusable[0].id == first);
    CHECK(reusable[0].original == a);
    CHECK(reusable[0].staged == b);
    CHECK(nlohmann::json::parse(reusable[0].plan)["strategy"] == "package-patch");
    CHECK(s.read([&](sqlite::Connection& c) {
             return HealRepository::reusable(c, "upstream-bump", 200);
           }).empty());
    CHECK(s.read([&](sqlite::Connection& c) {
             return HealRepository::reusable(c, "package-patch", 0);
           }).empty());
    auto made = nlohmann::json::array(
        {{{"digest", c2}, {"predicateType", "https://slsa.dev/provenance/v1"}}});
    s.transaction([&](sqlite::Connection& c) { HealRepository::set_attestations(c, first, made); });
    CHECK(s.read([&](sqlite::Connection& c) {
             return HealRepository::get(c, first);
           })->attestations == made);
  }
  SECTION("a failure's outcome and summary") {
    s.transaction([&](sqlite::Connection& c) {
      HealRepository::set_state(c, first, HealState::failed, "dependency problem", 1005);
      HealRepository::set_outcome(c, first, "dependency problem", "log", "dependency_problem",
                                  "dpkg: error");
    });
    auto sum = s.read([&](sqlite::Connection& c) { return HealRepository::summary(c, first); });
    CHECK(sum.image == "apps/web:v1");
    CHECK(sum.failure == "dependency_problem");
    CHECK(sum.failure_lines == "dpkg: error");
    CHECK(!s.read([&](sqlite::Connection& c) {
      return HealRepository::latest_settled(c, "apps/web", "v1", a);
    }));
  }
}
