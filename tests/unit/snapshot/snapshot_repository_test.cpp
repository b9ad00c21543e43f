#include "snapshot/snapshot_repository.hpp"

#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using namespace airheal;
using nlohmann::json;

namespace {

// Rows as the importer's commit writes them (through the repository).
struct SnapshotFixture {
  test::TempDir dir;
  std::unique_ptr<store::Store> s;
  SnapshotFixture() {
    auto r = store::Store::open(dir / "state");
    REQUIRE(r);
    s = std::move(*r);
  }
  void add(const std::string& channel, std::int64_t seq, std::int64_t imported,
           std::optional<std::string> previous = std::nullopt) {
    snapshot::SnapshotRow row;
    row.digest = test::sha256_digest(channel + std::to_string(seq));
    row.channel = channel;
    row.sequence = seq;
    row.created_at = imported - 3600;
    row.expires_at = imported + 86400;
    row.previous = previous;
    row.imported_at = imported;
    row.signers = json::array({"AB12"});
    row.counts = json{{"images", seq}};
    row.manifest = "{\"channel\":\"" + channel + "\"}";
    s->transaction([&](sqlite::Connection& c) { snapshot::SnapshotRepository::insert(c, row); });
  }
};

}  // namespace

TEST_CASE("the snapshot repository lists imported snapshots as typed rows", "[snapshot]") {
  SnapshotFixture f;
  snapshot::SnapshotRepository repo(*f.s);
  CHECK(repo.list().empty());
  f.add("debian", 1, 1'700'000'000);
  f.s->read([&](sqlite::Connection& c) {
    CHECK(snapshot::SnapshotRepository::imported_at(c, test::sha256_digest("debian1")) ==
          1'700'000'000);
    CHECK_FALSE(snapshot::SnapshotRepository::imported_at(c, test::sha256_digest("debian2")));
  });
  f.add("debian", 2, 1'700'100'000, test::sha256_digest("debian1"));
  f.add("alpine", 1, 1'700'100'000);

  auto all = repo.list();
  REQUIRE(all.size() == 3);
  auto channels =
      f.s->read([](sqlite::Connection& c) { return snapshot::SnapshotRepository::channels(c); });
  REQUIRE(channels.size() == 2);  // by name
  CHECK(channels[0].channel == "alpine");
  CHECK(channels[1].channel == "debian");
  CHECK(channels[1].sequence == 2);
  CHECK(channels[1].imported_at == 1'700'100'000);
  CHECK(channels[1].expires_at == 1'700'100'000 + 86400);  // the highest sequence's
  CHECK(all[0].channel == "debian");  // by import time, then channel and sequence
  CHECK(all[1].channel == "alpine");
  CHECK(all[2].sequence == 2);
  CHECK(all[2].previous == test::sha256_digest("debian1"));
  CHECK(!all[0].previous);
  CHECK(all[2].signers == json::array({"AB12"}));
  CHECK(all[2].counts["images"] == 2);
  CHECK(all[2].manifest.empty());  // not asked for

  snapshot::SnapshotQuery q;
  q.newest_first = true;
  q.with_manifest = true;
  auto newest = repo.list(q);
  REQUIRE(newest.size() == 3);
  CHECK(newest[0].imported_at == 1'700'100'000);
  CHECK(newest[2].imported_at == 1'700'000'000);
  CHECK(newest[2].manifest == "{\"channel\":\"debian\"}");

  SECTION("bounds on the import time are inclusive") {
    snapshot::SnapshotQuery b;
    b.imported_from = 1'700'000'001;
    b.imported_to = 1'700'100'000;
    CHECK(repo.list(b).size() == 2);
    b.imported_from = 1'700'000'000;
    b.imported_to = 1'700'000'000;
    CHECK(repo.list(b).size() == 1);
    b.imported_to = 1'699'999'999;
    CHECK(repo.list(b).empty());
  }
  SECTION("as JSON: RFC 3339 times, the base of a delta") {
    auto j = snapshot::to_json(all[2]);
    CHECK(j["imported"] == "2023-11-16T02:00:00Z");
    CHECK(j["created"] == "2023-11-16T01:00:00Z");
    CHECK(j["previous"] == test::sha256_digest("debian1"));
    CHECK(!snapshot::to_json(all[0]).contains("previous"));
  }
}
