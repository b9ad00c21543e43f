// The schema's migration files: numbered without gaps, each in its component's schema folder,
// every table created by exactly one file, and a fresh database migrated to the last version.
#include "store/schema.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>

#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("Each component's migration files make one numbered migration per version", "[store]") {
  const auto& files = store::schema_files();
  REQUIRE_FALSE(files.empty());
  const std::regex name(R"(([a-z]+)/schema/(\d{3})-[a-z0-9-]+\.sql)");
  std::map<std::string, std::string> created_by;  // table -> file
  const std::regex create(R"(CREATE TABLE (\w+))");
  int last = 0;
  for (const auto& f : files) {
    INFO(f.path);
    std::cmatch m;
    REQUIRE(std::regex_match(f.path, m, name));
    CHECK(std::stoi(m[2].str()) == f.version);
    CHECK(f.version >= last);      // ordered
    CHECK(f.version <= last + 1);  // no gaps
    last = f.version;
    std::string sql = f.sql;
    for (std::sregex_iterator it(sql.begin(), sql.end(), create), end; it != end; ++it) {
      auto [pos, fresh] = created_by.emplace((*it)[1].str(), f.path);
      CHECK(fresh);  // one owner per table
    }
  }
  const auto& migrations = store::migrations();
  REQUIRE(migrations.size() == static_cast<std::size_t>(last));
  for (std::size_t i = 0; i < migrations.size(); ++i) CHECK(migrations[i].version == int(i) + 1);
  CHECK(created_by.at("heals").rfind("heal/schema/", 0) == 0);
  CHECK(created_by.at("snapshots").rfind("snapshot/schema/", 0) == 0);
  CHECK(created_by.at("blobs").rfind("store/schema/", 0) == 0);

  // A fresh database has exactly these tables, at the last version.
  test::TempStore temp;
  auto& s = *temp;
  auto tables = s.read([](sqlite::Connection& c) {
    std::set<std::string> out;
    auto st = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table'");
    while (st.step()) out.insert(st.get_text(0));
    return out;
  });
  std::set<std::string> expected;
  for (const auto& [table, file] : created_by) expected.insert(table);
  CHECK(tables == expected);
  CHECK(s.read([](sqlite::Connection& c) { return c.user_version(); }) == last);
}
