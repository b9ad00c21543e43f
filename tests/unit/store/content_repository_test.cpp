// The content table against a real store: an import replaces its channel's rows, the heal engine
// reads packages and artefacts with their snapshot's import time, and the markers the scanner and
// the engine poll change when (and only when) content arrives. Digests and names are made up.
#include "store/content_repository.hpp"

#include <catch2/catch.hpp>

#include "snapshot/snapshot_repository.hpp"
#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using store::ContentRepository;
using store::ContentRow;

namespace {

ContentRow row(const std::string& kind, const std::string& name, const std::string& channel,
               const std::string& snapshot) {
  ContentRow r;
  r.digest = test::sha256_digest(kind + name + channel);
  r.kind = kind;
  r.name = name;
  r.version = "1.0";
  r.metadata = R"({"architecture":"amd64"})";
  r.channel = channel;
  r.snapshot = snapshot;
  return r;
}

}  // namespace

TEST_CASE("Content rows are replaced per channel and read back with their import time", "[store]") {
  test::TempStore temp;
  auto& s = *temp;
  auto marker = [&] {
    return s.read([](sqlite::Connection& c) { return ContentRepository::import_marker(c); });
  };
  auto generation = [&] {
    return s.read([](sqlite::Connection& c) { return ContentRepository::fixes_generation(c); });
  };
  CHECK(marker() == "0/0|0");
  CHECK(generation() == "0/0");

  const auto snap1 = test::sha256_digest("snapshot 1"), snap2 = test::sha256_digest("snapshot 2");
  auto import = [&](const std::string& snapshot, std::int64_t at, std::vector<ContentRow> rows) {
    s.transaction([&](sqlite::Connection& c) {
      snapshot::SnapshotRow sr;
      sr.digest = snapshot;
      sr.channel = rows.front().channel;
      sr.sequence = at;
      sr.imported_at = at;
      snapshot::SnapshotRepository::insert(c, sr);
      ContentRepository::clear_channel(c, sr.channel);
      for (const auto& r : rows) {
        s.record_content_blob(c, *Digest::parse(r.digest), 10);
        ContentRepository::add(c, r);
        ContentRepository::add(c, r);  // a repeated row is ignored
      }
    });
  };
  import(snap1, 1000,
         {row("package", "zlib1g", "debian", snap1), row("advisory", "dsa.json", "debian", snap1),
          row("artifact", "busybox", "debian", snap1)});
  CHECK(marker() == "1/1000|2");  // advisories are not fixes
  CHECK(generation() == "2/1000");

  auto fixes = s.read([](sqlite::Connection& c) { return ContentRepository::fixes(c); });
  REQUIRE(fixes.size() == 2);
  CHECK(fixes[0].kind == "artifact");  // by channel, kind, name, version, digest
  CHECK(fixes[1].name == "zlib1g");
  CHECK(fixes[1].imported_at == 1000);
  CHECK(fixes[1].snapshot == snap1);
  CHECK(fixes[1].metadata == R"({"architecture":"amd64"})");

  // The next snapshot of the channel replaces its rows; another channel's stay.
  import(snap2, 2000, {row("package", "openssl", "debian", snap2)});
  import(test::sha256_digest("alpine 1"), 1500,
         {row("package", "musl", "alpine", test::sha256_digest("alpine 1"))});
  fixes = s.read([](sqlite::Connection& c) { return ContentRepository::fixes(c); });
  REQUIRE(fixes.size() == 2);
  CHECK(fixes[0].channel == "alpine");
  CHECK(fixes[1].name == "openssl");
  CHECK(fixes[1].imported_at == 2000);
  CHECK(marker() == "3/2000|2");
  CHECK(generation() == "2/2000");
}

TEST_CASE("A matcher finds imported packages by name and artefacts by their metadata", "[store]") {
  test::TempStore temp;
  auto& s = *temp;
  const auto snap = test::sha256_digest("snapshot");
  s.transaction([&](sqlite::Connection& c) {
    for (auto r :
         {row("package", "libssl3", "debian", snap), row("package", "libssl3", "extra", snap),
          row("package", "zlib1g", "debian", snap), row("artifact", "busybox", "debian", snap),
          row("advisory", "libssl3", "debian", snap)}) {
      if (r.kind == "artifact") r.metadata = R"({"path":"bin/busybox"})";
      s.record_content_blob(c, *Digest::parse(r.digest), 1);
      ContentRepository::add(c, r);
    }
  });
  s.read([&](sqlite::Connection& c) {
    auto ssl = ContentRepository::packages_named(c, "libssl3");
    REQUIRE(ssl.size() == 2);  // one per channel; the advisory of that name is not a package
    CHECK(ssl[0].version == "1.0");
    CHECK(ssl[0].metadata == R"({"architecture":"amd64"})");
    CHECK(ContentRepository::packages_named(c, "busybox").empty());
    CHECK(ContentRepository::artifact_metadata(c) ==
          std::vector<std::string>{R"({"path":"bin/busybox"})"});
  });
}
