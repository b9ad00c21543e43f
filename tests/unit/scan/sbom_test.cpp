#include "scan/sbom.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "support/test_support.hpp"

using namespace airheal;

namespace {

scan::ImageInventory sample() {
  scan::ImageInventory inv;
  inv.os = {"debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"};
  inv.layers = {"sha256:" + std::string(64, 'a')};
  auto add = [&](std::string type, std::string eco, std::string name, std::string version,
                 std::string purl, std::string source = "", std::string license = "") {
    scan::Component c;
    c.type = type;
    c.ecosystem = eco;
    c.name = name;
    c.version = version;
    c.source = source.empty() ? name : source;
    c.source_version = version;
    c.purl = purl;
    if (!license.empty()) c.licenses = {license};
    c.layer = inv.layers[0];
    c.location = "var/lib/dpkg/status";
    inv.components.push_back(c);
  };
  add("deb", "Debian", "libssl3", "3.0.11-1~deb12u2",
      "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", "openssl");
  add("golang", "Go", "stdlib", "1.19.8", "pkg:golang/stdlib@1.19.8");
  add("golang", "Go", "golang.org/x/net", "v0.0.0-20220722155237-a158d28d115b",
      "pkg:golang/golang.org/x/net@v0.0.0-20220722155237-a158d28d115b");
  add("apk", "Alpine", "musl", "1.2.4-r2", "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64", "", "MIT");
  add("deb", "Debian", "libc6", "2.36-9+deb12u4",
      "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12", "glibc");
  inv.components[0].supplier = "Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>";
  // Three licences: a CycloneDX licence list of more than two once crashed the schema check.
  inv.components[0].licenses = {"OpenSSL", "Apache-2.0", "GPL-2+ with OpenSSL exception"};
  inv.components[0].depends = {"libc6", "not-installed"};
  inv.components[4].supplier = "GNU Libc Maintainers <debian-glibc@lists.debian.org>";
  return inv;
}

scan::SbomSubject subject() {
  return {"apps/web", "sha256:" + std::string(64, 'b'), {"1.0"}, 1767225600, "0.1.0"};
}

int validate(const nlohmann::json& doc) {
  test::TempDir dir;
  auto file = dir.path() / "bom.json";
  std::ofstream(file) << doc.dump(2);
  auto schemas = std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/schemas/cyclonedx/";
  auto r =
      test::run({"/usr/bin/python3",
                 std::string(AIRHEAL_SOURCE_DIR) + "/tests/support/validate_json_schema.py",
                 schemas + "bom-1.5.SNAPSHOT.schema.json", file.string(),
                 schemas + "spdx.SNAPSHOT.schema.json", schemas + "jsf-0.82.SNAPSHOT.schema.json"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code <= 1);
  return r.exit_code;
}

// The official SPDX 2.3 JSON schema (spdx/spdx-spec, branch support/2.3).
int validate_spdx(const nlohmann::json& doc) {
  test::TempDir dir;
  auto file = dir.path() / "spdx.json";
  std::ofstream(file) << doc.dump(2);
  auto r =
      test::run({"/usr/bin/python3",
                 std::string(AIRHEAL_SOURCE_DIR) + "/tests/support/validate_json_schema.py",
                 std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/schemas/spdx/spdx-schema-2.3.json",
                 file.string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code <= 1);
  return r.exit_code;
}

}  // namespace

TEST_CASE("CycloneDX 1.5 SBOMs pass the official CycloneDX JSON schema",
          "[scan][sbom][cyclonedx]") {
  auto doc = scan::cyclonedx(sample(), subject());
  CHECK(validate(doc) == 0);
  CHECK(doc["components"].size() == 6);  // the OS and five packages
  CHECK(doc["metadata"]["component"]["purl"] ==
        "pkg:oci/web@sha256%3A" + std::string(64, 'b') + "?repository_url=apps%2Fweb&tag=1.0");
  CHECK(doc == scan::cyclonedx(sample(), subject()));  // deterministic
  // The check can fail: a document the schema rejects is rejected.
  auto broken = doc;
  broken["components"][1]["type"] = "not-a-type";
  CHECK(validate(broken) == 1);
  broken = doc;
  broken["serialNumber"] = "not-a-urn";
  CHECK(validate(broken) == 1);
}

TEST_CASE("CycloneDX components carry supplier and licences and a dependency graph",
          "[scan][sbom][cyclonedx]") {
  auto doc = scan::cyclonedx(sample(), subject());
  const auto& ssl = doc["components"][1];
  REQUIRE(ssl["name"] == "libssl3");
  CHECK(ssl["supplier"]["name"] == "Debian OpenSSL Team");
  CHECK(ssl["supplier"]["contact"][0]["email"] == "pkg-openssl-devel@alioth-lists.debian.net");
  CHECK(ssl["licenses"].size() == 3);
  CHECK(ssl["licenses"][1]["license"]["name"] == "Apache-2.0");
  std::set<std::string> refs = {"image"};
  std::function<void(const nlohmann::json&)> collect = [&](const nlohmann::json& cs) {
    for (const auto& c : cs) {
      refs.insert(c["bom-ref"].get<std::string>());
      if (c.contains("components")) collect(c["components"]);
    }
  };
  collect(doc["components"]);
  std::map<std::string, nlohmann::json> deps;
  for (const auto& d : doc["dependencies"]) {
    CHECK(refs.count(d["ref"].get<std::string>()));  // every ref names a component
    CHECK(deps.emplace(d["ref"].get<std::string>(), d["dependsOn"]).second);
    for (const auto& on : d["dependsOn"]) CHECK(refs.count(on.get<std::string>()));
  }
  CHECK(deps["component-0"] == nlohmann::json::array({"component-4"}));  // libssl3 -> libc6 only
  CHECK(deps["component-4"].empty());
  CHECK(deps["image"].size() == 6);  // the OS and the five top-level packages
  CHECK(validate(doc) == 0);
  auto sp = scan::spdx(sample(), subject());
  CHECK(sp["packages"][2]["supplier"] ==
        "Organization: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>");
  bool depends_on = false;
  for (const auto& r : sp["relationships"])
    depends_on = depends_on || (r["spdxElementId"] == "SPDXRef-Package-0" &&
                                r["relationshipType"] == "DEPENDS_ON" &&
                                r["relatedSpdxElement"] == "SPDXRef-Package-4");
  CHECK(depends_on);
  CHECK(validate_spdx(sp) == 0);
}

TEST_CASE("SPDX 2.3 SBOMs follow the specification's required fields and identifiers",
          "[scan][sbom][spdx]") {
  auto doc = scan::spdx(sample(), subject());
  CHECK(doc["spdxVersion"] == "SPDX-2.3");
  CHECK(doc["dataLicense"] == "CC0-1.0");
  CHECK(doc["SPDXID"] == "SPDXRef-DOCUMENT");
  std::string ns = doc["documentNamespace"];
  CHECK(ns.find('#') == std::string::npos);
  CHECK(ns.rfind("https://", 0) == 0);
  CHECK(std::regex_match(doc["creationInfo"]["created"].get<std::string>(),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  for (const auto& c : doc["creationInfo"]["creators"])
    CHECK(std::regex_match(c.get<std::string>(), std::regex("^(Tool|Organization|Person): .+")));
  std::set<std::string> ids = {"SPDXRef-DOCUMENT"};
  static const std::set<std::string> purposes = {
      "APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "OPERATING_SYSTEM", "DEVICE",
      "FIRMWARE",    "SOURCE",    "ARCHIVE", "FILE",      "INSTALL",          "OTHER"};
  for (const auto& p : doc["packages"]) {
    CHECK(
        std::regex_match(p["SPDXID"].get<std::string>(), std::regex("^SPDXRef-[0-9a-zA-Z.\\-]+$")));
    CHECK(ids.insert(p["SPDXID"].get<std::string>()).second);
    CHECK(p.contains("name"));
    CHECK(p.contains("downloadLocation"));
    CHECK(purposes.count(p["primaryPackagePurpose"].get<std::string>()));
    if (p.contains("externalRefs"))
      for (const auto& r : p["externalRefs"]) {
        CHECK(r["referenceCategory"] == "PACKAGE-MANAGER");
        CHECK(r["referenceType"] == "purl");
        CHECK(r["referenceLocator"].get<std::string>().rfind("pkg:", 0) == 0);
      }
  }
  CHECK(doc["packages"].size() == 7);  // image, OS, five packages
  for (const auto& r : doc["relationships"]) {
    CHECK(ids.count(r["spdxElementId"].get<std::string>()));
    CHECK(ids.count(r["relatedSpdxElement"].get<std::string>()));
  }
  CHECK(doc == scan::spdx(sample(), subject()));
  CHECK(validate_spdx(doc) == 0);
  auto broken = doc;
  broken["packages"][1]["primaryPackagePurpose"] = "OPERATING-SYSTEM";  // the old spelling
  CHECK(validate_spdx(broken) == 1);
}

TEST_CASE("Application packages an OS package owns sit inside it in both SBOM formats",
          "[scan][sbom]") {
  auto inv = sample();
  scan::Component c;
  c.type = "node-package";
  c.ecosystem = "npm";
  c.name = c.source = "minimist";
  c.version = c.source_version = "1.2.5";
  c.purl = "pkg:npm/minimist@1.2.5";
  c.location = "usr/share/nodejs/minimist/package.json";
  c.layer = inv.layers[0];
  c.owner = "libssl3";  // any OS package of the sample stands for the owner
  inv.components.push_back(c);
  auto cdx = scan::cyclonedx(inv, subject());
  CHECK(validate(cdx) == 0);
  CHECK(cdx["components"].size() == 6);  // not beside its owner ...
  const auto& owner = cdx["components"][1];
  REQUIRE(owner["name"] == "libssl3");
  REQUIRE(owner["components"].size() == 1);  // ... but inside it
  CHECK(owner["components"][0]["purl"] == "pkg:npm/minimist@1.2.5");
  auto sp = scan::spdx(inv, subject());
  CHECK(validate_spdx(sp) == 0);
  bool contained = false;
  for (const auto& r : sp["relationships"])
    contained = contained ||
                (r["spdxElementId"] == "SPDXRef-Package-0" && r["relationshipType"] == "CONTAINS" &&
                 r["relatedSpdxElement"] == "SPDXRef-Package-5");
  CHECK(contained);
}

TEST_CASE("SBOM referrer manifests are OCI 1.1 artifacts with a subject", "[scan][sbom]") {
  auto m = scan::artifact_manifest(scan::kCycloneDxMediaType, "sha256:" + std::string(64, 'c'), 10,
                                   "application/vnd.oci.image.manifest.v1+json",
                                   "sha256:" + std::string(64, 'b'), 500, {{"k", "v"}});
  CHECK(m["artifactType"] == "application/vnd.cyclonedx+json");
  CHECK(m["config"]["mediaType"] == "application/vnd.oci.empty.v1+json");
  CHECK(m["config"]["digest"] == test::sha256_digest("{}"));
  CHECK(m["subject"]["digest"] == "sha256:" + std::string(64, 'b'));
}
