// SQL stays in the repositories owning the tables (scripts/check-sql.py): the tree as it is
// matches its baseline, and a query added outside a repository fails the check.
#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;

namespace {
ProcessResult check(const std::filesystem::path& tree, const std::filesystem::path& baseline) {
  return test::run({"python3", (test::source_dir() / "scripts" / "check-sql.py").string(),
                    tree.string(), baseline.string()});
}
}  // namespace

TEST_CASE("the appliance's SQL outside repositories matches the baseline", "[build][sql]") {
  auto r = check(test::source_dir() / "appliance",
                 test::source_dir() / "scripts" / "sql-outside-repositories.txt");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("SQL added outside a repository fails the check, a repository may hold any",
          "[build][sql]") {
  test::TempDir dir;
  auto write = [&](const std::string& rel, const std::string& text) {
    std::filesystem::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel) << text;
  };
  write("tree/scan/findings_repository.cpp",
        "c.prepare(\"SELECT a FROM findings\");\nc.prepare(\"DELETE FROM findings\");\n");
  write("tree/store/store.cpp", "c.prepare(\"INSERT INTO blobs VALUES (?)\");\n");
  write("tree/heal/engine.cpp",
        "c.prepare(\"UPDATE heals SET state = ?\");\nspdlog::info(\"Delete nothing\");\n");
  write("tree/api/routes.cpp", "routes = {{\"DELETE /api/v1/vex/ID\"}};\n");  // a route, not SQL
  write("baseline.txt", "# comment\nheal/engine.cpp 1  # why it stays\n");
  auto ok = check(dir / "tree", dir / "baseline.txt");
  INFO(ok.out);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("1 SQL statement(s) outside repositories in 1 file(s)"));

  write("tree/api/api.cpp", "auto q = c.prepare(\"SELECT * FROM heals\");\n");
  auto added = check(dir / "tree", dir / "baseline.txt");
  CHECK(added.exit_code == 1);
  CHECK_THAT(added.out, Catch::Contains("api/api.cpp: 1 SQL statement(s), 0 allowed"));
  std::filesystem::remove(dir / "tree/api/api.cpp");

  write("tree/heal/engine.cpp", "// moved out\n");
  auto moved = check(dir / "tree", dir / "baseline.txt");
  CHECK(moved.exit_code == 1);  // the baseline must come down with it
  CHECK_THAT(moved.out,
             Catch::Contains("heal/engine.cpp: 0 SQL statement(s) where the baseline says 1"));

  write("baseline.txt", "heal/engine.cpp one\n");
  CHECK(check(dir / "tree", dir / "baseline.txt").exit_code == 1);
}
