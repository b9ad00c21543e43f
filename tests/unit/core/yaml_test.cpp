#include "core/yaml.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace airheal;

namespace {
// "Billion laughs": each level has ten aliases of the one before; 9 levels expand to 10^9 nodes.
std::string laughs(int levels) {
  std::string s =
      "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (int i = 1; i <= levels; ++i) {
    s += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) s += std::string(k ? "," : "") + "*a" + std::to_string(i - 1);
    s += "]\n";
  }
  return s;
}
}  // namespace

TEST_CASE("YAML within limits passes, including a few aliases", "[yaml]") {
  CHECK(
      check_yaml("distroversion: v3.10\npackages:\n  - pkg:\n      name: openssl\n      "
                 "secfixes:\n        1.1.1d-r0:\n          - CVE-2019-1547\n"));
  CHECK(check_yaml(laughs(2)));  // 100 nodes
}

TEST_CASE("YAML that expands, nests or is too large is refused before it is loaded",
          "[yaml][hostile]") {
  struct Case {
    const char* what;
    std::string text;
    YamlLimits limits;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"billion laughs (60 KB -> 10^9 nodes)", laughs(9), {}, "expands to more than"},
      {"alias count",
       [] {
         std::string s = "a: &a x\nb: [";
         for (int i = 0; i < 2000; ++i) s += std::string(i ? "," : "") + "*a";
         return s + "]\n";
       }(),
       {},
       "more than 1000 aliases"},
      {"deep flow nesting",
       std::string(1000, '[') + std::string(1000, ']'),
       {},
       "nests deeper than 64 levels"},
      {"deep block nesting",
       [] {
         std::string s;
         for (int i = 0; i < 100; ++i)
           s += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k:\n";
         return s;
       }(),
       {},
       "nests deeper than 64 levels"},
      {"over the size limit",
       std::string(200, 'a'),
       {100, 64, 1000, 1000},
       "over the limit of 100"},
      {"not YAML", "a: [1, 2\nb: {", {}, "not valid YAML"},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      auto st = check_yaml(c.text, c.limits, "the secdb");
      REQUIRE_FALSE(st);
      CHECK_THAT(st.error().message, Catch::StartsWith("the secdb") && Catch::Contains(c.expect));
    }
  }
}
