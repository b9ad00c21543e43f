// The audit anchor against a real store: it only moves forward, and the journal length it
// remembers never goes down (a cut-back journal is then seen by the verifier).
#include "audit/anchor_repository.hpp"

#include <catch2/catch.hpp>

#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using audit::Anchor;
using audit::AnchorRepository;

TEST_CASE("The audit anchor moves forward only and keeps the longest journal seen", "[audit]") {
  test::TempStore temp;
  auto& s = *temp;
  auto read = [&] {
    return s.read([](sqlite::Connection& c) { return AnchorRepository::read(c); });
  };
  auto advance = [&](const Anchor& a) {
    s.transaction([&](sqlite::Connection& c) { AnchorRepository::advance(c, a); });
  };
  CHECK_FALSE(read());

  advance({2, "head-2", 40, 1000});
  auto a = read();
  REQUIRE(a);
  CHECK(a->checkpoint == 2);
  CHECK(a->head == "head-2");
  CHECK(a->records == 40);
  CHECK(a->time == 1000);

  advance({1, "head-1", 90, 2000});  // an older checkpoint: ignored
  CHECK(read()->checkpoint == 2);
  CHECK(read()->records == 40);

  advance({3, "head-3", 30, 3000});  // a later one with a shorter journal: the length stays
  CHECK(read()->checkpoint == 3);
  CHECK(read()->head == "head-3");
  CHECK(read()->records == 40);
}
