#include "scan/match.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "advisory/advisory_repository.hpp"
#include "core/fs.hpp"
#include "store/store.hpp"
#include "support/test_support.hpp"
#include "version/version.hpp"

using namespace airheal;

namespace {

std::string data_file(const std::string& rel) {
  auto r = fs::read_file(std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/" + rel, 64 << 20);
  REQUIRE(r);
  return *r;
}

scan::Component deb(const std::string& name, const std::string& version, const std::string& source,
                    const std::string& source_version) {
  scan::Component c;
  c.type = "deb";
  c.ecosystem = "Debian";
  c.name = name;
  c.version = version;
  c.source = source;
  c.source_version = source_version;
  c.layer = "sha256:base";
  return c;
}

// A tracker document in the Debian security tracker's JSON shape.
const char* kTracker = R"({
  "openssl": {
    "CVE-2024-0727": {"description": "PKCS12 NULL dereference", "releases": {
      "bookworm": {"status": "resolved", "fixed_version": "3.0.13-1~deb12u1", "urgency": "not yet assigned"},
      "bullseye": {"status": "resolved", "fixed_version": "1.1.1w-0+deb11u2", "urgency": "not yet assigned"}}},
    "CVE-2010-0001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "low"}}},
    "CVE-2025-1111": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "postponed"}}},
    "CVE-2025-2222": {"releases": {"bookworm": {"status": "open", "urgency": "unimportant"}}},
    "CVE-2025-3333": {"releases": {"bookworm": {"status": "open", "urgency": "medium", "nodsa": "Minor issue"}}},
    "CVE-2025-4444": {"releases": {"bookworm": {"status": "undetermined", "urgency": "not yet assigned"}}},
    "CVE-2025-5555": {"releases": {"bookworm": {"status": "open", "urgency": "high", "nodsa": "", "nodsa_reason": "ignored"}}}
  },
  "libgcrypt20": {
    "CVE-2024-2236": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.10.1-3+deb12u1", "urgency": "medium"}}}
  },
  "glibc": {
    "CVE-2023-4911": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "2.36-9+deb12u3", "urgency": "high"}}}
  }
})";

struct AdvisoryDb {
  test::TempDir dir;
  std::unique_ptr<store::Store> st;
  AdvisoryDb() {
    auto s = store::Store::open(dir.path() / "state");
    REQUIRE(s);
    st = std::move(*s);
  }
  void load(const std::string& channel, const std::vector<advisory::Advisory>& all) {
    st->transaction([&](sqlite::Connection& c) { advisory::replace_channel(c, channel, all); });
  }
};

}  // namespace

TEST_CASE("CVSS v3 base scores match the specification's examples", "[scan][match][cvss]") {
  CHECK(scan::cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == Approx(9.8));
  CHECK(scan::cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H") == Approx(10.0));
  CHECK(scan::cvss3_base_score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N") == Approx(5.5));
  CHECK(scan::cvss3_base_score("CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N") == Approx(3.1));
  CHECK(scan::cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N") == Approx(6.4));
  CHECK(scan::cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N") == Approx(0.0));
  CHECK_FALSE(
      scan::cvss3_base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"));
  CHECK_FALSE(scan::cvss3_base_score("CVSS:3.1/AV:X/AC:L"));
  CHECK(scan::severity_from_score(9.8) == "critical");
  CHECK(scan::severity_from_score(7.0) == "high");
  CHECK(scan::severity_from_score(3.9) == "low");
}

TEST_CASE("Debian packages match by source package and source version, with the tracker policy",
          "[scan][match][debian]") {
  AdvisoryDb db;
  auto parsed = advisory::parse_debian_tracker(kTracker, "tracker.json");
  REQUIRE(parsed);
  db.load("debian", *parsed);
  scan::ImageInventory inv;
  inv.os.id = "debian";
  inv.os.version_id = "12";
  inv.components = {deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
                    deb("openssl", "3.0.13-1~deb12u1", "openssl", "3.0.13-1~deb12u1"),
                    // binNMU: binary 1.10.1-3+b1, source 1.10.1-3 (below the fix, although the
                    // binary sorts above it)
                    deb("libgcrypt20", "1.10.1-3+b1", "libgcrypt20", "1.10.1-3"),
                    deb("libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4")};
  std::vector<scan::Finding> fs;
  db.st->read([&](sqlite::Connection& c) { fs = scan::match(c, inv); });
  std::map<std::pair<std::string, std::string>, scan::Finding> by;
  for (const auto& f : fs) by[{inv.components[f.component].name, f.advisory_id}] = f;
  // The fixed CVE: libssl3 (below the fix) yes, openssl at the fixed version no.
  REQUIRE(by.count({"libssl3", "CVE-2024-0727"}));
  CHECK(by[{"libssl3", "CVE-2024-0727"}].fixed == "3.0.13-1~deb12u1");
  CHECK(by[{"libssl3", "CVE-2024-0727"}].vendor_status == "fixed");
  CHECK(by[{"libssl3", "CVE-2024-0727"}].fix_available == "none");
  CHECK_FALSE(by.count({"openssl", "CVE-2024-0727"}));
  CHECK_FALSE(by.count({"libssl3", "CVE-2010-0001"}));  // fixed_version "0": never affected
  CHECK(by[{"libssl3", "CVE-2025-1111"}].vendor_status == "postponed");
  CHECK(by[{"libssl3", "CVE-2025-2222"}].vendor_status == "unfixed");
  CHECK(by[{"libssl3", "CVE-2025-2222"}].severity == "negligible");
  CHECK(by[{"libssl3", "CVE-2025-3333"}].vendor_status == "no-dsa");
  CHECK(by[{"libssl3", "CVE-2025-3333"}].fix_available == "no-fix");
  CHECK(by[{"libssl3", "CVE-2025-4444"}].vendor_status == "undetermined");
  CHECK(by[{"libssl3", "CVE-2025-5555"}].vendor_status == "ignored");
  CHECK(by[{"libssl3", "CVE-2025-5555"}].severity == "high");
  REQUIRE(by.count({"libgcrypt20", "CVE-2024-2236"}));
  CHECK(by[{"libgcrypt20", "CVE-2024-2236"}].installed == "1.10.1-3");
  CHECK_FALSE(by.count({"libc6", "CVE-2023-4911"}));  // 2.36-9+deb12u4 >= 2.36-9+deb12u3

  // Another release's entries never apply: the same image as Debian 11 sees the bullseye fix only.
  inv.os.version_id = "11";
  db.st->read([&](sqlite::Connection& c) { fs = scan::match(c, inv); });
  for (const auto& f : fs) CHECK(f.advisory_id == "CVE-2024-0727");
}

TEST_CASE("Go modules and the standard library against real Go vulnerability database entries",
          "[scan][match][go]") {
  AdvisoryDb db;
  std::vector<advisory::Advisory> all;
  for (auto f :
       {"GO-2022-0525.json", "GO-2024-2888.json", "GO-2025-3563.json", "GO-2021-0159.json"}) {
    auto a = advisory::parse_osv(data_file(std::string("osv-go/") + f), f);
    REQUIRE(a);
    all.push_back(*a);
  }
  db.load("go", all);
  scan::ImageInventory inv;
  scan::Component std_lib;
  std_lib.type = "golang";
  std_lib.ecosystem = "Go";
  std_lib.name = std_lib.source = "stdlib";
  std_lib.version = std_lib.source_version = "1.19.8";
  inv.components = {std_lib};
  std::vector<scan::Finding> fs;
  db.st->read([&](sqlite::Connection& c) { fs = scan::match(c, inv); });
  std::set<std::string> ids;
  for (const auto& f : fs) ids.insert(f.advisory_id);
  CHECK(ids == std::set<std::string>{"GO-2024-2888", "GO-2025-3563"});
  for (const auto& f : fs) {
    CHECK(f.fixed == (f.advisory_id == "GO-2024-2888" ? "1.21.11" : "1.23.8"));
    CHECK(f.aliases.size() >= 1);
  }
}

TEST_CASE("CSAF advisories match Alpine origins and RPM packages in their release",
          "[scan][match][csaf]") {
  AdvisoryDb db;
  auto parsed = advisory::parse_csaf(data_file("csaf/airheal-made-up-openssl-vex.json"),
                                     "airheal-made-up-openssl-vex.json");
  REQUIRE(parsed);
  db.load("csaf", *parsed);
  scan::ImageInventory inv;
  inv.os.id = "alpine";
  inv.os.version_id = "3.10.3";
  scan::Component c;
  c.type = "apk";
  c.ecosystem = "Alpine";
  c.name = "libssl1.1";
  c.source = "openssl";
  c.version = c.source_version = "1.1.1d-r0";
  inv.components = {c};
  std::vector<scan::Finding> fs;
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  std::set<std::string> ids;
  for (const auto& f : fs) {
    ids.insert(f.advisory_id);
    CHECK(f.fixed == "1.1.1k-r0");
  }
  CHECK(ids == std::set<std::string>{"CVE-2021-3449", "CVE-2021-3450"});
  inv.components[0].version = inv.components[0].source_version = "1.1.1k-r0";
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  CHECK(fs.empty());
  // RHEL 8: the binary package, epoch and all; RHEL 9 is another release.
  inv.os.id = "rhel";
  inv.os.version_id = "8.3";
  c = {};
  c.type = "rpm";
  c.ecosystem = "Red Hat";
  c.name = c.source = "openssl-libs";
  c.version = c.source_version = "1:1.1.1g-12.el8_3";
  inv.components = {c};
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].advisory_id == "CVE-2021-3449");
  CHECK(fs[0].fixed == "1:1.1.1g-15.el8_3");
  inv.os.version_id = "9.2";
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  CHECK(fs.empty());
  // An advisory naming the source rpm matches every binary package built from it.
  inv.os.version_id = "8.3";
  inv.components[0].name = "openssl-devel";
  inv.components[0].source = "openssl-libs";
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].advisory_id == "CVE-2021-3449");
  CHECK(scan::match_keys(inv.components[0]).size() == 2);
}

TEST_CASE("Alpine packages match by origin against the secdb", "[scan][match][alpine]") {
  AdvisoryDb db;
  auto parsed =
      advisory::parse_alpine_secdb(data_file("alpine-secdb/v3.10-main.yaml"), "v3.10-main.yaml");
  REQUIRE(parsed);
  db.load("alpine", *parsed);
  scan::ImageInventory inv;
  inv.os.id = "alpine";
  inv.os.version_id = "3.10.2";
  scan::Component c;
  c.type = "apk";
  c.ecosystem = "Alpine";
  c.name = "libcrypto1.1";
  c.source = "openssl";
  c.version = c.source_version = "1.1.1c-r0";
  inv.components = {c};
  std::vector<scan::Finding> fs;
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  REQUIRE_FALSE(fs.empty());
  for (const auto& f : fs) {
    INFO(f.advisory_id << " fixed " << f.fixed);
    CHECK(version::compare_apk("1.1.1c-r0", f.fixed) < 0);
  }
  // The same package on another branch is not matched by v3.10's entries.
  inv.os.version_id = "3.11.0";
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  CHECK(fs.empty());
}

TEST_CASE(
    "The same vulnerability from two sources is one finding, imported fixed packages are noticed",
    "[scan][match]") {
  AdvisoryDb db;
  auto tracker = advisory::parse_debian_tracker(kTracker, "t.json");
  REQUIRE(tracker);
  db.load("debian", *tracker);
  auto dsa = advisory::parse_osv(
      R"({"schema_version":"1.6.0","id":"DSA-5621-1","modified":"2024-02-01T00:00:00Z",
    "aliases":["CVE-2024-0727"],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"}],
    "affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
      "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.13-1~deb12u1"}]}]}]})",
      "dsa.json");
  REQUIRE(dsa);
  db.load("debian-osv", {*dsa});
  scan::ImageInventory inv;
  inv.os.id = "debian";
  inv.os.version_id = "12";
  inv.components = {deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2")};
  db.st->transaction([&](sqlite::Connection& c) {
    c.prepare("INSERT INTO blobs (digest, size, created_at) VALUES ('sha256:feed', 1, 0)").run();
    c.prepare(
         "INSERT INTO content (digest, kind, name, version, metadata, channel, snapshot) VALUES "
         "('sha256:feed', 'package', 'libssl3', '3.0.13-1~deb12u1', "
         "'{\"source\":\"openssl\",\"source_version\":\"3.0.13-1~deb12u1\"}', 'debian', 'x')")
        .run();
  });
  std::vector<scan::Finding> fs;
  db.st->read([&](sqlite::Connection& c) { fs = scan::match(c, inv); });
  std::size_t n = 0;
  for (const auto& f : fs)
    if (f.advisory_id == "CVE-2024-0727" || f.advisory_id == "DSA-5621-1") {
      ++n;
      CHECK(f.severity == "medium");  // the CVSS vector (6.5) beats "not yet assigned"
      CHECK(f.fix_available == "package");
      std::set<std::string> ids(f.aliases.begin(), f.aliases.end());
      ids.insert(f.advisory_id);
      CHECK(ids.count("CVE-2024-0727"));
      CHECK(ids.count("DSA-5621-1"));
    }
  CHECK(n == 1);
}

TEST_CASE("Installed npm packages match GitHub's advisories in npm's semver ordering",
          "[scan][match][npm]") {
  AdvisoryDb db;
  auto a = advisory::parse_osv(data_file("npm/ghsa/GHSA-xvch-5gv4-984h.json"),
                               "GHSA-xvch-5gv4-984h.json");
  REQUIRE(a);
  db.load("npm", {*a});
  scan::ImageInventory inv;
  inv.os.id = "debian";
  inv.os.version_id = "12";
  scan::Component c;
  c.type = "node-package";
  c.ecosystem = "npm";
  c.name = c.source = "minimist";
  c.version = c.source_version = "1.2.5";
  c.location = "srv/app/node_modules/minimist/package.json";
  inv.components = {c};
  std::vector<scan::Finding> fs;
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].advisory_id == "GHSA-xvch-5gv4-984h");
  CHECK(fs[0].fixed == "1.2.6");
  for (auto v : {"1.2.6", "1.2.8", "0.2.4"}) {
    inv.components[0].version = v;
    db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
    INFO(v);
    CHECK(fs.empty());
  }
  inv.components[0].version = "0.2.3";  // the older range: < 0.2.4
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].fixed == "0.2.4");
}

TEST_CASE(
    "Installed Python distributions match GitHub's advisories in PEP 440 order, by PEP 503 name",
    "[scan][match][pypi]") {
  AdvisoryDb db;
  std::vector<advisory::Advisory> all;
  for (auto f : {"GHSA-j8r2-6x86-q33q.json", "GHSA-8q59-q68h-6hv4.json"}) {
    auto a = advisory::parse_osv(data_file(std::string("pypi/ghsa/") + f), f);
    REQUIRE(a);
    all.push_back(*a);
  }
  db.load("pypi", all);
  scan::ImageInventory inv;
  auto comp = [](const std::string& name, const std::string& version) {
    scan::Component c;
    c.type = "python-package";
    c.ecosystem = "PyPI";
    c.name = c.source = name;
    c.version = c.source_version = version;
    c.location = "srv/app/.venv/lib/python3.11/site-packages/" + name + ".dist-info/METADATA";
    return c;
  };
  inv.components = {comp("requests", "2.28.1"), comp("pyyaml", "5.3.1"), comp("requests", "2.31.0"),
                    comp("pyyaml", "5.4")};
  std::vector<scan::Finding> fs;
  db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
  std::map<std::size_t, std::string> by;
  for (const auto& f : fs) by[f.component] = f.advisory_id + " " + f.fixed;
  CHECK(by == std::map<std::size_t, std::string>{{0, "GHSA-j8r2-6x86-q33q 2.31.0"},
                                                 {1, "GHSA-8q59-q68h-6hv4 5.4"}});
  CHECK(advisory::package_key("PyPI", "PyYAML") == "pyyaml");
  CHECK(advisory::package_key("PyPI", "zope.interface") == "zope-interface");
  CHECK(advisory::package_key("PyPI", "a__b-.c") == "a-b-c");
  CHECK(advisory::package_key("npm", "PyYAML") == "PyYAML");
  CHECK(advisory::package_key("NuGet", "Newtonsoft.Json") == "newtonsoft.json");
  CHECK(advisory::package_key("Packagist", "Twig/Twig") == "twig/twig");
  CHECK(advisory::package_key("Maven", "org.Foo:Bar") == "org.Foo:Bar");
}

TEST_CASE("The 40 GitHub advisories match the real artefacts' versions in each ecosystem's order",
          "[scan][match][ghsa]") {
  AdvisoryDb db;
  std::vector<advisory::Advisory> all;
  for (const auto& e : std::filesystem::recursive_directory_iterator(test::source_dir() /
                                                                     "tests/data/ghsa-sample")) {
    auto f = e.path().filename().string();
    if (!e.is_regular_file() || !f.starts_with("GHSA-") || !f.ends_with(".json")) continue;
    auto text = fs::read_file(e.path(), 1 << 20);
    REQUIRE(text);
    auto a = advisory::parse_osv(*text, f);
    INFO(f);
    REQUIRE(a);
    all.push_back(*a);
  }
  REQUIRE(all.size() == 40);
  db.load("ghsa", all);
  std::ifstream in(test::source_dir() / "tests/data/ghsa-sample-cases.tsv");
  REQUIRE(in);
  std::string line;
  std::size_t cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string eco, name, version, ids;
    std::getline(ls, eco, '\t');
    std::getline(ls, name, '\t');
    std::getline(ls, version, '\t');
    std::getline(ls, ids);
    scan::ImageInventory inv;
    scan::Component c;
    c.type = "application";
    c.ecosystem = eco;
    c.name = c.source = advisory::package_key(eco, name);
    c.version = c.source_version = version;
    inv.components = {c};
    std::vector<scan::Finding> fs;
    db.st->read([&](sqlite::Connection& conn) { fs = scan::match(conn, inv); });
    std::set<std::string> got, want;
    for (const auto& f : fs) got.insert(f.advisory_id);
    std::istringstream is(ids);
    for (std::string id; is >> id;)
      if (id != "-") want.insert(id);
    INFO(eco << " " << name << " " << version);
    CHECK(got == want);
    ++cases;
  }
  CHECK(cases > 80);
}
