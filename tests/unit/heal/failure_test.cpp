#include "heal/failure.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;

TEST_CASE("Package manager failures are classified and their own error lines kept",
          "[heal][failure]") {
  auto dir = std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/debian/failures/";
  std::ifstream in(dir + "expected.txt");
  REQUIRE(in);
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string file, cls, bar;
    ls >> file >> cls >> bar;
    std::string must;
    std::getline(ls, must);
    must = must.substr(must.find_first_not_of(' '));
    auto out = fs::read_file(dir + file, 1 << 20);
    REQUIRE(out);
    auto f = classify_output(*out);
    INFO(file << "\n" << f.lines);
    CHECK(to_slug(f.cls) == cls);
    CHECK(f.lines.find(must) != std::string::npos);
    // The noise around the error is not what the heal reports.
    CHECK(f.lines.find("debconf: ") == std::string::npos);
    CHECK(f.lines.find("Setting up") == std::string::npos);
    CHECK(f.lines.find("Error: while running runtime") == std::string::npos);
    CHECK(f.summary().find('\n') == std::string::npos);
    CHECK(f.summary().rfind(to_string(f.cls), 0) == 0);
    ++cases;
  }
  CHECK(cases == 4);
}

TEST_CASE("A timeout is a timeout whatever was printed, unknown output is a build failure",
          "[heal][failure]") {
  CHECK(classify_output("Unpacking foo ...\n", true).cls == FailureClass::timeout);
  auto f = classify_output("something went wrong\n");
  CHECK(f.cls == FailureClass::build_failed);
  CHECK(f.lines.empty());
  for (auto c : {FailureClass::dependency_problem, FailureClass::maintainer_script_failed,
                 FailureClass::no_space, FailureClass::timeout, FailureClass::test_failed,
                 FailureClass::smoke_test_failed, FailureClass::build_failed})
    CHECK(failure_class_from_slug(to_slug(c)) == c);
  CHECK(failure_class_from_slug("nonsense") == FailureClass::none);
}

TEST_CASE("Error lines are bounded", "[heal][failure][hostile]") {
  std::string noisy;
  for (int i = 0; i < 10000; ++i) noisy += "E: broken " + std::to_string(i) + "\n";
  auto f = classify_output(noisy);
  CHECK(f.lines.size() <= 4200);
  CHECK(f.lines.ends_with("..."));
}
