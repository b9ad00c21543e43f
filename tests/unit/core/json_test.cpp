#include "core/json.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace airheal;

TEST_CASE("bounded JSON parsing accepts ordinary documents unchanged", "[json]") {
  auto text = R"({"a": [1, 2.5, "x", null, true, {"b": {"c": []}}], "d": {}})";
  auto j = parse_json(text);
  REQUIRE(j);
  CHECK(*j == nlohmann::json::parse(text));
  CHECK(parse_json("[]", {64, 1, false}));
  CHECK(parse_json("\"just a string\""));
}

TEST_CASE("bounded JSON parsing refuses hostile documents with one line", "[json][hostile]") {
  struct Case {
    const char* what;
    std::string text;
    JsonLimits limits;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"100,000 nested arrays",
       std::string(100000, '[') + std::string(100000, ']'),
       {},
       "nests deeper than 128 levels"},
      {"100,000 nested objects",
       [] {
         std::string s;
         for (int i = 0; i < 100000; ++i) s += "{\"a\":";
         return s + "1" + std::string(100000, '}');
       }(),
       {},
       "nests deeper than 128 levels"},
      {"30 MiB of [", std::string(30u << 20, '['), {}, "nests deeper"},
      {"depth 3 under a limit of 2", "[[[1]]]", {64, 2, false}, "nests deeper than 2 levels"},
      {"a duplicate key", R"({"id":"a","id":"b"})", {}, "duplicate key \"id\""},
      {"a duplicate key deep inside", R"({"x":[{"k":1,"k":2}]})", {}, "duplicate key \"k\""},
      {"over the size limit", std::string(100, ' ') + "1", {50, 8, false}, "over the limit of 50"},
      {"truncated", R"({"a": [1, 2)", {}, "not valid JSON"},
      {"trailing garbage", R"({} x)", {}, "not valid JSON"},
      {"empty", "", {}, "not valid JSON"},
      {"invalid UTF-8", "\"\xff\xfe\"", {}, "not valid JSON"},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      auto r = parse_json(c.text, c.limits, "the record");
      REQUIRE_FALSE(r);
      CHECK_THAT(r.error().message, Catch::StartsWith("the record") && Catch::Contains(c.expect));
      CHECK(r.error().message.find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("duplicate keys can be allowed for data airheal wrote itself", "[json]") {
  auto j = parse_json(R"({"a":1,"a":2})", {1024, 8, true});
  REQUIRE(j);
  CHECK((*j)["a"] == 2);
  // The same key in sibling objects is not a duplicate.
  CHECK(parse_json(R"([{"a":1},{"a":2}])"));
}

TEST_CASE("string lists are read back leniently", "[json]") {
  auto j = nlohmann::json::parse(R"({"a": ["x", 1, "y", null], "b": "not a list"})");
  CHECK(string_list(j, "a") == std::vector<std::string>{"x", "y"});
  CHECK(string_list(j, "b").empty());
  CHECK(string_list(j, "missing").empty());
  CHECK(string_list(nlohmann::json::array(), "a").empty());
}
