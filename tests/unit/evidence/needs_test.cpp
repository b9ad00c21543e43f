// The needs document against a real store: what the images' open findings need from outside is
// grouped per source package and release (the highest fixed version wins), per application
// package, and per base image; what is inside the gap already, has no upstream fix, or a VEX
// statement settles is left out; --redact drops every name of this site. Package names,
// versions and advisory ids are real bookworm-security ones (openssl DSA-6015-1, curl DSA-5587-1);
// the images and the application findings are made up (no real fleet can be had here).
#include "evidence/needs.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "heal/attest.hpp"
#include "scan/findings_repository.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/vex.hpp"
#include "scan/vex_repository.hpp"
#include "store/store.hpp"
#include "support/store_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using json = nlohmann::json;

namespace {

scan::Component needs_component(const std::string& type, const std::string& ecosystem,
                                const std::string& name, const std::string& version,
                                const std::string& source, const std::string& location) {
  scan::Component c;
  c.type = type;
  c.ecosystem = ecosystem;
  c.name = name;
  c.version = version;
  c.source = source;
  c.source_version = version;
  c.arch = type == "deb" ? "amd64" : "";
  c.location = location;
  return c;
}

scan::Finding needs_finding(std::size_t component, const std::string& id, const std::string& fixed,
                            const std::string& fix_available) {
  scan::Finding f;
  f.component = component;
  f.advisory_id = id;
  f.channel = "debian";
  f.source = "debian-security-tracker";
  f.severity = "high";
  f.installed = "0";
  f.fixed = fixed;
  f.vendor_status = fixed.empty() ? "unfixed" : "fixed";
  f.fix_available = fix_available;
  return f;
}

const json* find_by(const json& array, const std::string& key, const std::string& value) {
  for (const auto& e : array)
    if (e.value(key, "") == value) return &e;
  return nullptr;
}

// The document passes its published schema (docs/airgap/needs.schema.json).
void needs_valid(const json& doc) {
  test::TempDir dir;
  auto file = dir / "needs.json";
  std::ofstream(file) << doc.dump();
  auto r = test::run({"/usr/bin/python3",
                      std::string(AIRHEAL_SOURCE_DIR) + "/tests/support/validate_json_schema.py",
                      std::string(AIRHEAL_SOURCE_DIR) + "/docs/airgap/needs.schema.json",
                      file.string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}

}  // namespace

TEST_CASE("The needs document lists what would heal the open findings and nothing else",
          "[evidence]") {
  test::TempStore temp;
  auto& s = *temp;
  auto web = test::put_image(
      s, "apps/web", "1", std::vector<std::string>{"base layer", "app layer"},
      json{{"org.opencontainers.image.base.name", "docker.io/library/debian:12"},
           {"org.opencontainers.image.base.digest", "sha256:" + std::string(64, 'b')}});
  auto api = test::put_image(s, "apps/api", "2", "api layer");

  scan::ImageInventory inv;
  inv.os = {"debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"};
  inv.components = {
      needs_component("deb", "Debian", "libssl3", "3.0.11-1~deb12u2", "openssl",
                      "var/lib/dpkg/status"),
      needs_component("deb", "Debian", "openssl", "3.0.11-1~deb12u2", "openssl",
                      "var/lib/dpkg/status"),
      needs_component("deb", "Debian", "libcurl4", "7.88.1-10+deb12u4", "curl",
                      "var/lib/dpkg/status"),
      needs_component("deb", "Debian", "libc6", "2.36-9+deb12u3", "glibc", "var/lib/dpkg/status"),
      needs_component("npm", "npm", "lodash", "4.17.20", "lodash", "app/package-lock.json"),
      needs_component("golang", "Go", "stdlib", "1.19.8", "stdlib", "usr/local/bin/server"),
      needs_component("python-package", "PyPI", "requests", "2.25.0", "requests",
                      "usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA"),
  };
  scan::ImageInventory api_inv = inv;
  s.transaction([&](sqlite::Connection& c) {
    scan::InventoryRepository::save(c, web, inv, 100, 100);
    scan::InventoryRepository::save(c, api, api_inv, 100, 100);
    scan::FindingsRepository::replace(
        c, web,
        {needs_finding(0, "DSA-6015-1", "3.0.17-1~deb12u3", "none"),
         needs_finding(1, "DSA-6015-1", "3.0.17-1~deb12u3", "none"),
         needs_finding(0, "DSA-5532-1", "3.0.11-1~deb12u2+x", "none"),    // lower: the higher wins
         needs_finding(2, "DSA-5587-1", "7.88.1-10+deb12u5", "package"),  // fix imported already
         needs_finding(3, "CVE-2010-4756", "", "no-fix"),                 // no upstream fix
         needs_finding(4, "GHSA-35jh-r3h4-6jhm", "4.17.21", "none"),
         needs_finding(5, "GO-2023-1878", "1.19.10", "none"),
         needs_finding(6, "GHSA-j8r2-6x86-q33q", "2.31.0", "none")},
        100);
    // The other image: the same openssl need, and its requests finding is settled by a VEX
    // statement.
    scan::FindingsRepository::replace(c, api,
                                      {needs_finding(0, "DSA-6015-1", "3.0.17-1~deb12u3", "none"),
                                       needs_finding(6, "GHSA-j8r2-6x86-q33q", "2.31.0", "none")},
                                      100);
    scan::VexStatement v;
    v.vulnerability = "GHSA-j8r2-6x86-q33q";
    v.product = "apps/api:2";
    v.status = "not_affected";
    v.justification = "vulnerable_code_not_in_execute_path";
    v.author = "security@example.org";
    REQUIRE(scan::add_vex(c, v, 100));
  });

  auto doc = evidence::needs_document(s, 200, {}, "FPR");
  INFO(doc.dump(2));
  CHECK(doc["schema"] == evidence::kNeedsSchema);
  CHECK(doc["appliance_key"] == "FPR");
  CHECK(doc["redacted"] == false);

  REQUIRE(doc["packages"].size() == 1);  // curl's fix is imported, glibc's has none upstream
  const auto& ssl = doc["packages"][0];
  CHECK(ssl["family"] == "deb");
  CHECK(ssl["release"] == "bookworm");
  CHECK(ssl["version_id"] == "12");
  CHECK(ssl["source"] == "openssl");
  CHECK(ssl["fixed_version"] == "3.0.17-1~deb12u3");
  CHECK(ssl["binaries"] == json::array({{{"name", "libssl3"}, {"architecture", "amd64"}},
                                        {{"name", "openssl"}, {"architecture", "amd64"}}}));
  CHECK(ssl["advisories"] == json::array({"DSA-5532-1", "DSA-6015-1"}));
  CHECK(ssl["images"] == json::array({"apps/api:2", "apps/web:1"}));

  const auto& apps = doc["applications"];
  REQUIRE(apps.size() == 3);
  auto* lodash = find_by(apps, "name", "lodash");
  REQUIRE(lodash);
  CHECK((*lodash)["kind"] == "lockfile");
  CHECK((*lodash)["fixed_version"] == "4.17.21");
  auto* stdlib = find_by(apps, "name", "stdlib");
  REQUIRE(stdlib);
  CHECK((*stdlib)["kind"] == "binary");
  CHECK((*stdlib)["paths"] == json::array({"usr/local/bin/server"}));
  auto* requests = find_by(apps, "name", "requests");
  REQUIRE(requests);
  CHECK((*requests)["kind"] == "package");
  CHECK((*requests)["images"] == json::array({"apps/web:1"}));  // VEX settles it for apps/api

  REQUIRE(doc["base_images"].size() == 1);
  CHECK(doc["base_images"][0]["upstream"] == "docker.io/library/debian:12");
  CHECK(doc["base_images"][0]["repository"] == "library/debian");
  CHECK(doc["base_images"][0]["tag"] == "12");
  CHECK(doc["base_images"][0]["current_digest"] == "sha256:" + std::string(64, 'b'));
  CHECK(doc["summary"]["images_waiting"] == 2);
  needs_valid(doc);
  CHECK(doc["summary"]["findings_without_upstream_fix"] == 1);

  SECTION("redacted: no repository, image or path of this site") {
    evidence::NeedsOptions o;
    o.redact = true;
    auto r = evidence::needs_document(s, 200, o, "FPR");
    auto text = r.dump();
    CHECK(r["redacted"] == true);
    for (const char* site : {"apps/web", "apps/api", "usr/local/bin/server", "library/debian\""})
      CHECK(text.find(site) == std::string::npos);
    CHECK(r["packages"][0]["source"] == "openssl");  // what to fetch stays
    CHECK(r["base_images"][0]["upstream"] == "docker.io/library/debian:12");
    needs_valid(r);
  }

  SECTION("signed: a DSSE envelope over the document with the appliance key") {
    test::TempDir state;
    auto key = heal::ApplianceKey::open(state.path());
    REQUIRE(key);
    auto env = evidence::signed_needs(s, *key, 200, {});
    REQUIRE(env);
    CHECK(env->envelope["payloadType"] == evidence::kNeedsPayloadType);
    CHECK(env->envelope["signatures"][0]["keyid"] == key->fingerprint());
    CHECK(env->envelope["payload"] == heal::base64_encode(env->document.dump(2) + "\n"));
    CHECK(env->document["appliance_key"] == key->fingerprint());
  }
}
