// The component layers (docs/architecture.md): the tree as it is passes the include check, and
// the check names an include that points up or sideways.
#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;

namespace {
ProcessResult check(const std::filesystem::path& tree) {
  return test::run(
      {"python3", (test::source_dir() / "scripts" / "check-layers.py").string(), tree.string()});
}
}  // namespace

TEST_CASE("the appliance's includes follow the component layers", "[build][layers]") {
  auto r = check(test::source_dir() / "appliance");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("an include that points up or sideways fails the check, naming file, line and rule",
          "[build][layers]") {
  test::TempDir dir;
  auto write = [&](const std::string& rel, const std::string& text) {
    std::filesystem::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel) << text;
  };
  write("core/a.hpp", "#pragma once\n");
  write("store/s.cpp", "#include \"core/a.hpp\"\n#include \"store/s.hpp\"\n");
  write("heal/h.cpp", "#include \"store/s.hpp\"\n#include \"scan/x.hpp\"\n");
  REQUIRE(check(dir.path()).exit_code == 0);  // down only: fine

  write("store/bad.cpp", "// a comment\n#include \"heal/engine.hpp\"\n");
  auto up = check(dir.path());
  CHECK(up.exit_code == 1);
  CHECK_THAT(up.err, Catch::Contains("store/bad.cpp:2 includes heal/") &&
                         Catch::Contains("'store' may use only core"));
  std::filesystem::remove(dir / "store/bad.cpp");

  write("scan/side.cpp", "#include \"snapshot/format.hpp\"\n");  // same floor: sideways
  auto side = check(dir.path());
  CHECK(side.exit_code == 1);
  CHECK_THAT(side.err, Catch::Contains("scan/side.cpp:1 includes snapshot/"));
  std::filesystem::remove(dir / "scan/side.cpp");

  write("newthing/n.cpp", "#include \"core/a.hpp\"\n");  // a folder nobody placed
  CHECK_THAT(check(dir.path()).err,
             Catch::Contains("component 'newthing' is not in the layer table"));
}
