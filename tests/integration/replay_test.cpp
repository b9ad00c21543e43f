// Whole-release replays: a real image of a Debian release (mmdebstrap from the release's main
// archive) and *every* build its security suite has today for the sources it has installed,
// carried in one signed snapshot with advisories from those builds' changelogs, imported into a
// real airheald which heals on its own. Nothing is chosen by hand: the archive moves every week,
// and these tests move with it. The healed image must be staged, run (podman, no network) with a
// clean dpkg database, hold every fixed version, and rescan without the targeted advisories;
// whatever could not be healed must be deferred with a reason naming the missing build.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/fs.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

// podman against a private storage under DIR, with the limits this host needs.
struct Podman {
  fsys::path dir;
  ProcessResult run_in(const std::string& ref, std::vector<std::string> argv,
                       bool must = true) const {
    std::vector<std::string> v = {"podman",
                                  "--root",
                                  (dir / "root").string(),
                                  "--runroot",
                                  (dir / "run").string(),
                                  "--storage-driver",
                                  "vfs",
                                  "run",
                                  "--rm",
                                  "--network",
                                  "none",
                                  "--runtime",
                                  "runc",
                                  "--ulimit",
                                  "nofile=1024:1024",
                                  "--ulimit",
                                  "nproc=1024:1024",
                                  ref};
    v.insert(v.end(), argv.begin(), argv.end());
    return must ? run_ok(v) : run(v);
  }
  void pull(const std::string& ref) const {
    run_ok({"podman", "--root", (dir / "root").string(), "--runroot", (dir / "run").string(),
            "--storage-driver", "vfs", "pull", "--quiet", "--tls-verify=false", ref});
  }
};

void replay(const std::string& suite, const std::string& variant,
            const std::vector<std::string>& include, bool has_apt,
            const std::string& heal_config = "") {
  if (!have_program("buildah") || !have_program("podman"))
    FAIL("buildah and podman are needed (scripts/setup.sh installs them)");
  auto image = debian_image(suite, variant, include);
  TempDir tmp;
  auto builds = security_builds(image.status, suite, tmp / "debs");
  if (builds.sources.empty()) {
    WARN(suite << "-security has no newer build for this image today: nothing to replay");
    return;
  }
  auto advisories = security_advisories(image.status, suite);
  WARN(suite << " " << variant << ": " << builds.sources.size()
             << " source(s) with security builds, " << builds.versions.size()
             << " binary package(s) downloaded"
             << (builds.absent.empty()
                     ? ""
                     : ", " + std::to_string(builds.absent.size()) + " without a build"));

  Daemon daemon(Daemon::Options{
      {},
      "scan:\n  poll_interval: 1s\n" + (heal_config.empty() ? "" : "heal:\n" + heal_config),
      {}});
  Ctl ctl{daemon.state_dir()};
  auto reg = "127.0.0.1:" + std::to_string(daemon.port());
  make_oci_image_from_tars(tmp / "layout", "img", {image.tar});
  auto repo = "replay/" + suite + "-" + variant;
  run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
          "oci:" + (tmp / "layout").string() + ":img", "docker://" + reg + "/" + repo + ":1"});

  fsys::create_directories(tmp / "adv");
  fsys::copy_file(advisories, tmp / "adv" / "tracker.json");
  Signer signer(tmp / "gpg", "Debian mirror team");
  auto snap = tmp / "s1.tar";
  run_ok({airheal_snapshot_path().string(), "create", "--channel", "debian", "--sequence", "1",
          "--expires", "30d", "--out", snap.string(), "--advisories", (tmp / "adv").string(),
          "--packages", (tmp / "debs").string()});
  run_ok({airheal_snapshot_path().string(), "sign", snap.string(), "--key", signer.fingerprint(),
          "--gpg-home", signer.home().string()});
  ctl({"trust", "add", signer.write_public_key(tmp.path()).string(), "--channel", "debian"});
  ctl({"import", snap.string()});

  // The daemon heals on its own once the import brings fixes.
  json heal;
  for (int i = 0; i < 1200; ++i) {
    for (const auto& h : ctl.json_of({"heals"}))
      if (h["repository"] == repo) heal = h;
    if (!heal.is_null() &&
        (heal["state"] == "staged" || heal["state"] == "held" || heal["state"] == "failed"))
      break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  REQUIRE_FALSE(heal.is_null());
  auto shown = ctl.json_of({"heal", "show", std::to_string(heal["id"].get<int>())});
  auto log = shown.value("log", std::string());
  INFO("heal: " << shown.dump(2).substr(0, 20000) << "\nlog tail:\n"
                << log.substr(log.size() > 20000 ? log.size() - 20000 : 0));
  REQUIRE(heal["state"] == "staged");
  const auto& plan = heal["plan"];
  CHECK(plan["installer"] == (has_apt ? "apt" : "dpkg"));
  {
    HttpClient http("127.0.0.1", daemon.port());
    auto m =
        json::parse(http.get("/v2/" + repo + "/manifests/" + heal["staged_tag"].get<std::string>(),
                             {{"Accept", "application/vnd.oci.image.manifest.v1+json"}})
                        .body);
    auto zstd = heal_config.find("layer_compression: zstd") != std::string::npos;
    CHECK(m["layers"].back()["mediaType"] == (zstd
                                                  ? "application/vnd.oci.image.layer.v1.tar+zstd"
                                                  : "application/vnd.oci.image.layer.v1.tar+gzip"));
  }
  WARN(suite << " " << variant << ": healed " << plan["packages"].size() << " package(s), "
             << plan["targeted"].size() << " advisories targeted, " << plan["deferred"].size()
             << " deferred; heal layer " << heal.value("heal_layer_bytes", 0) << " bytes of a "
             << heal.value("image_bytes", 0) << "-byte image, staged "
             << heal.value("time_to_stage_seconds", -1) << " s after the import");
  // Whatever was not healed is deferred with a reason that names what is missing.
  for (const auto& d : plan.value("deferrals", json::array())) {
    INFO(d.dump());
    CHECK_FALSE(d["missing"].empty());
    CHECK_FALSE(d["reason"].get<std::string>().empty());
  }
  std::set<std::string> deferred_sources;
  for (const auto& d : plan.value("deferrals", json::array()))
    deferred_sources.insert(d["source"].get<std::string>());
  // A source is deferred only when the suite lacks one of its binaries or something its builds
  // need.
  if (builds.absent.empty()) CHECK(deferred_sources.empty());

  // The healed image runs with no network; dpkg and apt find nothing wrong in it.
  Podman pod{tmp / "podman"};
  auto ref = reg + "/" + repo + ":" + heal["staged_tag"].get<std::string>();
  pod.pull(ref);
  auto audit = pod.run_in(ref, {"dpkg", "--audit"});
  CHECK(audit.out.empty());
  if (has_apt) pod.run_in(ref, {"apt-get", "check"});
  auto installed =
      pod.run_in(ref, {"dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\\n"})
          .out;
  std::size_t checked = 0;
  for (const auto& p : plan["packages"]) {
    auto line = p["name"].get<std::string>() + " " + p["version"].get<std::string>() + " ii \n";
    INFO(line);
    CHECK(installed.find(line) != std::string::npos);
    ++checked;
  }
  CHECK(checked == plan["packages"].size());
  // Every security build of a source with advisories is what the image now holds, unless that
  // source was deferred; the security suite's other updates (tzdata, ca-certificates, builds
  // whose changelogs name no CVE) fix nothing airheal knows of and are left as they were: a heal
  // changes only what removes a vulnerability.
  auto tracker = json::parse(*fs::read_file(advisories, 64 << 20));
  for (const auto& [name, version] : builds.versions) {
    const auto& source = builds.source_of[name];
    INFO(name << " " << version << " (source " << source << ")");
    if (tracker.contains(source) && !deferred_sources.count(source))
      CHECK(installed.find(name + " " + version + " ii \n") != std::string::npos);
    else if (!tracker.contains(source))
      CHECK(installed.find(name + " " + builds.installed[name] + " ii \n") != std::string::npos);
  }
  // The rescan of the healed image shows none of the advisories the heal targeted.
  auto after =
      ctl.json_of({"findings", "--image", repo + ":" + heal["staged_tag"].get<std::string>()});
  std::set<std::string> targeted;
  for (const auto& t : plan["targeted"]) targeted.insert(t.get<std::string>());
  CHECK_FALSE(targeted.empty());
  for (const auto& f : after) {
    INFO(f.dump());
    CHECK_FALSE(targeted.count(f["advisory"].get<std::string>()));
  }
  run({"gpgconf", "--homedir", (daemon.state_dir() / "trust" / "gnupg").string(), "--kill", "all"});
}

}  // namespace

TEST_CASE(
    "Replay: a realistic bookworm image healed with every bookworm-security build it needs today",
    "[integration][heal][slow][replay]") {
  replay("bookworm", "minbase", realistic_packages("bookworm"), true);
}

TEST_CASE(
    "Replay: a realistic bullseye image healed with every bullseye-security build it needs today",
    "[integration][heal][slow][replay]") {
  replay("bullseye", "minbase", realistic_packages("bullseye"), true);
}

TEST_CASE("Replay: a bookworm image with dpkg but no apt is healed by ordered dpkg calls",
          "[integration][heal][slow][replay]") {
  // mmdebstrap's essential variant: Essential packages and what they depend on (pam among them),
  // dpkg but no apt. Its heal layer is zstd: podman pulls and runs the healed image below.
  replay("bookworm", "essential", {}, false, "  layer_compression: zstd\n");
}
