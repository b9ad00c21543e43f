// Every source file is tested (scripts/check-tests.py): the tree as it is passes, and a source
// file without a test, a listed test that does not exist and a stale line each fail it.
#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;

namespace {
ProcessResult check_tests(const std::filesystem::path& root) {
  return test::run(
      {"python3", (test::source_dir() / "scripts" / "check-tests.py").string(), root.string()});
}
}  // namespace

TEST_CASE("every source file of the tree has a unit test or a listed covering test", "[build]") {
  auto r = check_tests(test::source_dir());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("a source file without a test, a missing test and a stale line fail the test check",
          "[build]") {
  test::TempDir dir;
  auto write = [&](const std::string& rel, const std::string& text) {
    std::filesystem::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel) << text;
  };
  write("appliance/scan/match.cpp", "");
  write("tests/unit/scan/match_test.cpp", "");
  write("appliance/api/api.cpp", "");
  write("tests/integration/api_test.cpp",
        "TEST_CASE(\n    \"REST API and dashboard \"\n    \"agree\",\n    \"[integration]\") {}\n");
  auto doc = [&](const std::string& rows) {
    write("docs/architecture.md",
          "# Architecture\n\n### Files tested through other tests\n\n| Source file | Tested by "
          "|\n|---|---|\n" +
              rows + "\n## Next\n");
  };
  doc("| `api/api.cpp` | integration: REST API and dashboard agree |\n");
  auto ok = check_tests(dir.path());
  INFO(ok.out);
  CHECK(ok.exit_code == 0);  // the name is joined from its string literals

  write("appliance/heal/rebase.cpp", "");
  auto untested = check_tests(dir.path());
  CHECK(untested.exit_code == 1);
  CHECK_THAT(untested.out, Catch::Contains("appliance/heal/rebase.cpp: no "
                                           "tests/unit/heal/rebase_test.cpp"));

  doc("| `api/api.cpp` | integration: REST API agrees |\n| `heal/rebase.cpp` | "
      "`tests/unit/heal/engine_test.cpp` |\n");
  auto missing = check_tests(dir.path());
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.out, Catch::Contains("no integration test case named 'REST API agrees'"));
  CHECK_THAT(missing.out, Catch::Contains("tests/unit/heal/engine_test.cpp does not exist"));

  doc("| `api/api.cpp` | integration: REST API and dashboard agree |\n| `heal/rebase.cpp` | "
      "`tests/unit/scan/match_test.cpp` |\n| `scan/match.cpp` | `tests/unit/scan/match_test.cpp` "
      "|\n| `gone.cpp` | `tests/unit/scan/match_test.cpp` |\n");
  auto stale = check_tests(dir.path());
  CHECK(stale.exit_code == 1);
  CHECK_THAT(stale.out, Catch::Contains("scan/match.cpp has its own unit test now"));
  CHECK_THAT(stale.out, Catch::Contains("appliance/gone.cpp does not exist"));
  CHECK_THAT(stale.out, !Catch::Contains("rebase.cpp"));

  doc("| `api/api.cpp` | integration: REST API and dashboard agree |\n");
  std::filesystem::remove(dir / "appliance/heal/rebase.cpp");
  write("tests/unit/scan/match_test.cpp", "TEST_CASE(\"a; b\", \"[scan]\") {}\n");
  auto split = check_tests(dir.path());
  CHECK(split.exit_code == 1);
  CHECK_THAT(split.out, Catch::Contains("test case 'a; b' holds a ';'"));
}
