// The trust tables against a real store: channels with their keys and thresholds, keys removed
// and revoked. Fingerprints are made up here (the keyring side is tested with real gpg keys in
// tests/integration/snapshot_import_test.cpp).
#include "snapshot/trust_repository.hpp"

#include <catch2/catch.hpp>

#include "store/store.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::snapshot;

TEST_CASE("Channels keep their keys and threshold, keys are removed and revoked", "[snapshot]") {
  test::TempDir dir;
  auto opened = store::Store::open(dir / "state");
  REQUIRE(opened);
  auto& s = **opened;
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
