// Heals of images that can run nothing: a distroless-style image (files from real .debs, status.d
// records, no shell, no package manager) healed per package from bookworm-security's .debs, and a
// FROM scratch Go image whose only binary is replaced by a signed gold artefact. Also: the signed
// attestations (verified by gpg), webhooks, planner-made deferral exceptions, a canary that rolls
// a promotion back, a daemon killed in the middle of a build, a dependency pin for a go.mod
// written to the outbox (and built offline from it), and the smoke test's memory bound.
#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/fs.hpp"
#include "heal/webhooks.hpp"
#include "registry/auth.hpp"
#include "support/heal_fixtures.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"
#include "support/webhook_sink.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

using FilesAppliance = HealAppliance;

std::string digest_of(HttpClient& http, const std::string& repo, const std::string& ref) {
  auto r = http.get("/v2/" + repo + "/manifests/" + ref,
                    {{"Accept", "application/vnd.oci.image.manifest.v1+json"}});
  return r.status == 200 ? sha256_digest(r.body) : "";
}

std::string b64decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 4)
    out += registry::base64_decode(s.substr(i, 4)).value_or("");
  return out;
}

}  // namespace

TEST_CASE("A distroless image is healed per package and a FROM scratch image by a gold artefact",
          "[integration][heal][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  auto tracker = debian_security_tracker();
  auto old_app = go_greeter_app("v1.2.3");
  auto new_app = go_greeter_app("v1.2.4");
  WebhookSink sink(kWebhookKey);
  FilesAppliance a;
  std::ofstream(a.tmp / "webhook.key") << kWebhookKey << "\n";
  a.start("scan:\n  poll_interval: 1s\nheal:\n  webhook_secret_file: \"" +
          (a.tmp / "webhook.key").string() +
          "\"\n  webhooks: [\"http://127.0.0.1:" + std::to_string(sink.port()) +
          "/hooks/airheal\"]\n  rules:\n"
          "    - {repository: \"apps/distroless\", test: [\"/usr/bin/perl\", \"-e\", \"exit 0\"]}\n"
          "    - {repository: \"apps/scratch\", mode: continuous, test: [\"/app\"]}\n"
          "    - {repository: \"apps/canary\", mode: continuous, canary: [\"/app\", \"fail\"]}\n");
  HttpClient http("127.0.0.1", a.daemon->port());

  auto droot = distroless_root(a.tmp / "distroless");
  buildah_image(a.tmp.path(), droot, a.reg() + "/apps/distroless:1");
  auto groot = a.tmp / "goroot";
  fsys::create_directories(groot);
  fsys::copy_file(old_app, groot / "app");
  fsys::permissions(groot / "app",
                    fsys::perms::owner_all | fsys::perms::group_read | fsys::perms::others_read);
  buildah_image(a.tmp.path(), groot, a.reg() + "/apps/scratch:1", {"/app"});
  buildah_image(a.tmp.path(), groot, a.reg() + "/apps/canary:1", {"/app"});
  auto original = std::map<std::string, std::string>{
      {"apps/distroless", digest_of(http, "apps/distroless", "1")},
      {"apps/scratch", digest_of(http, "apps/scratch", "1")},
      {"apps/canary", digest_of(http, "apps/canary", "1")}};

  // Debian: the tracker's advisories and bookworm-security's builds of the two vulnerable sources
  // the distroless image carries (perl-base from perl, libpcre2-8-0 from pcre2).
  fsys::create_directories(a.tmp / "deb-adv");
  fsys::create_directories(a.tmp / "debs");
  fsys::copy_file(tracker, a.tmp / "deb-adv" / "tracker.json");
  std::map<std::string, std::string> fixed;
  for (auto p : {"perl-base", "libpcre2-8-0"}) {
    auto deb = security_deb(p);
    REQUIRE_FALSE(deb.empty());
    fsys::copy_file(deb, a.tmp / "debs" / deb.filename());
    fixed[p] = run_ok({"dpkg-deb", "-f", deb.string(), "Version"}).out;
    fixed[p].pop_back();
  }
  a.import("debian",
           {"--advisories", (a.tmp / "deb-adv").string(), "--packages", (a.tmp / "debs").string()});
  // Go: an advisory fixed in greeter v1.2.4 (the gold artefact carries it), one with no fix yet.
  fsys::create_directories(a.tmp / "go-adv");
  fsys::create_directories(a.tmp / "gold");
  write_greeter_advisory(a.tmp / "go-adv", "GO-2026-9001", "1.2.4");
  write_greeter_advisory(a.tmp / "go-adv", "GO-2026-9002", "");
  fsys::copy_file(new_app, a.tmp / "gold" / "app");
  std::ofstream(a.tmp / "gold" / "app.json")
      << R"({"path": "/app", "version": "1.2.4", "repository": "apps/*"})";
  a.import("go",
           {"--advisories", (a.tmp / "go-adv").string(), "--artifacts", (a.tmp / "gold").string()});

  auto heals = a.wait_heals({"apps/distroless", "apps/scratch", "apps/canary"});
  INFO(a.ctl({"heals"}).out << a.daemon->log().substr(0, 20000));

  // Distroless: per package, nothing run in the image; the status.d records in the forms the image
  // used now name the fixed versions (other stanzas untouched); the test (perl itself) passed.
  auto d = heals["apps/distroless"];
  INFO(d.dump(2));
  REQUIRE(d["state"] == "staged");
  CHECK(d["strategy"] == "package-files");
  CHECK(d["original"] == original["apps/distroless"]);
  auto dinv = a.ctl_json({"inventory", "apps/distroless:" + d["staged_tag"].get<std::string>()});
  std::map<std::string, json> comps;
  for (const auto& c : dinv["components"]) comps[c["name"].get<std::string>()] = c;
  CHECK(comps.size() == 6);
  CHECK(comps["perl-base"]["version"] == fixed["perl-base"]);
  CHECK(comps["perl-base"]["location"] == "var/lib/dpkg/status.d/perl-base/control");
  CHECK(comps["libpcre2-8-0"]["version"] == fixed["libpcre2-8-0"]);
  CHECK(comps["libpcre2-8-0"]["location"] == "var/lib/dpkg/status.d/base");
  CHECK(comps["zlib1g"]["version"] == minbase_version("zlib1g"));
  CHECK(comps["base-files"]["version"] == minbase_version("base-files"));
  CHECK(comps["libc6"]["version"] == minbase_version("libc6"));
  CHECK(a.ctl_json({"findings", "--image", "apps/distroless:" + d["staged_tag"].get<std::string>()})
            .empty());
  CHECK_FALSE(a.ctl_json({"findings", "--image", "apps/distroless:1"}).empty());
  CHECK(d["heal_layer_bytes"].get<double>() < 0.5 * d["image_bytes"].get<double>());

  // FROM scratch: the gold artefact replaced /app; continuous mode promoted it after its test ran
  // the new binary; the image now says greeter v1.2.4; the finding with no fix inside the gap is
  // deferred and stays open: airheal grants itself no exception (only people accept risk).
  auto s = heals["apps/scratch"];
  INFO(s.dump(2));
  REQUIRE(s["state"] == "promoted");
  CHECK(s["strategy"] == "gold-substitution");
  CHECK(digest_of(http, "apps/scratch", "1") == s["staged"]);
  CHECK(s["plan"]["targeted"] == json::array({"GO-2026-9001"}));
  CHECK(s["plan"]["deferred"] == json::array({"GO-2026-9002"}));
  CHECK(s.contains("time_to_stage_seconds"));
  CHECK(s.contains("time_to_promote_seconds"));
  auto sinv = a.ctl_json({"inventory", "apps/scratch:1"});
  bool greeter_fixed = false;
  for (const auto& c : sinv["components"])
    if (c["name"] == "example.com/greeter") greeter_fixed = c["version"] == "v1.2.4";
  CHECK(greeter_fixed);
  auto sf = a.ctl_json({"findings", "--image", "apps/scratch:1", "--all"});
  REQUIRE(sf.size() == 1);
  CHECK(sf[0]["advisory"] == "GO-2026-9002");
  CHECK_FALSE(sf[0].contains("suppressed"));
  CHECK(sf[0]["fix_available"] == "no-fix");
  CHECK(a.ctl_json({"findings", "--image", "apps/scratch:1"}).size() == 1);  // open, counted
  CHECK(a.ctl_json({"exception", "list", "--all"}).empty());
  // The healed image runs the new binary (buildah, no network).
  std::vector<std::string> b = {"buildah",
                                "--root",
                                (a.tmp / "check-root").string(),
                                "--runroot",
                                (a.tmp / "check-run").string(),
                                "--storage-driver",
                                "vfs"};
  auto with = [&](std::vector<std::string> args) {
    auto v = b;
    v.insert(v.end(), args.begin(), args.end());
    return run_ok(v);
  };
  auto ctr = with({"from", "--quiet", "--tls-verify=false", a.reg() + "/apps/scratch:1"}).out;
  ctr = ctr.substr(0, ctr.find_last_not_of("\n ") + 1);
  CHECK(with({"run", "--runtime", "runc", "--network", "none", ctr, "--", "/app"}).out ==
        "hello from greeter v1.2.4\n");

  // Canary: promoted, then the canary failed in the served image: rolled back on its own.
  auto c = heals["apps/canary"];
  INFO(c.dump(2));
  CHECK(c["state"] == "rolled_back");
  CHECK(c["reason"].get<std::string>().find("canary failed") != std::string::npos);
  CHECK(digest_of(http, "apps/canary", "1") == original["apps/canary"]);

  // Attestations: SLSA provenance, the healed SBOM and the explanation, each a DSSE envelope
  // signed with the appliance key and attached as a referrer of the healed image.
  REQUIRE(d["attestations"].size() == 3);
  auto referrers =
      json::parse(http.get("/v2/apps/distroless/referrers/" + d["staged"].get<std::string>()).body);
  std::map<std::string, json> by_predicate;
  for (const auto& m : referrers["manifests"])
    if (m["artifactType"] == "application/vnd.dsse.envelope.v1+json")
      by_predicate[m["annotations"]["in-toto.io/predicate-type"].get<std::string>()] = m;
  REQUIRE(by_predicate.count("https://slsa.dev/provenance/v1"));
  CHECK(by_predicate.count("https://cyclonedx.org/bom"));
  CHECK(by_predicate.count("https://airheal.dev/attestation/heal-explanation/v1"));
  auto am = json::parse(
      http.get("/v2/apps/distroless/manifests/" +
                   by_predicate["https://slsa.dev/provenance/v1"]["digest"].get<std::string>(),
               {{"Accept", "application/vnd.oci.image.manifest.v1+json"}})
          .body);
  CHECK(am["subject"]["digest"] == d["staged"]);
  auto envelope = json::parse(
      http.get("/v2/apps/distroless/blobs/" + am["layers"][0]["digest"].get<std::string>()).body);
  CHECK(envelope["payloadType"] == "application/vnd.in-toto+json");
  auto payload = b64decode(envelope["payload"].get<std::string>());
  auto statement = json::parse(payload);
  CHECK(statement["_type"] == "https://in-toto.io/Statement/v1");
  CHECK("sha256:" + statement["subject"][0]["digest"]["sha256"].get<std::string>() == d["staged"]);
  std::set<std::string> dep_digests;
  for (const auto& dep : statement["predicate"]["buildDefinition"]["resolvedDependencies"])
    dep_digests.insert("sha256:" + dep["digest"]["sha256"].get<std::string>());
  CHECK(dep_digests.count(d["original"].get<std::string>()));
  for (const auto& p : d["plan"]["packages"])
    CHECK(dep_digests.count(p["digest"].get<std::string>()));
  // gpg, with only the appliance's public key, accepts the signature over DSSE's PAE.
  auto home = a.tmp / "verify";
  fsys::create_directories(home);
  fsys::permissions(home, fsys::perms::owner_all);
  run_ok({"gpg", "--batch", "--homedir", home.string(), "--import",
          (a.state() / "keys" / "appliance.asc").string()});
  std::ofstream(a.tmp / "sig", std::ios::binary)
      << b64decode(envelope["signatures"][0]["sig"].get<std::string>());
  std::ofstream(a.tmp / "pae", std::ios::binary)
      << "DSSEv1 28 application/vnd.in-toto+json " << payload.size() << " " << payload;
  auto verified = run({"gpg", "--batch", "--homedir", home.string(), "--verify",
                       (a.tmp / "sig").string(), (a.tmp / "pae").string()});
  CHECK(verified.exit_code == 0);
  run({"gpgconf", "--homedir", home.string(), "--kill", "all"});
  // SLSA: the builder's version names airheal, buildah and runc as they report themselves.
  const auto& builder_version = statement["predicate"]["runDetails"]["builder"]["version"];
  CHECK(builder_version["airheal"] == AIRHEAL_VERSION);
  CHECK(builder_version.value("buildah", "").find("buildah version") != std::string::npos);
  CHECK(builder_version.value("runc", "").find("runc version") != std::string::npos);
  REQUIRE(statement["predicate"]["runDetails"]["byproducts"].size() == 1);
  // Every envelope also carries an ECDSA P-256 signature that a verifier airheal did not write
  // (python-cryptography and securesystemslib, as cosign would with --key) accepts, given only
  // the PEM from `airhealctl audit key --pem`.
  std::ofstream(a.tmp / "appliance.pem") << a.ctl({"audit", "key", "--pem"}).out;
  std::vector<std::string> verify_argv = {"/usr/bin/python3",
                                          (source_dir() / "tests/support/dsse_verify.py").string(),
                                          (a.tmp / "appliance.pem").string()};
  std::string attested_sbom;
  for (const auto& [type, m] : by_predicate) {
    auto man =
        json::parse(http.get("/v2/apps/distroless/manifests/" + m["digest"].get<std::string>(),
                             {{"Accept", "application/vnd.oci.image.manifest.v1+json"}})
                        .body);
    auto body =
        http.get("/v2/apps/distroless/blobs/" + man["layers"][0]["digest"].get<std::string>()).body;
    auto file = a.tmp / ("envelope-" + std::to_string(verify_argv.size()) + ".json");
    std::ofstream(file) << body;
    verify_argv.push_back(file.string());
    if (type == "https://cyclonedx.org/bom")
      attested_sbom =
          json::parse(b64decode(json::parse(body)["payload"].get<std::string>()))["predicate"]
              .dump();
  }
  auto independent = run(verify_argv);
  INFO(independent.out << independent.err);
  CHECK(independent.exit_code == 0);
  CHECK(independent.out.find("securesystemslib agrees") != std::string::npos);
  // The attested SBOM is the SBOM referrer of the same digest, byte for byte.
  std::string referrer_sbom;
  for (const auto& m : referrers["manifests"])
    if (m["artifactType"] == "application/vnd.cyclonedx+json") {
      auto man =
          json::parse(http.get("/v2/apps/distroless/manifests/" + m["digest"].get<std::string>(),
                               {{"Accept", "application/vnd.oci.image.manifest.v1+json"}})
                          .body);
      referrer_sbom =
          http.get("/v2/apps/distroless/blobs/" + man["layers"][0]["digest"].get<std::string>())
              .body;
    }
  CHECK_FALSE(referrer_sbom.empty());
  CHECK(attested_sbom == referrer_sbom);
  auto shown = a.ctl({"heal", "show", std::to_string(d["id"].get<int>())}).out;
  CHECK(shown.find("status.d records updated") != std::string::npos);
  CHECK(shown.find("signed:   https://slsa.dev/provenance/v1") != std::string::npos);

  // Webhooks: the LAN endpoint saw every state change, as JSON.
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    seen.clear();
    for (const auto& e : sink.events())
      seen.insert(e.value("type", "") + " " + e.value("image", ""));
    if (seen.count("heal.rolled_back apps/canary:1")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(seen.count("heal.staged apps/distroless:1"));
  CHECK(seen.count("heal.promoted apps/scratch:1"));
  CHECK(seen.count("heal.rolled_back apps/canary:1"));
  CHECK(sink.all_signed());
  // GitOps: the digest-pinned list of promoted images (the canary's promotion was rolled back).
  auto current = json::parse(
      fs::read_file(a.state() / "outbox/promotions/current.json", 1 << 20).value_or("[]"));
  REQUIRE(current.size() == 1);
  CHECK(current[0]["image"] == "apps/scratch:1");
  CHECK(current[0]["pinned"] == "apps/scratch@" + s["staged"].get<std::string>());
  CHECK(fsys::exists(a.state() / "outbox/promotions" /
                     ("heal-" + std::to_string(s["id"].get<int>()) + "-promoted.json")));
}

TEST_CASE("Killing the daemon during a build leaves no half-promoted tag and no build running",
          "[integration][heal][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  auto old_app = go_greeter_app("v1.2.3");
  auto new_app = go_greeter_app("v1.2.4");
  FilesAppliance a;
  // The test command sleeps: the heal stays in its build long enough to be killed there.
  auto yaml =
      "scan:\n  poll_interval: 1s\nheal:\n  rules:\n    - {repository: \"apps/slow\", mode: "
      "continuous, test: [\"/app\", \"sleep\"]}\n";
  a.start(yaml);
  auto groot = a.tmp / "goroot";
  fsys::create_directories(groot);
  fsys::copy_file(old_app, groot / "app");
  fsys::permissions(groot / "app", fsys::perms::owner_all);
  buildah_image(a.tmp.path(), groot, a.reg() + "/apps/slow:1");
  HttpClient http("127.0.0.1", a.daemon->port());
  auto original = digest_of(http, "apps/slow", "1");
  fsys::create_directories(a.tmp / "go-adv");
  fsys::create_directories(a.tmp / "gold");
  write_greeter_advisory(a.tmp / "go-adv", "GO-2026-9001", "1.2.4");
  fsys::copy_file(new_app, a.tmp / "gold" / "app");
  std::ofstream(a.tmp / "gold" / "app.json") << R"({"path": "/app"})";
  a.import("go",
           {"--advisories", (a.tmp / "go-adv").string(), "--artifacts", (a.tmp / "gold").string()});

  // Wait until the test step is running inside the healed image, then SIGKILL the daemon.
  int id = 0;
  bool sleeping = false;
  for (int i = 0; i < 300 && !sleeping; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto hs = a.ctl_json({"heals"});
    if (!hs.empty() && hs[0]["state"] == "building") id = hs[0]["id"];
    sleeping =
        id &&
        run({"pgrep", "-f", "airheal-check-" + std::to_string(id) + " -- /app sleep"}).exit_code ==
            0;
  }
  REQUIRE(sleeping);
  CHECK(a.daemon->stop(9) != 0);
  // The build dies with the daemon: buildah is signalled and stops its container.
  bool gone = false;
  for (int i = 0; i < 60 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    gone = run({"pgrep", "-f", "airheal-check-" + std::to_string(id)}).exit_code != 0 &&
           run({"pgrep", "-f", "/app sleep"}).exit_code != 0;
  }
  CHECK(gone);
  // Restarted: the heal is failed, the tag still serves the original, nothing was staged, the
  // work folder is gone and the store is consistent.
  a.start(yaml);
  HttpClient http2("127.0.0.1", a.daemon->port());
  auto hs = a.ctl_json({"heals"});
  REQUIRE(hs.size() >= 1);
  CHECK(hs[0]["id"] == id);
  CHECK(hs[0]["state"] == "failed");
  CHECK(hs[0]["reason"].get<std::string>().find("interrupted") != std::string::npos);
  CHECK(digest_of(http2, "apps/slow", "1") == original);
  auto tags = json::parse(http2.get("/v2/apps/slow/tags/list").body)["tags"];
  CHECK(tags == json::array({"1"}));
  CHECK_FALSE(fsys::exists(a.state() / "heal" / std::to_string(id)));
  a.ctl({"store", "check"});
}

namespace {
// A Go module zip as a module proxy serves it (files under module@version/), made from FILES.
fsys::path module_zip(const fsys::path& work, const std::string& module, const std::string& version,
                      const std::map<std::string, std::string>& files) {
  auto src = work / "modsrc" / (module + "@" + version);
  for (const auto& [name, text] : files) {
    fsys::create_directories((src / name).parent_path());
    std::ofstream(src / name) << text;
  }
  auto flat = module;
  for (auto& ch : flat)
    if (ch == '/') ch = '_';
  auto zip = work / (flat + "@" + version + ".zip");
  run_ok({"env", "--chdir=" + (work / "modsrc").string(), "zip", "-qrX", zip.string(),
          module + "@" + version});
  return zip;
}
}  // namespace

TEST_CASE("A lockfile's vulnerable dependency gets a pin in the outbox that builds with no network",
          "[integration][heal][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  if (!have_program("zip")) FAIL("zip is needed (scripts/setup.sh installs it)");
  fsys::path go = "/usr/lib/go-1.19/bin/go";
  if (!fsys::exists(go)) FAIL("golang-1.19-go is needed (scripts/setup.sh installs it)");
  FilesAppliance a;
  a.start(
      "scan:\n  poll_interval: 1s\nheal:\n  rules:\n    - {repository: \"apps/source-advisory\", "
      "mode: advisory}\n");
  // An application image carrying its source: go.mod pins golang.org/x/text v0.3.7, which the real
  // Go advisory GO-2022-1059 (CVE-2022-32149) says is vulnerable, fixed in 0.3.8.
  auto root = a.tmp / "srcroot";
  fsys::create_directories(root / "src/app");
  std::ofstream(root / "src/app/go.mod")
      << "module example.com/app\n\ngo 1.19\n\nrequire golang.org/x/text v0.3.7\n";
  std::ofstream(root / "src/app/main.go")
      << "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\n"
         "func main() { fmt.Println(language.Version()) }\n";
  // A copy in a module cache is somebody else's go.mod and is not read.
  fsys::create_directories(root / "root/go/pkg/mod/golang.org/x/text@v0.3.7");
  std::ofstream(root / "root/go/pkg/mod/golang.org/x/text@v0.3.7/go.mod")
      << "module golang.org/x/text\n\nrequire golang.org/x/tools v0.0.1\n";
  buildah_image(a.tmp.path(), root, a.reg() + "/apps/source-advisory:1");
  buildah_image(a.tmp.path(), root, a.reg() + "/apps/source-staging:1");

  // The connected side brings the advisory and the fixed module (a module zip, as a proxy serves
  // it).
  fsys::create_directories(a.tmp / "go-adv");
  fsys::create_directories(a.tmp / "modules");
  fsys::copy_file(fsys::path(AIRHEAL_SOURCE_DIR) / "tests/data/osv-go/GO-2022-1059.json",
                  a.tmp / "go-adv" / "GO-2022-1059.json");
  auto zip =
      module_zip(a.tmp.path(), "golang.org/x/text", "v0.3.8",
                 {{"go.mod", "module golang.org/x/text\n\ngo 1.17\n"},
                  {"language/language.go",
                   "package language\n\nfunc Version() string { return \"x/text v0.3.8\" }\n"}});
  fsys::copy_file(zip, a.tmp / "modules" / "golang.org_x_text@v0.3.8.zip");
  std::ofstream(a.tmp / "modules" / "golang.org_x_text@v0.3.8.zip.json")
      << R"({"ecosystem": "Go", "package": "golang.org/x/text", "version": "v0.3.8"})";
  a.import("go", {"--advisories", (a.tmp / "go-adv").string(), "--artifacts",
                  (a.tmp / "modules").string()});

  auto heals = a.wait_heals({"apps/source-advisory", "apps/source-staging"});
  INFO(a.ctl({"heals"}).out << a.daemon->log().substr(0, 20000));
  auto findings = a.ctl_json({"findings", "--image", "apps/source-advisory:1"});
  REQUIRE(findings.size() == 1);
  CHECK(findings[0]["advisory"] == "GO-2022-1059");
  CHECK(findings[0]["location"] == "src/app/go.mod");
  CHECK(findings[0]["installed"] == "v0.3.7");
  CHECK(findings[0]["fix_available"] == "dependency");

  // Advisory mode: held with the pin in the outbox; autonomous-staging too (nothing to rebuild
  // without the application's source), with the pins written for its owners.
  for (auto repo : {"apps/source-advisory", "apps/source-staging"}) {
    auto h = heals[repo];
    INFO(h.dump(2));
    CHECK(h["state"] == "held");
    CHECK(h["strategy"] == "dependency-pin");
    REQUIRE(h["plan"]["dependencies"].size() == 1);
    CHECK(h["plan"]["dependencies"][0]["lockfile"] == "src/app/go.mod");
    CHECK(h["plan"]["dependencies"][0]["from"] == "v0.3.7");
    CHECK(h["plan"]["dependencies"][0]["version"] == "v0.3.8");
    CHECK(h["plan"]["pinned"] == json::array({"GO-2022-1059"}));
    CHECK(h["plan"]["deferred"].empty());
    CHECK(h["reason"].get<std::string>().find("outbox") != std::string::npos);
    CHECK(h["plan"]["explanation"].get<std::string>().find("golang.org/x/text v0.3.7 -> v0.3.8") !=
          std::string::npos);
  }
  auto out = a.state() / "outbox" /
             ("heal-" + std::to_string(heals["apps/source-advisory"]["id"].get<int>())) /
             "dependencies";
  auto pinned = fs::read_file(out / "lockfiles/src/app/go.mod", 1 << 20);
  REQUIRE(pinned);
  CHECK(*pinned == "module example.com/app\n\ngo 1.19\n\nrequire golang.org/x/text v0.3.8\n");
  CHECK(fs::read_file(out / "goproxy/golang.org/x/text/@v/v0.3.8.mod", 1 << 20).value_or("") ==
        "module golang.org/x/text\n\ngo 1.17\n");
  CHECK(fs::read_file(out / "goproxy/golang.org/x/text/@v/v0.3.8.zip", 1 << 20).value_or("") ==
        fs::read_file(zip, 1 << 20).value_or("x"));
  CHECK(fs::read_file(out / "README.txt", 1 << 20).value_or("").find("GOPROXY=file://") !=
        std::string::npos);

  // The app's owners follow the README: the project with the patched go.mod builds with no
  // network from the outbox's module proxy, and runs the fixed module.
  auto proj = a.tmp / "project";
  fsys::create_directories(proj);
  fsys::copy_file(root / "src/app/main.go", proj / "main.go");
  fsys::copy_file(out / "lockfiles/src/app/go.mod", proj / "go.mod");
  auto build =
      run({"env", "--chdir=" + proj.string(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod",
           "GOPROXY=file://" + (out / "goproxy").string(), "GOSUMDB=off", "GOTOOLCHAIN=local",
           "GOCACHE=" + (a.tmp / "gocache").string(), "GOPATH=" + (a.tmp / "gopath").string(),
           go.string(), "build", "-o", "app", "."});
  INFO(build.out << build.err);
  REQUIRE(build.exit_code == 0);
  CHECK(run_ok({(proj / "app").string()}).out == "x/text v0.3.8\n");
  run({"chmod", "-R", "u+w", (a.tmp / "gopath").string()});  // Go's module cache is read-only
}

TEST_CASE("A smoke test that exceeds the memory bound holds the heal",
          "[integration][heal][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  if (!fsys::exists("/bin/busybox"))
    FAIL("busybox-static is needed (scripts/setup.sh installs it)");
  auto old_app = go_greeter_app("v1.2.3");
  auto new_app = go_greeter_app("v1.2.4");
  FilesAppliance a;
  a.start("scan:\n  poll_interval: 1s\nheal:\n  smoke_memory_bytes: 33554432\n");
  auto root = a.tmp / "root";
  fsys::create_directories(root / "bin");
  fsys::copy_file(old_app, root / "app");
  fsys::copy_file("/bin/busybox", root / "bin/busybox");
  // The entrypoint holds 200 MB in a shell variable: fine on the host, over a 32 MiB bound.
  buildah_image(
      a.tmp.path(), root, a.reg() + "/apps/hungry:1",
      {"/bin/busybox", "sh", "-c",
       "x=$(/bin/busybox head -c 200000000 /dev/zero | /bin/busybox tr '\\0' a); echo ${#x}"});
  fsys::create_directories(a.tmp / "go-adv");
  fsys::create_directories(a.tmp / "gold");
  write_greeter_advisory(a.tmp / "go-adv", "GO-2026-9001", "1.2.4");
  fsys::copy_file(new_app, a.tmp / "gold" / "app");
  std::ofstream(a.tmp / "gold" / "app.json") << R"({"path": "/app"})";
  a.import("go",
           {"--advisories", (a.tmp / "go-adv").string(), "--artifacts", (a.tmp / "gold").string()});
  auto h = a.wait_heals({"apps/hungry"})["apps/hungry"];
  INFO(h.dump(2) << a.daemon->log().substr(0, 20000));
  CHECK(h["state"] == "held");
  CHECK(h["strategy"] == "gold-substitution");
  auto reason = h["reason"].get<std::string>();
  CHECK(reason.find("smoke test failed") != std::string::npos);
  CHECK(reason.find("at most 32 MiB of memory") != std::string::npos);
}
