// The scanner end to end: real images pushed with skopeo and buildah into the real daemon, scanned
// automatically, matched against advisories imported from signed snapshots, SBOMs fetched through
// the referrers API, and VEX statements and exceptions applied, all through airhealctl.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/fs.hpp"
#include "scan/pkgdb.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

struct ScanAppliance {
  explicit ScanAppliance(std::string config = "")
      : daemon(Daemon::Options{{}, std::move(config), {}}) {}
  TempDir tmp;
  Daemon daemon;
  Signer signer{tmp / "gpg", "Feed Signer"};
  std::string reg = "127.0.0.1:" + std::to_string(daemon.port());
  std::set<std::string> trusted;
  int sequence = 0;

  ~ScanAppliance() {
    run({"gpgconf", "--homedir", (daemon.state_dir() / "trust" / "gnupg").string(), "--kill",
         "all"},
        std::chrono::seconds(20));
  }
  ProcessResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(),
                {airhealctl_path().string(), "--state-dir", daemon.state_dir().string()});
    auto r = run(args, std::chrono::seconds(900));
    INFO(describe_run(args, r));
    REQUIRE(r.exit_code == 0);
    return r;
  }
  json ctl_json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    return json::parse(ctl(args).out);
  }
  // Pushes with skopeo (which may recompress layers) and returns what the registry holds.
  struct Pushed {
    std::string digest;
    std::vector<std::string> layers;
  };
  Pushed push_layout(const OciImage& img, const std::string& repo, const std::string& tag) {
    run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
            "oci:" + img.layout.string() + ":" + img.tag,
            "docker://" + reg + "/" + repo + ":" + tag});
    HttpClient http("127.0.0.1", daemon.port());
    auto r = http.get("/v2/" + repo + "/manifests/" + tag,
                      {{"Accept",
                        "application/vnd.oci.image.manifest.v1+json, "
                        "application/vnd.docker.distribution.manifest.v2+json"}});
    REQUIRE(r.status == 200);
    Pushed p;
    p.digest = sha256_digest(r.body);
    INFO(r.body);
    auto manifest = json::parse(r.body);
    for (const auto& l : manifest["layers"]) p.layers.push_back(l["digest"]);
    REQUIRE_FALSE(p.layers.empty());
    return p;
  }
  // Signs and imports a snapshot of advisory files on a channel.
  json import_advisories(const std::string& channel, const fsys::path& dir,
                         std::vector<std::string> extra = {}) {
    if (!trusted.count(channel)) {
      ctl({"trust", "add", signer.write_public_key(tmp.path()).string(), "--channel", channel});
      trusted.insert(channel);
    }
    auto file = tmp / (channel + "-" + std::to_string(++sequence) + ".snapshot");
    run_ok({airheal_snapshot_path().string(), "create", "--channel", channel, "--sequence",
            std::to_string(sequence), "--expires", "30d", "--out", file.string(), "--advisories",
            dir.string()});
    run_ok({airheal_snapshot_path().string(), "sign", file.string(), "--key", signer.fingerprint(),
            "--gpg-home", signer.home().string()});
    std::vector<std::string> args = {"import", file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return ctl_json(args);
  }
  // Waits until the daemon has attached both SBOMs to the image (it scans on push).
  json wait_for_sboms(const std::string& repo, const std::string& digest) {
    HttpClient http("127.0.0.1", daemon.port());
    for (int i = 0; i < 600; ++i) {
      auto r = http.get("/v2/" + repo + "/referrers/" + digest);
      if (r.status == 200) {
        auto j = json::parse(r.body);
        if (j["manifests"].size() >= 2) return j;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    FAIL("the daemon did not scan " << repo << "@" << digest << " within 120 s:\n" << daemon.log());
    return {};
  }
  std::vector<json> journal(const std::string& type) {
    std::vector<json> out;
    std::ifstream in(daemon.state_dir() / "audit" / "journal.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto j = json::parse(line);
      if (j.value("type", "") == type) out.push_back(j);
    }
    return out;
  }
};

int validate_cyclonedx(const std::string& doc, const fsys::path& dir) {
  auto file = dir / "bom.json";
  std::ofstream(file) << doc;
  auto schemas = std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/schemas/cyclonedx/";
  auto r = run({"/usr/bin/python3",
                std::string(AIRHEAL_SOURCE_DIR) + "/tests/support/validate_json_schema.py",
                schemas + "bom-1.5.SNAPSHOT.schema.json", file.string(),
                schemas + "spdx.SNAPSHOT.schema.json", schemas + "jsf-0.82.SNAPSHOT.schema.json"});
  UNSCOPED_INFO(r.out << r.err);  // shown with the caller's CHECK
  if (r.exit_code)
    std::filesystem::copy_file(file, "/tmp/failed-bom.json",
                               std::filesystem::copy_options::overwrite_existing);
  return r.exit_code;
}

}  // namespace

TEST_CASE(
    "A real bookworm main image yields the findings its security updates name, by source package",
    "[integration][scan][slow]") {
  auto tar = debian_minbase_tar();
  auto tracker = debian_security_tracker();
  ScanAppliance a;
  auto img = make_oci_image_from_tars(a.tmp / "layout", "bookworm-main", {tar});
  auto pushed = a.push_layout(img, "debian", "bookworm-main");

  // Scanned on push; both SBOMs are served as referrers.
  auto refs = a.wait_for_sboms("debian", pushed.digest);
  std::set<std::string> types;
  HttpClient http("127.0.0.1", a.daemon.port());
  for (const auto& m : refs["manifests"]) {
    types.insert(m["artifactType"].get<std::string>());
    auto man = json::parse(http.get("/v2/debian/manifests/" + m["digest"].get<std::string>(),
                                    {{"Accept", "application/vnd.oci.image.manifest.v1+json"}})
                               .body);
    CHECK(man["subject"]["digest"] == pushed.digest);
    auto doc = http.get("/v2/debian/blobs/" + man["layers"][0]["digest"].get<std::string>()).body;
    if (m["artifactType"] == "application/vnd.cyclonedx+json") {
      CHECK(validate_cyclonedx(doc, a.tmp.path()) == 0);
      CHECK(json::parse(doc)["components"].size() > 80);
    } else {
      CHECK(json::parse(doc)["spdxVersion"] == "SPDX-2.3");
    }
  }
  CHECK(types == std::set<std::string>{"application/vnd.cyclonedx+json", "application/spdx+json"});
  auto filtered = json::parse(
      http.get("/v2/debian/referrers/" + pushed.digest + "?artifactType=application/spdx%2Bjson")
          .body);
  CHECK(filtered["manifests"].size() == 1);

  // The inventory agrees with dpkg's own reading of the status file.
  auto inv = a.ctl_json({"inventory", "debian:bookworm-main"});
  CHECK(inv["os"]["id"] == "debian");
  CHECK(inv["os"]["version_id"] == "12");
  fsys::create_directories(a.tmp / "admin" / "info");
  fsys::copy_file(debian_minbase_status(), a.tmp / "admin" / "status");
  auto dq = run_ok(
      {"dpkg-query", "--admindir=" + (a.tmp / "admin").string(), "-W", "-f",
       "${Package}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Status}\n"});
  std::map<std::string, std::pair<std::string, std::string>>
      dpkg_sources;  // binary -> (source, source version)
  std::istringstream lines(dq.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream ls(line);
    std::string x;
    while (std::getline(ls, x, '\t')) f.push_back(x);
    if (f.size() == 5 && f[4] == "installed") dpkg_sources[f[0]] = {f[2], f[3]};
  }
  std::map<std::string, std::pair<std::string, std::string>> mine;
  for (const auto& c : inv["components"]) {
    CHECK(c["layer"] == pushed.layers[0]);
    if (c["type"] == "deb")
      mine[c["name"].get<std::string>()] = {c["source"].get<std::string>(),
                                            c["source_version"].get<std::string>()};
  }
  for (const auto& [bin, sv] : dpkg_sources) {
    INFO(bin << " dpkg: " << sv.first << " " << sv.second);
    REQUIRE(mine.count(bin));
    CHECK(mine[bin] == sv);
  }
  for (const auto& [bin, sv] : mine) {
    INFO("only airheal lists " << bin);
    CHECK(dpkg_sources.count(bin));
  }

  // No advisories yet: no findings.
  CHECK(a.ctl_json({"findings"}).empty());

  // Advisories from bookworm-security, imported through a signed snapshot.
  auto advdir = a.tmp / "adv";
  fsys::create_directories(advdir);
  fsys::copy_file(tracker, advdir / "debian-security-tracker.json");
  // Imported without scanning: the running daemon notices the import and re-matches by itself.
  auto imported = a.import_advisories("debian", advdir, {"--no-scan"});
  CHECK(imported["scan"]["rematched"] == 0);
  json findings;
  for (int i = 0; i < 300 && findings.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    findings = a.ctl_json({"findings"});
  }

  // Expected, independently: every (source, CVE) whose fix is newer than the installed source
  // version by dpkg --compare-versions.
  auto doc = json::parse(*fs::read_file(tracker, 64 << 20));
  std::set<std::pair<std::string, std::string>> expected;
  std::map<std::string, std::string> installed_source;
  for (const auto& [bin, sv] : dpkg_sources) installed_source[sv.first] = sv.second;
  for (const auto& [src, cves] : doc.items())
    for (const auto& [cve, rec] : cves.items()) {
      auto fixed = rec["releases"]["bookworm"]["fixed_version"].get<std::string>();
      if (!installed_source.count(src)) continue;
      if (run({"dpkg", "--compare-versions", installed_source[src], "lt", fixed}).exit_code == 0)
        expected.insert({src, cve});
    }
  REQUIRE_FALSE(expected.empty());
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& f : findings) {
    got.insert({f["source"].get<std::string>(), f["advisory"].get<std::string>()});
    CHECK(f["installed"] == installed_source[f["source"].get<std::string>()]);
    CHECK(f["vendor_status"] == "fixed");
    CHECK(f["fix_available"] == "none");
    CHECK_FALSE(f["fixed"].get<std::string>().empty());
    CHECK(f["layer"] == pushed.layers[0]);
    CHECK(f["names"].size() >= 1);
  }
  CHECK(got == expected);
  // Every binary package built from an affected source is reported.
  std::set<std::string> binaries;
  for (const auto& f : findings) binaries.insert(f["package"].get<std::string>());
  for (const auto& [bin, sv] : dpkg_sources)
    for (const auto& [src, cve] : expected)
      if (sv.first == src) CHECK(binaries.count(bin));
  // The human form names each one.
  auto text = a.ctl({"findings"}).out;
  CHECK(text.find(expected.begin()->second) != std::string::npos);
  CHECK(text.find(std::to_string(findings.size()) + " findings") != std::string::npos);
  // --severity filters, --image narrows.
  auto high = a.ctl_json({"findings", "--severity", "high"});
  for (const auto& f : high) CHECK((f["severity"] == "high" || f["severity"] == "critical"));
  CHECK(a.ctl_json({"findings", "--image", "debian:bookworm-main"}).size() == findings.size());
}

namespace {

std::set<std::string> advisories_of(const json& findings, const std::string& package) {
  std::set<std::string> out;
  for (const auto& f : findings)
    if (f["package"] == package) out.insert(f["advisory"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE(
    "Distroless and Go images are inventoried, imports re-match only affected images, VEX and "
    "exceptions suppress",
    "[integration][scan][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  auto gobin = go_binary();
  auto tracker = debian_security_tracker();
  // The daemon only reacts to pushes here (no polling), so each import's re-match is the CLI's own.
  ScanAppliance a("scan:\n  poll_interval: 1h\n");
  HttpClient http("127.0.0.1", a.daemon.port());
  auto accept =
      std::map<std::string, std::string>{{"Accept", "application/vnd.oci.image.manifest.v1+json"}};

  auto droot = distroless_root(a.tmp / "distroless");
  buildah_image(a.tmp.path(), droot, a.reg + "/apps/distroless:1");
  auto groot = a.tmp / "goroot";
  fsys::create_directories(groot);
  fsys::copy_file(gobin, groot / "app");
  fsys::permissions(groot / "app", fsys::perms::owner_all);
  buildah_image(a.tmp.path(), groot, a.reg + "/apps/go-app:1");
  auto ddig = sha256_digest(http.get("/v2/apps/distroless/manifests/1", accept).body);
  auto gdig = sha256_digest(http.get("/v2/apps/go-app/manifests/1", accept).body);
  a.wait_for_sboms("apps/distroless", ddig);
  a.wait_for_sboms("apps/go-app", gdig);

  // Distroless: every status.d form read, md5sums used as file lists and never as packages.
  auto dinv = a.ctl_json({"inventory", "apps/distroless:1"});
  std::map<std::string, json> dp;
  for (const auto& c : dinv["components"]) dp[c["name"].get<std::string>()] = c;
  CHECK(dp.size() == 6);
  for (auto p : {"base-files", "libc6", "libcrypt1", "zlib1g", "perl-base", "libpcre2-8-0"}) {
    INFO(p);
    REQUIRE(dp.count(p));
    CHECK(dp[p]["version"] == minbase_version(p));
  }
  CHECK(dp["libc6"]["source"] == "glibc");
  CHECK(dp["libc6"]["files"].get<int>() > 10);
  CHECK(dp["perl-base"]["location"] == "var/lib/dpkg/status.d/perl-base/control");
  CHECK(dp["perl-base"]["files"].get<int>() > 10);
  CHECK(dp["zlib1g"]["location"] == "var/lib/dpkg/status.d/base");
  CHECK(dp["zlib1g"]["source"] == "zlib");
  CHECK(dinv["os"]["id"] == "debian");
  // The final filesystem, each path with the layer that provides it (what the heal engine needs).
  auto files = a.ctl_json({"inventory", "apps/distroless:1", "--files"});
  std::map<std::string, json> by_path;
  for (const auto& f : files) by_path[f["path"].get<std::string>()] = f;
  REQUIRE(by_path.count("usr/bin/perl"));
  CHECK(by_path["usr/bin/perl"]["layer"] == dinv["layers"][0]);
  CHECK(by_path.count("var/lib/dpkg/status.d/perl-base/md5sums"));

  // Go: the toolchain's standard library, the main module and the replaced dependency.
  auto ginv = a.ctl_json({"inventory", "apps/go-app:1"});
  std::map<std::string, json> gp;
  for (const auto& c : ginv["components"]) gp[c["name"].get<std::string>()] = c;
  auto gov =
      run_ok({"/usr/lib/go-1.19/bin/go", "version"}).out;  // "go version go1.19.8 linux/amd64"
  auto gover = gov.substr(gov.find("go1."), gov.find(' ', gov.find("go1.")) - gov.find("go1."));
  REQUIRE(gp.count("stdlib"));
  CHECK("go" + gp["stdlib"]["version"].get<std::string>() == gover);
  CHECK(gp["stdlib"]["location"] == "app");
  CHECK(gp["stdlib"]["purl"] == "pkg:golang/stdlib@" + gp["stdlib"]["version"].get<std::string>());
  REQUIRE(gp.count("example.com/app"));
  CHECK(gp["example.com/app"]["version"] == "(devel)");
  REQUIRE(gp.count("example.com/greeter"));
  CHECK(gp["example.com/greeter"]["version"] == "");
  CHECK(gp["stdlib"]["layer"] == ginv["layers"][0]);

  // Debian advisories re-match the distroless image only; Go advisories the Go image only.
  auto deb_dir = a.tmp / "adv-deb";
  fsys::create_directories(deb_dir);
  fsys::copy_file(tracker, deb_dir / "debian-security-tracker.json");
  CHECK(a.import_advisories("debian", deb_dir)["scan"]["rematched"] == 1);
  auto go_dir = a.tmp / "adv-go";
  fsys::create_directories(go_dir);
  auto osv = [&](const std::string& id) {
    fsys::copy_file(fsys::path(AIRHEAL_SOURCE_DIR) / "tests/data/osv-go" / (id + ".json"),
                    go_dir / (id + ".json"), fsys::copy_options::overwrite_existing);
  };
  for (auto id : {"GO-2021-0159", "GO-2022-0525", "GO-2024-2888", "GO-2025-3563"}) osv(id);
  CHECK(a.import_advisories("go", go_dir)["scan"]["rematched"] == 1);
  auto findings = a.ctl_json({"findings"});
  CHECK(advisories_of(findings, "stdlib") == std::set<std::string>{"GO-2024-2888", "GO-2025-3563"});
  CHECK_FALSE(advisories_of(findings, "perl-base").empty());
  CHECK_FALSE(advisories_of(findings, "libpcre2-8-0").empty());
  CHECK(advisories_of(findings, "libc6").empty());
  // Same advisories again: nothing changed, nothing re-matched. One more Go advisory: one image.
  CHECK(a.import_advisories("debian", deb_dir)["scan"]["rematched"] == 0);
  osv("GO-2026-4976");
  CHECK(a.import_advisories("go", go_dir)["scan"]["rematched"] == 1);
  findings = a.ctl_json({"findings", "--image", "apps/go-app:1"});
  CHECK(advisories_of(findings, "stdlib") ==
        std::set<std::string>{"GO-2024-2888", "GO-2025-3563", "GO-2026-4976"});

  // VEX: not_affected by an alias suppresses; --all shows it with the statement.
  a.ctl({"vex", "add", "--vulnerability", "CVE-2025-22871", "--product", "apps/go-*", "--status",
         "not_affected", "--justification", "vulnerable_code_not_in_execute_path"});
  findings = a.ctl_json({"findings", "--image", "apps/go-app:1"});
  CHECK(advisories_of(findings, "stdlib") == std::set<std::string>{"GO-2024-2888", "GO-2026-4976"});
  auto all = a.ctl_json({"findings", "--image", "apps/go-app:1", "--all"});
  bool seen = false;
  for (const auto& f : all)
    if (f["advisory"] == "GO-2025-3563") {
      seen = true;
      CHECK(f["suppressed"]["by"] == "vex");
    }
  CHECK(seen);
  auto vex = a.ctl_json({"vex", "export"});
  CHECK(vex["@context"] == "https://openvex.dev/ns/v0.2.0");
  CHECK(vex["statements"].size() == 1);
  CHECK(vex["statements"][0]["justification"] == "vulnerable_code_not_in_execute_path");
  // OpenVEX products are the served images as pkg:oci purls with their digests, so Trivy and
  // Grype can apply them; a named package becomes the purls of that package in each image.
  auto go_app_digest = findings[0]["image"].get<std::string>();
  REQUIRE(go_app_digest.rfind("sha256:", 0) == 0);
  CHECK(vex["statements"][0]["products"][0]["@id"] ==
        "pkg:oci/go-app@sha256%3A" + go_app_digest.substr(7));
  a.ctl({"vex", "add", "--vulnerability", "GO-2026-4976", "--product", "apps/go-app",
         "--subcomponent", "stdlib", "--status", "under_investigation"});
  vex = a.ctl_json({"vex", "export"});
  REQUIRE(vex["statements"].size() == 2);
  const auto& subs = vex["statements"][1]["products"][0]["subcomponents"];
  REQUIRE(subs.size() >= 1);
  for (const auto& s : subs)
    CHECK_THAT(s["@id"].get<std::string>(), Catch::StartsWith("pkg:golang/stdlib@"));

  // A time-boxed exception suppresses until it expires, then the finding is back.
  a.ctl({"exception", "add", "--vulnerability", "GO-2024-2888", "--product", "apps/go-app",
         "--reason", "only reachable from the admin network", "--expires", "3s"});
  findings = a.ctl_json({"findings", "--image", "apps/go-app:1"});
  CHECK(advisories_of(findings, "stdlib") == std::set<std::string>{"GO-2026-4976"});
  CHECK(a.ctl_json({"exception", "list"}).size() == 1);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  findings = a.ctl_json({"findings", "--image", "apps/go-app:1"});
  CHECK(advisories_of(findings, "stdlib") == std::set<std::string>{"GO-2024-2888", "GO-2026-4976"});
  CHECK(a.ctl_json({"exception", "list"}).empty());
  auto ex = a.ctl_json({"exception", "export"});
  REQUIRE(ex.size() == 1);
  CHECK(ex[0]["state"] == "expired");
  CHECK(ex[0]["created_by"] == "root");  // the calling Unix user, mapped: never free text
  // Every change is in the journal.
  CHECK(a.journal("vex.added").size() == 2);
  CHECK(a.journal("exception.added").size() == 1);
  CHECK(a.journal("image.scanned").size() >= 2);
}
