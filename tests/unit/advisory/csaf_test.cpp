// CSAF 2.0 documents: two real Red Hat advisories and two VEX examples from the OASIS CSAF TC's
// repository (tests/data/csaf/LICENSE.md), and one made-up VEX document (it says so in its notes)
// with purls in Red Hat's current form and for Alpine, valid against the official CSAF 2.0 JSON
// schema (checked here with python-jsonschema).
#include <catch2/catch.hpp>
#include <map>

#include "advisory/advisory.hpp"
#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::advisory;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

fsys::path csaf_data(const std::string& name) {
  return fsys::path(AIRHEAL_SOURCE_DIR) / "tests/data/csaf" / name;
}

std::vector<Advisory> parse_csaf_file(const std::string& name) {
  auto bytes = fs::read_file(csaf_data(name), 1 << 24);
  REQUIRE(bytes);
  CHECK(detect_format(name, *bytes) == Format::csaf);
  auto r = parse(Format::csaf, *bytes, name);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

std::map<std::string, const Affected*> by_key(const Advisory& a) {
  std::map<std::string, const Affected*> out;
  for (const auto& x : a.affected) out[x.ecosystem + "/" + x.package] = &x;
  return out;
}

}  // namespace

TEST_CASE("A real Red Hat CSAF advisory: RPM products named by NEVRA, releases from CPEs",
          "[advisory][csaf]") {
  auto advs = parse_csaf_file("rhsa-2022_0011.json");
  REQUIRE(advs.size() == 1);
  const auto& a = advs[0];
  CHECK(a.id == "CVE-2020-10188");
  CHECK(a.aliases == std::vector<std::string>{"RHSA-2022:0011"});
  CHECK(to_string(a.source) == std::string("csaf"));
  auto k = by_key(a);
  // Three platforms (AUS, E4S, TUS) of RHEL 7.6, one release; three binary packages and the source.
  REQUIRE(k.size() == 3);
  for (auto pkg : {"telnet", "telnet-server", "telnet-debuginfo"}) {
    INFO(pkg);
    auto it = k.find(std::string("Red Hat:7.6/") + pkg);
    REQUIRE(it != k.end());
    CHECK(it->second->data["ranges"][0]["events"][1]["fixed"] == "1:0.17-65.el7_6");
    CHECK(osv_evaluate(it->second->data, "Red Hat:7.6", "1:0.17-64.el7") == Verdict::affected);
    CHECK(osv_evaluate(it->second->data, "Red Hat:7.6", "1:0.17-65.el7_6") ==
          Verdict::not_affected);
  }
  CHECK(a.document["impact"].is_string());
}

TEST_CASE("CSAF products that name no package are left out, VEX statuses are read",
          "[advisory][csaf]") {
  // Container images named only by repository and tag: no package, nothing to match.
  for (const auto& a : parse_csaf_file("rhsa-2021_5186.json")) CHECK(a.affected.empty());
  // The OASIS VEX examples: a product with neither purl nor an rpm name.
  for (auto f : {"2022-evd-uc-01-f-001.json", "2022-evd-uc-01-na-001.json"}) {
    auto advs = parse_csaf_file(f);
    REQUIRE(advs.size() == 1);
    CHECK(advs[0].id == "CVE-2021-44228");
    CHECK(advs[0].affected.empty());
  }
}

TEST_CASE("CSAF purls: epochs, releases, fixed ranges, affected versions, not-affected products",
          "[advisory][csaf]") {
  auto schema = test::run(
      {"python3",
       (fsys::path(AIRHEAL_SOURCE_DIR) / "tests/support/validate_json_schema.py").string(),
       csaf_data("csaf_json_schema.json").string(),
       csaf_data("airheal-made-up-openssl-vex.json").string()});
  INFO(schema.out << schema.err);
  CHECK(schema.exit_code == 0);
  auto advs = parse_csaf_file("airheal-made-up-openssl-vex.json");
  REQUIRE(advs.size() == 2);
  const auto& a = advs[0];
  CHECK(a.id == "CVE-2021-3449");
  CHECK(a.aliases == std::vector<std::string>{"AIRHEAL-TEST-2021-0001"});
  CHECK(a.document["impact"] == "Important");
  auto k = by_key(a);
  REQUIRE(k.size() == 2);  // musl is known_not_affected: no element
  const auto& alpine = k.at("Alpine:v3.10/openssl")->data;
  CHECK(alpine["ranges"][0]["events"][1]["fixed"] == "1.1.1k-r0");
  CHECK(alpine["versions"] == json::array({"1.1.1d-r0"}));
  CHECK(osv_evaluate(alpine, "Alpine:v3.10", "1.1.1d-r0") == Verdict::affected);
  CHECK(osv_evaluate(alpine, "Alpine:v3.10", "1.1.1j-r0") == Verdict::affected);
  CHECK(osv_evaluate(alpine, "Alpine:v3.10", "1.1.1k-r0") == Verdict::not_affected);
  const auto& rhel = k.at("Red Hat:8/openssl-libs")->data;
  CHECK(rhel["ranges"][0]["events"][1]["fixed"] == "1:1.1.1g-15.el8_3");
  CHECK(osv_evaluate(rhel, "Red Hat:8", "1:1.1.1g-12.el8_3") == Verdict::affected);
  CHECK(osv_evaluate(rhel, "Red Hat:8", "1:1.1.1k-7.el8_6") == Verdict::not_affected);
  CHECK(advs[1].id == "CVE-2021-3450");
  CHECK(advs[1].affected.size() == 1);
}

TEST_CASE("Malformed CSAF documents are refused with the reason", "[advisory][csaf]") {
  struct Case {
    const char* what;
    std::string doc;
    const char* message;
  };
  std::string deep(200, '[');
  for (const auto& c : std::vector<Case>{
           {"not an object", "[1, 2]", "a JSON object with a 'document' object"},
           {"CSAF 1.0", R"({"document": {"csaf_version": "1.0"}})", "csaf_version must be \"2.0\""},
           {"no tracking id", R"({"document": {"csaf_version": "2.0", "tracking": {}}})",
            "tracking.id"},
           {"status not an object",
            R"({"document": {"csaf_version": "2.0", "tracking": {"id": "X"}},
                "vulnerabilities": [{"cve": "CVE-1", "product_status": []}]})",
            "product_status must be an object"},
           {"ids not strings",
            R"({"document": {"csaf_version": "2.0", "tracking": {"id": "X"}},
                "vulnerabilities": [{"cve": "CVE-1", "product_status": {"fixed": [1]}}]})",
            "product ids must be strings"},
           {"nested too deep", R"({"document": )" + deep, "nest"},
           {"duplicate keys", R"({"document": {"csaf_version": "2.0", "csaf_version": "2.0"}})",
            "duplicate"},
       }) {
    INFO(c.what);
    auto r = parse_csaf(c.doc, "doc.json");
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK(r.error().message.find(c.message) != std::string::npos);
  }
}
