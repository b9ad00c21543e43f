// rpm heals with the real rpm tooling: packages built by the host's rpmbuild (the made-up "greet"
// family of tests/support/rpm_fixtures: no rpm distribution's repository is reachable from this
// machine), image roots whose rpmdb.sqlite the host's dnf wrote from a createrepo_c repository,
// one with dnf inside (the host's dnf, rpm and Python copied in) and a micro one without rpm.
// Advisories: an OSV record for the "Rocky Linux:9" ecosystem and a CSAF 2.0 VEX document, both
// made up here (their ids say so) and naming the fixed build. Every package is signed by a test
// key the images trust (rpm --import into their databases, as a release package does) and the
// channel allows no unsigned packages, so dnf installs with gpgcheck=1 and the host's rpm checks
// the signatures against the micro image's keys first. The snapshot carries every greet
// package; a heal must take only what the findings need plus what the fixed build requires.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/fs.hpp"
#include "support/heal_fixtures.hpp"
#include "support/rpm_fixtures.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

std::map<std::string, std::string> rpm_versions(const json& inventory) {
  std::map<std::string, std::string> out;
  for (const auto& c : inventory["components"])
    if (c["type"] == "rpm") out[c["name"].get<std::string>()] = c["version"].get<std::string>();
  return out;
}

json greet_osv() {
  return {{"schema_version", "1.6.0"},
          {"id", "AIRHEAL-TEST-RLSA-2026:0001"},
          {"modified", "2026-11-01T00:00:00Z"},
          {"published", "2026-11-01T00:00:00Z"},
          {"aliases", {"CVE-2026-99001"}},
          {"summary", "libgreet: made-up advisory for airheal's rpm tests"},
          {"affected",
           {{{"package", {{"ecosystem", "Rocky Linux:9"}, {"name", "libgreet"}}},
             {"ranges",
              {{{"type", "ECOSYSTEM"},
                {"events", {{{"introduced", "0"}}, {{"fixed", "1.1-1.el9"}}}}}}}}}},
          {"database_specific", {{"severity", "HIGH"}}}};
}

json greet_csaf() {
  auto product = [](const std::string& id, const std::string& purl) {
    return json{
        {"category", "product_version"},
        {"name", id},
        {"product",
         {{"name", id}, {"product_id", id}, {"product_identification_helper", {{"purl", purl}}}}}};
  };
  auto rel = [](const std::string& id) {
    return json{
        {"category", "default_component_of"},
        {"full_product_name",
         {{"name", id + " as a component of Rocky Linux 9"}, {"product_id", "rocky-9:" + id}}},
        {"product_reference", id},
        {"relates_to_product_reference", "rocky-9"}};
  };
  return {
      {"document",
       {{"category", "csaf_vex"},
        {"csaf_version", "2.0"},
        {"notes",
         {{{"category", "legal_disclaimer"},
           {"title", "Made-up test data"},
           {"text", "MADE UP by airheal's tests for made-up packages."}}}},
        {"publisher",
         {{"category", "other"},
          {"name", "airheal tests"},
          {"namespace", "https://airheal.invalid"}}},
        {"title", "libgreet: CVE-2026-99002 (test document)"},
        {"tracking",
         {{"current_release_date", "2026-11-01T00:00:00.000Z"},
          {"id", "AIRHEAL-TEST-CSAF-2026-0002"},
          {"initial_release_date", "2026-11-01T00:00:00.000Z"},
          {"revision_history",
           {{{"date", "2026-11-01T00:00:00.000Z"}, {"number", "1"}, {"summary", "Initial."}}}},
          {"status", "final"},
          {"version", "1"}}}}},
      {"product_tree",
       {{"branches",
         {{{"category", "vendor"},
           {"name", "Rocky"},
           {"branches",
            {{{"category", "product_name"},
              {"name", "Rocky Linux 9"},
              {"product",
               {{"name", "Rocky Linux 9"},
                {"product_id", "rocky-9"},
                {"product_identification_helper", {{"cpe", "cpe:/o:rocky:rocky:9::baseos"}}}}}},
             product("libgreet-1.1-1.el9", "pkg:rpm/rocky/libgreet@1.1-1.el9?arch=noarch"),
             product("libgreet-1.0-1.el9", "pkg:rpm/rocky/libgreet@1.0-1.el9?arch=noarch")}}}}},
        {"relationships", {rel("libgreet-1.1-1.el9"), rel("libgreet-1.0-1.el9")}}}},
      {"vulnerabilities",
       {{{"cve", "CVE-2026-99002"},
         {"notes", {{{"category", "description"}, {"text", "Made up."}, {"title", "Description"}}}},
         {"product_status",
          {{"fixed", {"rocky-9:libgreet-1.1-1.el9"}},
           {"known_affected", {"rocky-9:libgreet-1.0-1.el9"}}}},
         {"remediations",
          {{{"category", "vendor_fix"},
            {"details", "Upgrade libgreet to 1.1-1.el9."},
            {"product_ids", {"rocky-9:libgreet-1.0-1.el9"}}}}},
         {"threats", {{{"category", "impact"}, {"details", "Important"}}}}}}}};
}

}  // namespace

TEST_CASE("rpm images are healed by their own dnf and, without rpm, through the host's rpm",
          "[integration][heal][rpm][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  if (!have_program("dnf") || !have_program("createrepo_c"))
    FAIL("dnf and createrepo_c are needed (scripts/setup.sh installs them)");
  HealAppliance a;
  a.daemon = std::make_unique<Daemon>(Daemon::Options{
      a.state(),
      "scan:\n  poll_interval: 1s\nheal:\n  rules:\n"
      "    - {repository: \"apps/rocky-adv\", mode: advisory}\n"
      "    - {repository: \"apps/rocky-dnf\", test: [\"/usr/bin/sh\", \"-c\", \"/usr/bin/rpm -V "
      "libgreet "
      "greet-data >&2\"]}\n"
      "    - {repository: \"apps/rocky-micro\", test: [\"/usr/bin/sh\", \"-c\", "
      "\"read m < /usr/share/greet/message && test \\\"$m\\\" = \\\"hello from libgreet "
      "1.1\\\"\"]}\n",
      {}});
  BuildahCli buildah{a.tmp.path()};

  auto key = make_rpm_signing_key(a.tmp / "rpm-key", "airheal rpm test <rpm@test.invalid>");
  auto rpms = build_greet_rpms(a.tmp / "rpmbuild", key);
  fsys::create_directories(a.tmp / "repo");
  for (const auto& f : {rpms.base, rpms.libgreet_old, rpms.app})
    fsys::copy_file(f, a.tmp / "repo" / f.filename());
  create_rpm_repo(a.tmp / "repo");
  // apps/rocky-micro:1: greet-base, libgreet 1.0 and greet-app, no rpm in the image.
  auto micro = a.tmp / "micro";
  make_rpm_root(micro, a.tmp / "repo", {"greet-base", "libgreet", "greet-app"}, "rocky", "9.3",
                {key.public_key});
  REQUIRE_FALSE(fsys::exists(micro / "usr/bin/rpm"));
  buildah_image(a.tmp.path(), micro, a.reg() + "/apps/rocky-micro:1", {"/usr/bin/greet"});
  // apps/rocky-dnf:1: the same packages and the host's dnf.
  auto full = a.tmp / "with-dnf";
  make_rpm_root(full, a.tmp / "repo", {"greet-base", "libgreet", "greet-app"}, "rocky", "9.3",
                {key.public_key});
  add_host_dnf(full);
  buildah_image(a.tmp.path(), full, a.reg() + "/apps/rocky-dnf:1", {"/usr/bin/greet"});
  // apps/rocky-rpm:1: the same packages and the host's rpm, no dnf.
  auto bare = a.tmp / "with-rpm";
  make_rpm_root(bare, a.tmp / "repo", {"greet-base", "libgreet", "greet-app"}, "rocky", "9.3",
                {key.public_key});
  add_host_rpm(bare);
  REQUIRE_FALSE(fsys::exists(bare / "usr/bin/dnf"));
  buildah_image(a.tmp.path(), bare, a.reg() + "/apps/rocky-rpm:1", {"/usr/bin/greet"});
  run_ok({"skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
          "docker://" + a.reg() + "/apps/rocky-dnf:1",
          "docker://" + a.reg() + "/apps/rocky-adv:1"});

  // The snapshot: every greet package built, and both advisories.
  fsys::create_directories(a.tmp / "rpms");
  for (const auto& f : {rpms.base, rpms.libgreet_old, rpms.libgreet_new, rpms.data, rpms.app})
    fsys::copy_file(f, a.tmp / "rpms" / f.filename());
  fsys::create_directories(a.tmp / "adv");
  std::ofstream(a.tmp / "adv" / "AIRHEAL-TEST-RLSA-2026-0001.json") << greet_osv().dump(2);
  std::ofstream(a.tmp / "adv" / "airheal-test-csaf-2026-0002.json") << greet_csaf().dump(2);
  a.import("rocky",
           {"--advisories", (a.tmp / "adv").string(), "--packages", (a.tmp / "rpms").string()});
  auto heals =
      a.wait_heals({"apps/rocky-dnf", "apps/rocky-micro", "apps/rocky-adv", "apps/rocky-rpm"});
  INFO(a.ctl({"heals"}).out << a.daemon->log().substr(0, 30000));

  for (auto repo : {"apps/rocky-dnf:1", "apps/rocky-micro:1"}) {
    std::set<std::string> ids;
    for (const auto& f : a.ctl_json({"findings", "--image", repo})) {
      CHECK(f["package"] == "libgreet");
      ids.insert(f["advisory"].get<std::string>());
    }
    CHECK(ids == std::set<std::string>{"AIRHEAL-TEST-RLSA-2026:0001", "CVE-2026-99002"});
  }

  // With dnf: the image's own dnf installed the fixed build and what it requires.
  auto h = heals["apps/rocky-dnf"];
  INFO(h.dump(2));
  REQUIRE(h["state"] == "staged");
  CHECK(h["strategy"] == "package-patch");
  CHECK(h["plan"]["installer"] == "dnf");
  CHECK(h["plan"]["family"] == "rpm");
  std::set<std::string> pinned;
  for (const auto& p : h["plan"]["packages"])
    pinned.insert(p["name"].get<std::string>() + "=" + p["version"].get<std::string>());
  CHECK(pinned == std::set<std::string>{"greet-data=1.1-1.el9", "libgreet=1.1-1.el9"});
  CHECK_THAT(h["plan"]["explanation"].get<std::string>(), Catch::Contains("own dnf"));
  auto staged = "apps/rocky-dnf:" + h["staged_tag"].get<std::string>();
  auto inv = rpm_versions(a.ctl_json({"inventory", staged}));
  CHECK(inv["libgreet"] == "1.1-1.el9");
  CHECK(inv["greet-data"] == "1.1-1.el9");
  CHECK(inv["greet-app"] == "1.0-1.el9");  // not in any finding: left as it was
  CHECK(a.ctl_json({"findings", "--image", staged}).empty());
  auto hc = buildah.container(a.reg() + "/" + staged);
  auto run_in = [&](const std::string& c, const std::vector<std::string>& argv) {
    std::vector<std::string> v = {"run", "--runtime", "runc", "--network", "none", c, "--"};
    v.insert(v.end(), argv.begin(), argv.end());
    return buildah(v).out;
  };
  CHECK(run_in(hc, {"rpm", "-q", "libgreet", "greet-data"}) ==
        "libgreet-1.1-1.el9.noarch\ngreet-data-1.1-1.el9.noarch\n");
  CHECK(run_in(hc, {"rpm", "-V", "libgreet", "greet-data", "greet-app"}).empty());
  CHECK(run_in(hc, {"/usr/bin/greet"}) == "hello from libgreet 1.1\n");
  // dnf ran the %post scriptlet inside the image
  CHECK(run_in(hc, {"/usr/bin/sh", "-c", "cat /var/lib/greet/post-ran"}) ==
        "libgreet 1.1 %post ran\n");

  // With rpm and no dnf: rpm -K checked the signatures with the image's keys, rpm -U upgraded.
  auto r = heals["apps/rocky-rpm"];
  INFO(r.dump(2));
  REQUIRE(r["state"] == "staged");
  CHECK(r["plan"]["installer"] == "rpm");
  auto rref = "apps/rocky-rpm:" + r["staged_tag"].get<std::string>();
  CHECK(a.ctl_json({"findings", "--image", rref}).empty());
  auto rc = buildah.container(a.reg() + "/" + rref);
  CHECK(run_in(rc, {"/usr/bin/rpm", "-q", "libgreet", "greet-data"}) ==
        "libgreet-1.1-1.el9.noarch\ngreet-data-1.1-1.el9.noarch\n");
  CHECK(run_in(rc, {"/usr/bin/rpm", "-V", "libgreet", "greet-data", "greet-app"}).empty());

  // Advisory mode: the outbox builds by hand, offline, with the same dnf install (heal.sh, every
  // value quoted; the createrepo_c repository and repos.d beside it).
  auto adv = heals["apps/rocky-adv"];
  INFO(adv.dump(2));
  REQUIRE(adv["state"] == "held");
  auto outbox = a.state() / "outbox" / ("heal-" + std::to_string(adv["id"].get<int>()));
  auto script = fs::read_file(outbox / "repo" / "heal.sh", 1 << 20);
  REQUIRE(script);
  CHECK_THAT(*script, Catch::Contains("'dnf' '-y' '--noplugins'"));
  CHECK(fsys::exists(outbox / "repo" / "signed" / "repodata" / "repomd.xml"));
  CHECK_FALSE(fsys::exists(outbox / "repo" / "unsigned"));
  auto repos = fs::read_file(outbox / "repo" / "repos.d" / "airheal.repo", 1 << 20);
  REQUIRE(repos);
  CHECK_THAT(*repos, Catch::Contains("[airheal-signed]") && Catch::Contains("gpgcheck=1"));
  CHECK(fsys::exists(outbox / "repo" / "repos.d" / "airheal.repo"));
  buildah.build_outbox(outbox, a.reg(), "localhost/rocky-by-hand:1");
  auto bh = buildah.container("localhost/rocky-by-hand:1");
  CHECK(run_in(bh, {"rpm", "-q", "libgreet", "greet-data"}) ==
        "libgreet-1.1-1.el9.noarch\ngreet-data-1.1-1.el9.noarch\n");

  // Without rpm: the host's rpm wrote the image's database, nothing from the image ran.
  auto m = heals["apps/rocky-micro"];
  INFO(m.dump(2));
  REQUIRE(m["state"] == "staged");
  CHECK(m["strategy"] == "package-files");
  CHECK(m["plan"]["installer"] == "host-rpm");
  std::set<std::string> mpinned;
  for (const auto& p : m["plan"]["packages"]) {
    mpinned.insert(p["name"].get<std::string>());
    CHECK(p["record"] == "var/lib/rpm");
  }
  CHECK(mpinned == std::set<std::string>{"greet-data", "libgreet"});
  auto explanation = m["plan"]["explanation"].get<std::string>();
  CHECK_THAT(explanation, Catch::Contains("host's rpm") &&
                              Catch::Contains("%post (/bin/sh) scriptlet of libgreet 1.1-1.el9 "
                                              "is not run"));
  auto mref = "apps/rocky-micro:" + m["staged_tag"].get<std::string>();
  auto minv = rpm_versions(a.ctl_json({"inventory", mref}));
  CHECK(minv["libgreet"] == "1.1-1.el9");
  CHECK(minv["greet-data"] == "1.1-1.el9");
  CHECK(a.ctl_json({"findings", "--image", mref}).empty());
  // The healed micro root, checked by the host's rpm: the database records the fixed builds and
  // their files are as recorded; the file 1.0 alone shipped is gone; the %post did not run.
  auto mc = buildah.container(a.reg() + "/" + mref);
  auto mount = buildah({"mount", mc}).out;
  mount = mount.substr(0, mount.find_last_not_of("\n ") + 1);
  auto copy = a.tmp / "healed-micro";
  run_ok({"cp", "-a", mount, copy.string()});
  buildah({"umount", mc});
  CHECK(rpm_in_root(copy, {"-q", "libgreet", "greet-data"}) ==
        "libgreet-1.1-1.el9.noarch\ngreet-data-1.1-1.el9.noarch\n");
  CHECK(rpm_in_root(copy, {"-V", "libgreet", "greet-data", "greet-app", "greet-base"}).empty());
  CHECK_FALSE(fsys::exists(copy / "usr/share/greet/old-only"));
  // (1.0's %post ran when the host's dnf made the image; 1.1's did not run)
  std::ifstream post(copy / "var/lib/greet/post-ran");
  std::string ran;
  std::getline(post, ran);
  CHECK(ran == "libgreet 1.0 %post ran");
  CHECK(run_in(mc, {"/usr/bin/greet"}) == "hello from libgreet 1.1\n");
}
