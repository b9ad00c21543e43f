// Promotion, rollback and hold against a real store: tags move only when the heal is staged and
// the image's tag still serves the original; the original is retained for rollback. The images
// are small made-up OCI manifests (this is about tags and states, not content).
#include "heal/promoter.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;
using airheal::test::put_image;
using nlohmann::json;

namespace {

struct PromoterFixture {
  test::TempDir dir;
  std::unique_ptr<store::Store> store;
  std::vector<std::tuple<std::int64_t, HealState, std::string, std::string>>
      moves;  // id, state, detail, actor
  std::optional<Promoter> promoter;
  std::string original, healed;
  std::int64_t id = 0;

  PromoterFixture() {
    auto opened = store::Store::open(dir / "state");
    REQUIRE(opened);
    store = std::move(*opened);
    promoter.emplace(*store, [this](std::int64_t h, HealState st, const std::string& detail,
                                    const std::function<void(sqlite::Connection&)>& extra,
                                    const std::string& actor) {
      store->transaction([&](sqlite::Connection& c) {
        HealRepository::set_state(c, h, st, detail, store->now_seconds());
        if (extra) extra(c);
      });
      moves.emplace_back(h, st, detail, actor);
    });
    original = put_image(*store, "apps/web", "1", "original layer");
    // A staged heal of apps/web:1.
    healed = put_image(*store, "apps/web", promoter->staging_tag("apps/web", "1", "20261130"),
                       "healed layer");
    id = store->transaction([&](sqlite::Connection& c) {
      auto h =
          HealRepository::create(c, "apps/web", "1", original, "autonomous-staging", "1/1", 1000);
      HealRepository::set_staged_image(c, h, "1-airheal-20261130.1", healed, 10, 100);
      HealRepository::set_state(c, h, HealState::staged, "staged", 1001);
      return h;
    });
  }
  std::string served() { return store->get_manifest("apps/web", "1")->digest.str(); }
};

}  // namespace

TEST_CASE("Staging tags are new names: never a tag the repository has or an earlier heal used",
          "[heal]") {
  PromoterFixture f;
  CHECK(f.promoter->staging_tag("apps/web", "1", "20261130") ==
        "1-airheal-20261130.2");  // .1 is the staged image's
  CHECK(f.promoter->staging_tag("apps/web", "2", "20261130") == "2-airheal-20261130.1");
  REQUIRE(f.store->delete_manifest("apps/web", "1-airheal-20261130.1"));
  CHECK(f.promoter->staging_tag("apps/web", "1", "20261130") ==
        "1-airheal-20261130.2");  // the heal still names .1
  CHECK(f.promoter->staging_tag("apps/web", std::string(300, 'v'), "20261130").size() ==
        100 + std::string("-airheal-20261130.1").size());
}

TEST_CASE("Approval moves the tag to the staged image and keeps the original for rollback",
          "[heal]") {
  PromoterFixture f;
  auto h = f.promoter->approve(f.id, "alice", "airhealctl:alice");
  REQUIRE(h);
  CHECK(h->state == HealState::promoted);
  CHECK(f.served() == f.healed);
  REQUIRE(f.moves.size() == 1);
  CHECK(std::get<2>(f.moves[0]) == "approved by alice: apps/web:1 -> " + f.healed);
  CHECK(std::get<3>(f.moves[0]) == "airhealctl:alice");
  // Approving again: no longer staged.
  auto twice = f.promoter->approve(f.id, "alice");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message == "heal " + std::to_string(f.id) + " is promoted, not staged");

  auto back = f.promoter->rollback("apps/web", "1", "bob");
  REQUIRE(back);
  CHECK(back->state == HealState::rolled_back);
  CHECK(back->reason == "rolled back by bob");
  CHECK(f.served() == f.original);
  auto none = f.promoter->rollback("apps/web", "1", "bob");
  REQUIRE_FALSE(none);
  CHECK(none.error().message == "no promoted heal of apps/web:1 to roll back");
}

TEST_CASE("A tag that moved since the heal started is not overwritten", "[heal]") {
  PromoterFixture f;
  auto pushed = put_image(*f.store, "apps/web", "1", "someone pushed a new build");
  auto a = f.promoter->approve(f.id, "alice");
  REQUIRE_FALSE(a);
  CHECK(a.error().code == Errc::conflict);
  CHECK(a.error().message ==
        "apps/web:1 has moved since the heal started (now " + pushed + "); heal it again");
  CHECK(f.served() == pushed);
  CHECK(f.moves.empty());
}

TEST_CASE("A staged image that is gone cannot be approved, only a staged heal can be held",
          "[heal]") {
  PromoterFixture f;
  SECTION("gone") {
    REQUIRE(f.store->delete_manifest("apps/web", f.healed));
    auto a = f.promoter->approvable(f.id);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::StartsWith("the staged image is gone"));
    CHECK(f.served() == f.original);
  }
  SECTION("held") {
    auto h = f.promoter->hold(f.id, "carol", "change freeze");
    REQUIRE(h);
    CHECK(h->state == HealState::held);
    CHECK(h->reason == "held by carol: change freeze");
    CHECK_FALSE(f.promoter->approve(f.id, "alice"));
    auto again = f.promoter->hold(f.id, "carol", "");
    REQUIRE_FALSE(again);
    CHECK(again.error().message ==
          "heal " + std::to_string(f.id) + " is held; only a staged heal can be held");
  }
  SECTION("unknown") {
    CHECK(f.promoter->approve(9999, "alice").error().message == "no heal 9999");
  }
}
