#include "advisory/advisory.hpp"

#include <catch2/catch.hpp>

#include "advisory/advisory_repository.hpp"
#include "core/fs.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::advisory;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {
fsys::path data(const std::string& rel) {
  return fsys::path(AIRHEAL_SOURCE_DIR) / "tests" / "data" / rel;
}
json affected_with(json ranges, json versions = json::array()) {
  json a{{"package", {{"ecosystem", "Go"}, {"name", "example.com/m"}}}, {"ranges", ranges}};
  if (!versions.empty()) a["versions"] = versions;
  return a;
}
}  // namespace

TEST_CASE("every real Go vulndb record parses, withdrawn and aliases are kept", "[advisory][osv]") {
  std::size_t n = 0, withdrawn = 0, aliased = 0;
  for (const auto& e : fsys::directory_iterator(data("osv-go"))) {
    if (e.path().extension() != ".json") continue;
    auto bytes = fs::read_file(e.path(), 1 << 24);
    REQUIRE(bytes);
    INFO(e.path().filename());
    CHECK(detect_format(e.path().filename().string(), *bytes) == Format::osv);
    auto a = parse_osv(*bytes, e.path().filename().string());
    REQUIRE(a);
    ++n;
    withdrawn += !a->withdrawn.empty();
    aliased += !a->aliases.empty();
    CHECK(a->id == e.path().stem().string());
  }
  CHECK(n == 233);
  CHECK(withdrawn == 17);
  CHECK(aliased > 100);
}

TEST_CASE("OSV evaluation follows the spec's event walk", "[advisory][osv]") {
  auto simple = affected_with(json::array(
      {{{"type", "SEMVER"}, {"events", {{{"introduced", "0"}}, {{"fixed", "1.2.0"}}}}}}));
  CHECK(osv_evaluate(simple, "Go", "1.1.9") == Verdict::affected);
  CHECK(osv_evaluate(simple, "Go", "v1.1.9") == Verdict::affected);
  CHECK(osv_evaluate(simple, "Go", "1.2.0") == Verdict::not_affected);
  CHECK(osv_evaluate(simple, "Go", "1.2.0-rc.1") == Verdict::affected);

  // Two windows, events deliberately out of order.
  auto windows = affected_with(json::array({{{"type", "SEMVER"},
                                             {"events",
                                              {{{"fixed", "2.9.4"}},
                                               {{"introduced", "2.9.0"}},
                                               {{"introduced", "0"}},
                                               {{"fixed", "2.8.6"}}}}}}));
  CHECK(osv_evaluate(windows, "Go", "2.8.5") == Verdict::affected);
  CHECK(osv_evaluate(windows, "Go", "2.8.6") == Verdict::not_affected);
  CHECK(osv_evaluate(windows, "Go", "2.8.9") == Verdict::not_affected);
  CHECK(osv_evaluate(windows, "Go", "2.9.0") == Verdict::affected);
  CHECK(osv_evaluate(windows, "Go", "2.9.4") == Verdict::not_affected);

  auto last = affected_with(
      json::array({{{"type", "SEMVER"},
                    {"events", {{{"introduced", "1.0.0"}}, {{"last_affected", "1.4.2"}}}}}}));
  CHECK(osv_evaluate(last, "Go", "0.9.0") == Verdict::not_affected);
  CHECK(osv_evaluate(last, "Go", "1.4.2") == Verdict::affected);
  CHECK(osv_evaluate(last, "Go", "1.4.3") == Verdict::not_affected);

  auto limited = affected_with(json::array(
      {{{"type", "SEMVER"}, {"events", {{{"introduced", "0"}}, {{"limit", "3.0.0"}}}}}}));
  CHECK(osv_evaluate(limited, "Go", "2.5.0") == Verdict::affected);
  CHECK(osv_evaluate(limited, "Go", "3.0.0") == Verdict::not_affected);

  auto listed = affected_with(json::array(), json::array({"0.5.0"}));
  listed.erase("ranges");
  CHECK(osv_evaluate(listed, "Go", "0.5.0") == Verdict::affected);
  CHECK(osv_evaluate(listed, "Go", "0.5.1") == Verdict::not_affected);

  json debian{
      {"package", {{"ecosystem", "Debian:12"}, {"name", "openssl"}}},
      {"ranges",
       json::array({{{"type", "ECOSYSTEM"},
                     {"events", {{{"introduced", "0"}}, {{"fixed", "3.0.11-1~deb12u2"}}}}}})}};
  CHECK(osv_evaluate(debian, "Debian:12", "3.0.11-1~deb12u1") == Verdict::affected);
  CHECK(osv_evaluate(debian, "Debian:12", "3.0.11-1~deb12u2") == Verdict::not_affected);
  CHECK(osv_evaluate(debian, "Debian:12", "3.0.11-1") == Verdict::not_affected);

  json pypi{{"package", {{"ecosystem", "PyPI"}, {"name", "x"}}},
            {"ranges", json::array({{{"type", "ECOSYSTEM"},
                                     {"events", {{{"introduced", "0"}}, {{"fixed", "1.0"}}}}}})}};
  CHECK(osv_evaluate(pypi, "PyPI", "0.9") == Verdict::affected);  // PEP 440 order
  CHECK(osv_evaluate(pypi, "PyPI", "1.0rc1") == Verdict::affected);
  CHECK(osv_evaluate(pypi, "PyPI", "1.0.post1") == Verdict::not_affected);
  CHECK(osv_evaluate(pypi, "PyPI", "not a version") == Verdict::unknown);
  json maven{{"package", {{"ecosystem", "Maven"}, {"name", "x:y"}}},
             {"ranges", json::array({{{"type", "ECOSYSTEM"},
                                      {"events", {{{"introduced", "0"}}, {{"fixed", "1.0"}}}}}})}};
  CHECK(osv_evaluate(maven, "Maven", "0.9") == Verdict::affected);  // ComparableVersion order
  CHECK(osv_evaluate(maven, "Maven", "1.0-SNAPSHOT") == Verdict::affected);
  CHECK(osv_evaluate(maven, "Maven", "1.0.0.Final") == Verdict::not_affected);
  json hackage{
      {"package", {{"ecosystem", "Hackage"}, {"name", "x"}}},
      {"ranges", json::array({{{"type", "ECOSYSTEM"},
                               {"events", {{{"introduced", "0"}}, {{"fixed", "1.0"}}}}}})}};
  CHECK(osv_evaluate(hackage, "Hackage", "0.9") == Verdict::unknown);  // an order airheal lacks
}

TEST_CASE("OSV evaluation of a real record (GO-2024-2916, harbor)", "[advisory][osv]") {
  auto a =
      parse_osv(*fs::read_file(data("osv-go/GO-2024-2916.json"), 1 << 20), "GO-2024-2916.json");
  REQUIRE(a);
  REQUIRE(a->affected.size() == 1);
  const auto& af = a->affected[0].data;
  CHECK(osv_evaluate(af, "Go", "2.8.5+incompatible") == Verdict::affected);
  CHECK(osv_evaluate(af, "Go", "2.8.6+incompatible") == Verdict::not_affected);
  CHECK(osv_evaluate(af, "Go", "2.9.1+incompatible") == Verdict::affected);
  CHECK(osv_evaluate(af, "Go", "2.10.2+incompatible") == Verdict::not_affected);
  CHECK(std::find(a->aliases.begin(), a->aliases.end(), "CVE-2024-22261") != a->aliases.end());
}

TEST_CASE("malformed OSV records are refused with the field named", "[advisory][osv]") {
  auto check = [](const std::string& doc, const std::string& expect) {
    auto r = parse_osv(doc, "x.json");
    INFO(doc);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains(expect));
  };
  check("{", "not valid JSON");
  check("[]", "JSON object");
  check(R"({"modified":"2024-01-01T00:00:00Z"})", "'id'");
  check(R"({"id":"X-1","modified":"t","affected":"nope"})", "'affected' must be an array");
  check(R"({"id":"X-1","modified":"t","aliases":[1]})", "'aliases'");
  check(
      R"({"id":"X-1","modified":"t","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"fixed":"1.0.0"}]}]}]})",
      "no introduced event");
  check(
      R"({"id":"X-1","modified":"t","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]})",
      "exactly one of");
  check(
      R"({"id":"X-1","modified":"t","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"banana"}]}]}]})",
      "not a semantic version");
  check(
      R"({"id":"X-1","modified":"t","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"RPM","events":[{"introduced":"0"}]}]}]})",
      "is not SEMVER, ECOSYSTEM or GIT");
  check(R"({"id":"X-1","modified":"t","severity":[{"type":"CVSS_V3"}]})", "severity");
}

TEST_CASE("Debian security tracker JSON keeps status, fixed version, urgency and nodsa",
          "[advisory][debian]") {
  std::string doc = R"({
    "openssl": {
      "CVE-2023-5678": {"description": "DH checks are slow", "scope": "local",
        "releases": {
          "bookworm": {"status": "resolved", "repositories": {"bookworm": "3.0.11-1~deb12u2"}, "fixed_version": "3.0.11-1~deb12u2", "urgency": "not yet assigned", "nodsa": "Minor issue", "nodsa_reason": "postponed"},
          "bullseye": {"status": "open", "repositories": {"bullseye": "1.1.1w-0+deb11u1"}, "urgency": "low"},
          "trixie": {"status": "resolved", "fixed_version": "0", "urgency": "not yet assigned"}}}},
    "curl": {
      "CVE-2023-5678": {"releases": {"bookworm": {"status": "undetermined", "urgency": "unimportant"}}},
      "CVE-2023-38545": {"description": "SOCKS5 heap overflow", "releases": {"bookworm": {"status": "resolved", "fixed_version": "7.88.1-10+deb12u4", "urgency": "high"}}}}
  })";
  REQUIRE(detect_format("debian.json", doc) == Format::debian_tracker);
  auto all = parse_debian_tracker(doc, "debian.json");
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  const auto& a = (*all)[1].id == "CVE-2023-5678" ? (*all)[1] : (*all)[0];
  CHECK(a.id == "CVE-2023-5678");
  CHECK(a.affected.size() == 4);  // openssl x3 releases, curl x1
  const Affected* bookworm = nullptr;
  for (const auto& x : a.affected)
    if (x.ecosystem == "Debian:bookworm" && x.package == "openssl") bookworm = &x;
  REQUIRE(bookworm);
  CHECK(bookworm->data["nodsa"] == "Minor issue");
  CHECK(bookworm->data["nodsa_reason"] == "postponed");
  CHECK(debian_evaluate(bookworm->data, "3.0.11-1~deb12u1") == Verdict::affected);
  CHECK(debian_evaluate(bookworm->data, "3.0.11-1~deb12u2") == Verdict::not_affected);
  for (const auto& x : a.affected) {
    if (x.ecosystem == "Debian:trixie")
      CHECK(debian_evaluate(x.data, "1.0") == Verdict::not_affected);  // "0": never affected
    if (x.ecosystem == "Debian:bullseye")
      CHECK(debian_evaluate(x.data, "1.1.1w-0+deb11u1") == Verdict::affected);
  }
  CHECK_FALSE(parse_debian_tracker(
      R"({"openssl": {"CVE-1": {"releases": {"bookworm": {"status": "fixed"}}}}})", "d.json"));
  CHECK_FALSE(parse_debian_tracker(
      R"({"openssl": {"CVE-1": {"releases": {"bookworm": {"status": "resolved"}}}}})", "d.json"));
  CHECK_FALSE(parse_debian_tracker(R"({"openssl": []})", "d.json"));
}

TEST_CASE("Alpine secdb (real v3.10 main) parses into per-CVE advisories", "[advisory][alpine]") {
  auto bytes = fs::read_file(data("alpine-secdb/v3.10-main.yaml"), 1 << 24);
  REQUIRE(bytes);
  REQUIRE(detect_format("v3.10-main.yaml", *bytes) == Format::alpine_secdb);
  auto all = parse_alpine_secdb(*bytes, "v3.10-main.yaml");
  REQUIRE(all);
  CHECK(all->size() > 500);
  bool found = false;
  for (const auto& a : *all)
    for (const auto& x : a.affected) {
      CHECK(x.ecosystem == "Alpine:v3.10");
      found = found || (x.package == "openssl" && a.id.rfind("CVE-", 0) == 0);
    }
  CHECK(found);
  CHECK_FALSE(parse_alpine_secdb("distroversion: v3.10\npackages: 5\n", "bad.yaml"));
  CHECK_FALSE(parse_alpine_secdb("{{{", "bad.yaml"));
}

TEST_CASE("the advisory database replaces a channel's state and finds by id, alias and package",
          "[advisory][db]") {
  test::TempDir dir;
  auto store = store::Store::open(dir.path());
  REQUIRE(store);
  std::vector<Advisory> all;
  for (auto id : {"GO-2024-2916", "GO-2024-3228"})
    all.push_back(
        *parse_osv(*fs::read_file(data(std::string("osv-go/") + id + ".json"), 1 << 20), id));
  (*store)->transaction([&](sqlite::Connection& c) { replace_channel(c, "go", all); });
  (*store)->read([&](sqlite::Connection& c) {
    CHECK(find(c, "GO-2024-2916").size() == 1);
    CHECK(find(c, "CVE-2024-22261").size() == 1);
    CHECK(for_package(c, "Go", "github.com/goharbor/harbor").size() == 1);
    CHECK(find(c, "GO-0000-0000").empty());
  });
  all.pop_back();
  all.erase(all.begin());
  (*store)->transaction([&](sqlite::Connection& c) { replace_channel(c, "go", all); });
  (*store)->read([&](sqlite::Connection& c) {
    CHECK(find(c, "GO-2024-2916").empty());
    CHECK(find(c, "CVE-2024-22261").empty());
  });
}

TEST_CASE("hostile advisory documents are refused with one line, never a crash",
          "[advisory][hostile]") {
  auto deep = [](int n) {
    return "{\"id\":\"GO-1\",\"modified\":\"2024-01-01T00:00:00Z\",\"database_specific\":" +
           std::string(n, '[') + std::string(n, ']') + "}";
  };
  struct Case {
    const char* what;
    advisory::Format format;
    std::string bytes;
    const char* expect;
  };
  std::string laughs = "distroversion: v3.10\nreponame: main\na0: &a0 [x,x,x,x,x,x,x,x,x,x]\n";
  for (int i = 1; i <= 8; ++i)
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" +
              std::to_string(i - 1) + ",*a" + std::to_string(i - 1) + ",*a" +
              std::to_string(i - 1) + ",*a" + std::to_string(i - 1) + ",*a" +
              std::to_string(i - 1) + ",*a" + std::to_string(i - 1) + ",*a" +
              std::to_string(i - 1) + ",*a" + std::to_string(i - 1) + ",*a" +
              std::to_string(i - 1) + ",*a" + std::to_string(i - 1) + "]\n";
  laughs += "packages: []\n";
  const std::vector<Case> cases = {
      {"OSV nested 100,000 levels", advisory::Format::osv, deep(100000),
       "nests deeper than 64 levels"},
      {"tracker nested 100,000 levels", advisory::Format::debian_tracker,
       std::string(100000, '[') + std::string(100000, ']'), "nests deeper"},
      {"OSV with a duplicate id", advisory::Format::osv,
       R"({"id":"GO-1","id":"GO-2","modified":"2024-01-01T00:00:00Z"})", "duplicate key"},
      {"OSV id of 900 KB", advisory::Format::osv,
       "{\"id\":\"" + std::string(900000, 'A') + "\",\"modified\":\"2024-01-01T00:00:00Z\"}",
       "printable ASCII"},
      {"OSV id with a newline", advisory::Format::osv,
       R"({"id":"GO-1\nX","modified":"2024-01-01T00:00:00Z"})", "printable ASCII"},
      {"Alpine secdb billion laughs", advisory::Format::alpine_secdb, laughs,
       "expands to more than"},
      {"Alpine secdb nested 10,000 levels", advisory::Format::alpine_secdb,
       std::string(10000, '[') + std::string(10000, ']'), "nests deeper"},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      auto r = advisory::parse(c.format, c.bytes, "x");
      REQUIRE_FALSE(r);
      CHECK_THAT(r.error().message, Catch::StartsWith("advisory x: ") && Catch::Contains(c.expect));
    }
  }
}
