#include "daemon/services.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("make_services opens what is asked for, the same for airheald and airhealctl",
          "[daemon]") {
  test::TempDir dir;
  config::Config cfg;
  cfg.state_dir = dir / "state";

  SECTION("the store and the journal always") {
    auto s = make_services(cfg, {});
    REQUIRE(s);
    CHECK(s->store);
    CHECK(s->journal);
    CHECK(!s->keyring);
    CHECK(!s->importer);
    CHECK(!s->scanner);
    CHECK(!s->engine);
    CHECK(std::filesystem::exists(cfg.state_dir / "metadata.db"));
  }
  SECTION("an engine brings its scanner; webhooks only when configured") {
    ServiceOptions o;
    o.engine = true;
    o.actor = "airhealctl:test";
    auto s = make_services(cfg, o);
    REQUIRE(s);
    CHECK(s->scanner);
    CHECK(s->engine);
    CHECK(!s->webhooks);
    cfg.heal.webhooks = {"http://127.0.0.1:9/hook"};
    auto w = make_services(cfg, o);
    REQUIRE(w);
    CHECK(w->webhooks);
  }
  SECTION("the keyring and importer") {
    ServiceOptions o;
    o.keyring = true;
    auto s = make_services(cfg, o);
    REQUIRE(s);
    CHECK(s->keyring);
    CHECK(s->importer);
  }
  SECTION("a webhook secret that cannot be read is an error naming the file") {
    cfg.heal.webhooks = {"http://127.0.0.1:9/hook"};
    cfg.heal.webhook_secret_file = (dir / "missing-secret").string();
    ServiceOptions o;
    o.engine = true;
    auto s = make_services(cfg, o);
    REQUIRE(!s);
    CHECK_THAT(s.error().message, Catch::Contains("missing-secret"));
  }
  SECTION("an unusable state directory is named") {
    std::ofstream(dir / "file") << "x";
    cfg.state_dir = dir / "file";
    auto s = make_services(cfg, {});
    REQUIRE(!s);
    CHECK_THAT(s.error().message,
               Catch::StartsWith("cannot use state directory " + (dir / "file").string()));
  }
}
