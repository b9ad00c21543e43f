// Choosing the fixed npm release from a packument. Shapes as registry.npmjs.org serves them; the
// integrity strings are made up (the integration test checks real tarballs against real ones).
#include "collect/npm.hpp"

#include <catch2/catch.hpp>

using namespace airheal::collect;
using json = nlohmann::json;

namespace {
json npm_version_entry(const std::string& v, const std::string& integrity = "sha512-AAAA") {
  return {
      {"version", v},
      {"dist",
       {{"tarball", "https://registry.npmjs.org/m/-/m-" + v + ".tgz"}, {"integrity", integrity}}}};
}
}  // namespace

TEST_CASE("The lowest npm release at or above the fix is chosen in node-semver order",
          "[collect]") {
  json doc = {{"name", "m"},
              {"versions",
               {{"1.2.5", npm_version_entry("1.2.5")},
                {"1.2.10", npm_version_entry("1.2.10")},
                {"1.2.6", npm_version_entry("1.2.6", "sha1-legacy")},  // no sha512: skipped
                {"1.2.7", npm_version_entry("1.2.7")},
                {"1.3.0-beta.1", npm_version_entry("1.3.0-beta.1")}}}};
  auto r = choose_npm_release(doc, "m", "1.2.6");
  REQUIRE(r);
  CHECK(r->version == "1.2.7");
  CHECK(r->tarball == "https://registry.npmjs.org/m/-/m-1.2.7.tgz");
  auto none = choose_npm_release(doc, "m", "2.0.0");
  REQUIRE_FALSE(none);
  CHECK(none.error().message ==
        "npm m: the newest release is 1.2.10, older than 2.0.0 that fixes it "
        "(or no release at or above it has a sha512 integrity)");
  CHECK_FALSE(choose_npm_release(json{{"name", "other"}, {"versions", doc["versions"]}}, "m", "1"));
  CHECK_FALSE(choose_npm_release(json::array(), "m", "1"));
  json file_url = {
      {"name", "m"},
      {"versions",
       {{"9.0.0", {{"dist", {{"tarball", "file:///etc/passwd"}, {"integrity", "sha512-AAAA"}}}}}}}};
  CHECK_FALSE(choose_npm_release(file_url, "m", "1"));

  CHECK(valid_npm_name("minimist"));
  CHECK(valid_npm_name("@babel/traverse"));
  CHECK(npm_packument_path("@babel/traverse") == "@babel%2ftraverse");
  for (const char* bad : {"", "Upper", "../x", "@a/b/c", ".hidden", "a b", "@/x"})
    CHECK_FALSE(valid_npm_name(bad));
}
