#include "core/sqlite.hpp"

#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("migrations run forward once and refuse a newer database", "[core][sqlite]") {
  test::TempDir dir;
  std::vector<sqlite::Migration> v1 = {{1, "CREATE TABLE t (x INTEGER);"}};
  std::vector<sqlite::Migration> v2 = {{1, "CREATE TABLE t (x INTEGER);"},
                                       {2, "ALTER TABLE t ADD COLUMN y TEXT;"}};
  {
    sqlite::Connection c(dir / "db");
    c.migrate(v1);
    CHECK(c.user_version() == 1);
    c.prepare("INSERT INTO t(x) VALUES (?)").bind(1, std::int64_t{5}).run();
  }
  {
    sqlite::Connection c(dir / "db");
    c.migrate(v2);
    c.migrate(v2);  // idempotent
    CHECK(c.user_version() == 2);
    auto st = c.prepare("SELECT x, y FROM t");
    REQUIRE(st.step());
    CHECK(st.get_int(0) == 5);
    CHECK(st.is_null(1));
  }
  sqlite::Connection c(dir / "db");
  CHECK_THROWS_WITH(c.migrate(v1), Catch::Contains("newer than this airheal understands"));
}

TEST_CASE("a failed migration leaves the database as it was", "[core][sqlite]") {
  test::TempDir dir;
  sqlite::Connection c(dir / "db");
  c.migrate({{1, "CREATE TABLE t (x INTEGER);"}});
  CHECK_THROWS(
      c.migrate({{1, "CREATE TABLE t (x INTEGER);"}, {2, "CREATE TABLE u (a); THIS IS NOT SQL;"}}));
  CHECK(c.user_version() == 1);
  auto st = c.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'u'");
  st.step();
  CHECK(st.get_int(0) == 0);
}

TEST_CASE("an uncommitted transaction rolls back", "[core][sqlite]") {
  test::TempDir dir;
  sqlite::Connection c(dir / "db");
  c.exec("CREATE TABLE t (x INTEGER)");
  {
    sqlite::Transaction tx(c);
    c.exec("INSERT INTO t VALUES (1)");
  }
  auto st = c.prepare("SELECT count(*) FROM t");
  st.step();
  CHECK(st.get_int(0) == 0);
}
