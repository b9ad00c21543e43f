#include "scan/vex.hpp"

#include <catch2/catch.hpp>

#include "scan/vex_repository.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"

using namespace airheal;

namespace {
struct VexDb {
  test::TempDir dir;
  std::unique_ptr<store::Store> st;
  VexDb() {
    auto s = store::Store::open(dir.path() / "state");
    REQUIRE(s);
    st = std::move(*s);
  }
};

scan::FindingSubject finding() {
  scan::FindingSubject f;
  f.ids = {"DSA-5621-1", "CVE-2024-0727"};
  f.manifest = "sha256:" + std::string(64, 'a');
  f.products = {"apps/web", "apps/web:1.0"};
  f.components = {"libssl3", "openssl", "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64"};
  return f;
}
}  // namespace

TEST_CASE("OpenVEX statements: validation, suppression by id/alias, product and subcomponent",
          "[scan][vex]") {
  VexDb db;
  const std::int64_t now = 1'800'000'000;
  auto add = [&](scan::VexStatement s) {
    Result<scan::VexStatement> r = make_error(Errc::invalid_argument, "");
    db.st->transaction([&](sqlite::Connection& c) { r = scan::add_vex(c, s, now); });
    return r;
  };
  scan::VexStatement s;
  s.vulnerability = "CVE-2024-0727";
  s.product = "apps/*";
  s.status = "not_affected";
  s.author = "alice";
  CHECK_FALSE(add(s));  // not_affected needs a justification or an impact statement
  s.justification = "made_up";
  CHECK_FALSE(add(s));
  s.justification = "vulnerable_code_not_in_execute_path";
  s.subcomponent = "pkg:deb/debian/libssl3";
  auto ok = add(s);
  REQUIRE(ok);
  scan::VexStatement affected;
  affected.vulnerability = "CVE-2099-1";
  affected.product = "apps/web";
  affected.status = "affected";
  affected.author = "bob";
  CHECK_FALSE(add(affected));  // affected needs an action statement
  affected.action_statement = "upgrade when the fix lands";
  REQUIRE(add(affected));
  scan::VexStatement other = s;
  other.product = "sha256:nothex";
  CHECK_FALSE(add(other));

  std::vector<scan::VexStatement> all;
  db.st->read([&](sqlite::Connection& c) { all = scan::list_vex(c, false); });
  REQUIRE(all.size() == 2);
  auto sup = scan::suppression(all, {}, finding(), now);
  REQUIRE(sup);
  CHECK(sup->kind == "vex");
  auto f = finding();
  f.products = {"other/repo", "other/repo:1"};
  CHECK_FALSE(scan::suppression(all, {}, f, now));  // another product
  f = finding();
  f.components = {"libcrypto3", "openssl-other", "pkg:deb/debian/libcrypto3@1"};
  CHECK_FALSE(scan::suppression(all, {}, f, now));  // another subcomponent
  f = finding();
  f.ids = {"CVE-2099-1"};
  CHECK_FALSE(scan::suppression(all, {}, f, now));  // affected annotates, never suppresses
  CHECK(scan::annotations(all, f).size() == 1);

  db.st->transaction(
      [&](sqlite::Connection& c) { REQUIRE(scan::withdraw_vex(c, ok->id, now + 1)); });
  db.st->read([&](sqlite::Connection& c) { all = scan::list_vex(c, false); });
  CHECK_FALSE(scan::suppression(all, {}, finding(), now));
  db.st->read([&](sqlite::Connection& c) { CHECK(scan::list_vex(c, true).size() == 2); });

  auto doc = scan::openvex_document(all, "security@example.org", now);
  CHECK(doc["@context"] == "https://openvex.dev/ns/v0.2.0");
  CHECK(doc["author"] == "security@example.org");
  CHECK(doc["version"] == 1);
  REQUIRE(doc["statements"].size() == 1);
  const auto& st = doc["statements"][0];
  CHECK(st["vulnerability"]["name"] == "CVE-2099-1");
  CHECK(st["status"] == "affected");
  CHECK(st["action_statement"] == "upgrade when the fix lands");
  CHECK(st["products"][0]["@id"].get<std::string>().rfind("pkg:oci/web", 0) == 0);
}

TEST_CASE("Exceptions suppress until they expire or are revoked, and say who and why",
          "[scan][vex][exception]") {
  VexDb db;
  const std::int64_t now = 1'800'000'000;
  scan::Exception e;
  e.vulnerability = "CVE-2024-0727";
  e.product = "apps/web";
  e.reason = "compensating WAF rule";
  e.created_by = "carol";
  e.expires_at = now - 1;
  db.st->transaction([&](sqlite::Connection& c) {
    CHECK_FALSE(scan::add_exception(c, e, now));  // already expired
    e.expires_at = now + 400LL * 86400;
    CHECK_FALSE(scan::add_exception(c, e, now));  // longer than a year
    e.expires_at = now + 30 * 86400;
    e.reason.clear();
    CHECK_FALSE(scan::add_exception(c, e, now));  // no reason
    e.reason = "compensating WAF rule";
    REQUIRE(scan::add_exception(c, e, now));
  });
  std::vector<scan::Exception> all;
  db.st->read([&](sqlite::Connection& c) { all = scan::list_exceptions(c, true, now); });
  REQUIRE(all.size() == 1);
  auto sup = scan::suppression({}, all, finding(), now + 86400);
  REQUIRE(sup);
  CHECK(sup->kind == "exception");
  CHECK(sup->detail.find("carol") != std::string::npos);
  CHECK(sup->detail.find("compensating WAF rule") != std::string::npos);
  CHECK_FALSE(
      scan::suppression({}, all, finding(), now + 30 * 86400));  // expired: the finding is back
  CHECK(scan::to_json(all[0], now + 31 * 86400)["state"] == "expired");
  db.st->read([&](sqlite::Connection& c) {
    CHECK(scan::list_exceptions(c, false, now + 31 * 86400).empty());
  });
  db.st->transaction([&](sqlite::Connection& c) {
    REQUIRE(scan::revoke_exception(c, all[0].id, "dave", now + 10));
  });
  db.st->read([&](sqlite::Connection& c) { all = scan::list_exceptions(c, true, now); });
  CHECK_FALSE(scan::suppression({}, all, finding(), now + 20));
  CHECK(scan::to_json(all[0], now + 20)["state"] == "revoked");
  CHECK(all[0].revoked_by == "dave");
}

TEST_CASE("OpenVEX products are the served images' pkg:oci purls and subcomponents their packages",
          "[scan][vex]") {
  const std::string d1 = "sha256:" + std::string(64, '1'), d2 = "sha256:" + std::string(64, '2');
  std::vector<scan::VexImage> images = {
      {"apps/web", "1", d1, {{"openssl", "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64"}}},
      {"apps/web",
       "latest",
       d1,
       {{"openssl", "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64"}}},
      {"apps/api", "2", d2, {{"zlib1g", "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64"}}}};
  scan::VexStatement all_apps{1,  "CVE-2024-0001", "apps/*",
                              "", "not_affected",  "vulnerable_code_not_present"};
  scan::VexStatement named{2,         "CVE-2024-0002", "apps/*",
                           "openssl", "not_affected",  "component_not_present"};
  scan::VexStatement nowhere{3, "CVE-2024-0003", "legacy/*", "", "under_investigation"};
  auto doc = scan::openvex_document({all_apps, named, nowhere}, "alice", 1700000000, images,
                                    "registry.plant.example");
  REQUIRE(doc["statements"].size() == 3);
  // Each served digest once, whatever its tags.
  const auto& p0 = doc["statements"][0]["products"];
  REQUIRE(p0.size() == 2);
  CHECK(p0[0]["@id"] == "pkg:oci/web@sha256%3A" + std::string(64, '1') +
                            "?repository_url=registry.plant.example%2Fapps%2Fweb");
  CHECK(p0[1]["@id"].get<std::string>().rfind("pkg:oci/api@sha256%3A2222", 0) == 0);
  // A named package: only the images that have it, with its exact purl.
  const auto& p1 = doc["statements"][1]["products"];
  REQUIRE(p1.size() == 1);
  CHECK(p1[0]["subcomponents"][0]["@id"] == "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64");
  // Nothing served matches: the product stays as written.
  CHECK(doc["statements"][2]["products"][0]["@id"] == "urn:airheal:image-pattern:legacy%2F%2A");
}
