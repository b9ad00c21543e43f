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

std::string describe(const std::vector<std::string>& argv, const ProcessResult& r) {
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  return cmd + "\nexit " + std::to_string(r.exit_code) + "\nstdout: " + r.out.substr(0, 6000) + "\nstderr: " + r.err.substr(0, 6000);
}

ProcessResult must(const std::vector<std::string>& argv) {
  auto r = run(argv, std::chrono::seconds(900));
  INFO(describe(argv, r));
  REQUIRE(r.exit_code == 0);
  return r;
}

struct Appliance {
  TempDir tmp;
  Daemon daemon;
  Signer signer{tmp / "gpg", "Feed Signer"};
  std::string reg = "127.0.0.1:" + std::to_string(daemon.port());
  std::set<std::string> trusted;
  int sequence = 0;

  ~Appliance() {
    run({"gpgconf", "--homedir", (daemon.state_dir() / "trust" / "gnupg").string(), "--kill", "all"}, std::chrono::seconds(20));
  }
  ProcessResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", daemon.state_dir().string()});
    auto r = run(args, std::chrono::seconds(900));
    INFO(describe(args, r));
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
    must({"skopeo", "copy", "--quiet", "--dest-tls-verify=false", "oci:" + img.layout.string() + ":" + img.tag,
          "docker://" + reg + "/" + repo + ":" + tag});
    HttpClient http("127.0.0.1", daemon.port());
    auto r = http.get("/v2/" + repo + "/manifests/" + tag,
                      {{"Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"}});
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
  json import_advisories(const std::string& channel, const fsys::path& dir) {
    if (!trusted.count(channel)) {
      ctl({"trust", "add", signer.write_public_key(tmp.path()).string(), "--channel", channel});
      trusted.insert(channel);
    }
    auto file = tmp / (channel + "-" + std::to_string(++sequence) + ".snapshot");
    must({airheal_snapshot_path().string(), "create", "--channel", channel, "--sequence", std::to_string(sequence),
          "--expires", "30d", "--out", file.string(), "--advisories", dir.string()});
    must({airheal_snapshot_path().string(), "sign", file.string(), "--key", signer.fingerprint(), "--gpg-home",
          signer.home().string()});
    return ctl_json({"import", file.string()});
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
  auto r = run({"/usr/bin/python3", std::string(AIRHEAL_SOURCE_DIR) + "/tests/support/validate_json_schema.py",
                schemas + "bom-1.5.SNAPSHOT.schema.json", file.string(), schemas + "spdx.SNAPSHOT.schema.json",
                schemas + "jsf-0.82.SNAPSHOT.schema.json"});
  INFO(r.out << r.err);
  return r.exit_code;
}

}  // namespace

TEST_CASE("A real bookworm main image yields the findings its security updates name, by source package",
          "[integration][scan][slow]") {
  auto tar = debian_minbase_tar();
  auto tracker = debian_security_tracker();
  Appliance a;
  auto img = make_oci_image_from_tars(a.tmp / "layout", "bookworm-main", {tar});
  auto pushed = a.push_layout(img, "debian", "bookworm-main");

  // Scanned on push; both SBOMs are served as referrers.
  auto refs = a.wait_for_sboms("debian", pushed.digest);
  std::set<std::string> types;
  HttpClient http("127.0.0.1", a.daemon.port());
  for (const auto& m : refs["manifests"]) {
    types.insert(m["artifactType"].get<std::string>());
    auto man = json::parse(http.get("/v2/debian/manifests/" + m["digest"].get<std::string>(),
                                    {{"Accept", "application/vnd.oci.image.manifest.v1+json"}}).body);
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
  auto filtered = json::parse(http.get("/v2/debian/referrers/" + pushed.digest + "?artifactType=application/spdx%2Bjson").body);
  CHECK(filtered["manifests"].size() == 1);

  // The inventory agrees with dpkg's own reading of the status file.
  auto inv = a.ctl_json({"inventory", "debian:bookworm-main"});
  CHECK(inv["os"]["id"] == "debian");
  CHECK(inv["os"]["version_id"] == "12");
  fsys::create_directories(a.tmp / "admin" / "info");
  fsys::copy_file(debian_minbase_status(), a.tmp / "admin" / "status");
  auto dq = must({"dpkg-query", "--admindir=" + (a.tmp / "admin").string(), "-W", "-f",
                  "${Package}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Status}\n"});
  std::map<std::string, std::pair<std::string, std::string>> dpkg_sources;  // binary -> (source, source version)
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
    if (c["type"] == "deb") mine[c["name"].get<std::string>()] = {c["source"].get<std::string>(), c["source_version"].get<std::string>()};
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
  auto imported = a.import_advisories("debian", advdir);
  CHECK(imported["scan"]["rematched"] == 1);

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
      if (run({"dpkg", "--compare-versions", installed_source[src], "lt", fixed}).exit_code == 0) expected.insert({src, cve});
    }
  REQUIRE_FALSE(expected.empty());
  auto findings = a.ctl_json({"findings"});
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
