// The trust tables against a real store: channels with their keys and thresholds, keys removed
// and revoked. Fingerprints are made up here (the keyring side is tested with real gpg keys in
// tests/integration/snapshot_import_test.cpp).
#include "snapshot/trust_repository.hpp"

#include <catch2/catch.hpp>

#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::snapshot;

TEST_CASE("Channels keep their keys and threshold, keys are removed and revoked", "[snapshot]") {
  test::TempStore temp;
  auto& s = *temp;
  const std::string a(40, 'A'), b(40, 'B');
  s.transaction([&](sqlite::Connection& c) {
    TrustRepository::ensure_channel(c, "debian", 100);
    TrustRepository::ensure_channel(c, "debian", 200);  // already there: unchanged
    TrustRepository::add_key(c, "debian", a, 100);
    TrustRepository::add_key(c, "debian", b, 100);
    TrustRepository::add_key(c, "debian", b, 100);  // once only
    TrustRepository::set_threshold(c, "debian", 2, 101);
  });
  s.read([&](sqlite::Connection& c) {
    CHECK(TrustRepository::key_count(c, "debian") == 2);
    CHECK(TrustRepository::threshold(c, "debian") == 2);
    CHECK_FALSE(TrustRepository::threshold(c, "alpine"));
    CHECK(TrustRepository::key_count(c, "alpine") == 0);
  });
  s.transaction([&](sqlite::Connection& c) {
    CHECK(TrustRepository::remove_key(c, "debian", b));
    CHECK_FALSE(TrustRepository::remove_key(c, "debian", b));
    TrustRepository::revoke(c, a, "compromised", 300);
  });
  auto channels = s.read([](sqlite::Connection& c) { return TrustRepository::list(c); });
  REQUIRE(channels.size() == 1);
  CHECK(channels[0].name == "debian");
  CHECK(channels[0].threshold == 2);
  CHECK_FALSE(channels[0].last_sequence);
  REQUIRE(channels[0].keys.size() == 1);
  CHECK(channels[0].keys[0].fingerprint == a);
  CHECK(channels[0].keys[0].added_by == "operator");
  CHECK(channels[0].keys[0].revoked);
}

TEST_CASE("An import reads the trust it checks against, moves its channel on and rotates keys",
          "[snapshot]") {
  test::TempStore temp;
  auto& s = *temp;
  const std::string a(40, 'A'), b(40, 'B'), c3(40, 'C');
  s.transaction([&](sqlite::Connection& c) {
    TrustRepository::ensure_channel(c, "debian", 100);
    TrustRepository::ensure_channel(c, "alpine", 100);
    TrustRepository::add_key(c, "debian", a, 100);
    TrustRepository::add_key(c, "alpine", b, 100);
    TrustRepository::revoke(c, b, "lost", 150);
  });
  s.read([&](sqlite::Connection& c) {
    CHECK(TrustRepository::trusted_anywhere(c) == std::set<std::string>{a, b});
    CHECK(TrustRepository::revoked(c) == std::set<std::string>{b});
    CHECK(TrustRepository::keys(c, "debian") == std::set<std::string>{a});
    CHECK(TrustRepository::keys(c, "ubuntu").empty());
    CHECK_FALSE(TrustRepository::progress(c, "ubuntu"));
    auto p = TrustRepository::progress(c, "debian");
    REQUIRE(p);
    CHECK(p->threshold == 1);
    CHECK_FALSE(p->last_sequence);
    CHECK(p->last_digest.empty());
  });
  const std::string snap = "sha256:" + std::string(64, 'e');
  s.transaction([&](sqlite::Connection& c) {
    TrustRepository::record_import(c, "debian", 7, snap, 999, 2, 200);
    TrustRepository::rotate_keys(c, "debian", {a}, {c3}, snap, 200);
  });
  s.read([&](sqlite::Connection& c) {
    auto p = TrustRepository::progress(c, "debian");
    REQUIRE(p);
    CHECK(p->threshold == 2);
    CHECK(p->last_sequence == 7);
    CHECK(p->last_digest == snap);
    CHECK(TrustRepository::keys(c, "debian") == std::set<std::string>{c3});
  });
  auto channels = s.read([](sqlite::Connection& c) { return TrustRepository::list(c); });
  auto debian = std::find_if(channels.begin(), channels.end(),
                             [](const Channel& ch) { return ch.name == "debian"; });
  REQUIRE(debian != channels.end());
  REQUIRE(debian->keys.size() == 1);
  CHECK(debian->keys[0].added_by == snap);  // rotated in by the snapshot, not the operator
}
