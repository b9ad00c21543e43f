// A heal whose package install fails says what failed, in the package manager's own words, the
// same everywhere a person looks: `airhealctl heal show`, the REST API, the signed webhook and the
// dashboard (rendered by headless Chromium). The image's tag is untouched and the build leaves
// nothing behind.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/fs.hpp"
#include "support/chromium.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"
#include "support/webhook_sink.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

TEST_CASE(
    "A failing maintainer script fails the heal with dpkg's own words in heal show, API, webhook "
    "and dashboard",
    "[integration][heal][slow]") {
  if (!have_program("buildah") || !have_program("chromium"))
    FAIL("buildah and chromium are needed (scripts/setup.sh installs them)");
  TempDir tmp;
  // The image: Debian 12 minbase (real). The "fixed" build: the image's own hostname package,
  // rebuilt here with a higher version and a postinst that fails (made up: no real security build
  // fails, and the failure is what this test is about), with a made-up advisory naming it.
  auto tar = debian_minbase_tar();
  auto installed = minbase_version("hostname");
  auto real = download_deb("hostname", installed);
  run_ok({"dpkg-deb", "-R", real.string(), (tmp / "pkg").string()});
  auto control = *fs::read_file(tmp / "pkg" / "DEBIAN" / "control", 1 << 20);
  auto fixed = installed + "+airheal1";
  control.replace(control.find("Version: " + installed), 9 + installed.size(), "Version: " + fixed);
  REQUIRE(fs::write_file_atomic(tmp / "pkg" / "DEBIAN" / "control", control));
  std::ofstream(tmp / "pkg" / "DEBIAN" / "postinst")
      << "#!/bin/sh\necho 'hostname: cannot configure (made-up failure)' >&2\nexit 1\n";
  fsys::permissions(tmp / "pkg" / "DEBIAN" / "postinst",
                    fsys::perms::owner_all | fsys::perms::group_read | fsys::perms::group_exec |
                        fsys::perms::others_read | fsys::perms::others_exec);
  fsys::create_directories(tmp / "debs");
  run_ok({"dpkg-deb", "--root-owner-group", "--build", (tmp / "pkg").string(),
          (tmp / "debs" / "hostname.deb").string()});
  fsys::create_directories(tmp / "adv");
  std::ofstream(tmp / "adv" / "tracker.json")
      << json{{"hostname",
               {{"CVE-2099-0001",
                 {{"description", "made-up advisory for the heal failure test"},
                  {"releases",
                   {{"bookworm",
                     {{"status", "resolved"}, {"fixed_version", fixed}, {"urgency", "high"}}}}}}}}}}
             .dump();

  WebhookSink sink;
  std::ofstream(tmp / "webhook.key") << kWebhookKey << "\n";
  Daemon daemon(Daemon::Options{
      tmp / "state",
      "scan:\n  poll_interval: 1s\nheal:\n  webhook_secret_file: \"" +
          (tmp / "webhook.key").string() +
          "\"\n  webhooks: [\"http://127.0.0.1:" + std::to_string(sink.port()) + "/hooks\"]\n",
      {}});
  auto state = daemon.state_dir();
  auto reg = daemon.address();
  make_oci_image_from_tars(tmp / "layout", "img", {tar});
  run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
          "oci:" + (tmp / "layout").string() + ":img", "docker://" + reg + "/apps/failing:1"});
  HttpClient http("127.0.0.1", daemon.port());
  auto accept =
      std::map<std::string, std::string>{{"Accept", "application/vnd.oci.image.manifest.v1+json"}};
  auto original = sha256_digest(http.get("/v2/apps/failing/manifests/1", accept).body);

  Signer signer(tmp / "gpg", "airheal test mirror");
  auto snap = tmp / "s.tar";
  run_ok({airheal_snapshot_path().string(), "create", "--channel", "debian", "--sequence", "1",
          "--expires", "30d", "--out", snap.string(), "--advisories", (tmp / "adv").string(),
          "--packages", (tmp / "debs").string()});
  run_ok({airheal_snapshot_path().string(), "sign", snap.string(), "--key", signer.fingerprint(),
          "--gpg-home", signer.home().string()});
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    return run_ok(args);
  };
  ctl({"trust", "add", signer.write_public_key(tmp.path()).string(), "--channel", "debian"});
  ctl({"import", snap.string()});

  json heal;
  for (int i = 0; i < 600; ++i) {
    auto r = http.get("/api/v1/heals");
    for (const auto& h : json::parse(r.body))
      if (h["repository"] == "apps/failing") heal = h;
    if (!heal.is_null() &&
        (heal["state"] == "failed" || heal["state"] == "staged" || heal["state"] == "held"))
      break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(heal.dump(2));
  REQUIRE(heal["state"] == "failed");
  auto id = std::to_string(heal["id"].get<int>());
  // The API: classified, with dpkg's own paragraph, and the one-line reason made of it.
  auto api = json::parse(http.get("/api/v1/heals/" + id).body);
  CHECK(api["failure"]["class"] == "maintainer-script-failed");
  auto lines = api["failure"]["lines"].get<std::string>();
  CHECK(lines.find("installed hostname package post-installation script subprocess returned error "
                   "exit status 1") != std::string::npos);
  CHECK(lines.find("debconf") == std::string::npos);
  auto reason = api["reason"].get<std::string>();
  CHECK(reason.rfind("maintainer script failed: ", 0) == 0);
  CHECK(reason.find('\n') == std::string::npos);
  // heal show: the class and the lines, and the whole output in the log (--json).
  auto shown = ctl({"heal", "show", id}).out;
  CHECK(shown.find("failure:  maintainer script failed") != std::string::npos);
  CHECK(shown.find("post-installation script subprocess returned error exit status 1") !=
        std::string::npos);
  auto full = json::parse(ctl({"--json", "heal", "show", id}).out);
  CHECK(full["log"].get<std::string>().find("hostname: cannot configure (made-up failure)") !=
        std::string::npos);
  // The webhook: signed, with the failure.
  json failed_event;
  for (int i = 0; i < 100 && failed_event.is_null(); ++i) {
    for (const auto& e : sink.events())
      if (e.value("type", "") == "heal.failed") failed_event = e;
    if (failed_event.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(failed_event.dump());
  REQUIRE_FALSE(failed_event.is_null());
  CHECK(failed_event["failure"]["class"] == "maintainer-script-failed");
  CHECK(failed_event["failure"]["lines"].get<std::string>().find("post-installation script") !=
        std::string::npos);
  CHECK(sink.all_signed());
  // The dashboard shows the class beside the reason.
  auto chrome = headless_chromium(tmp / "chromium", {"--virtual-time-budget=8000", "--dump-dom",
                                                     "http://" + reg + "/dashboard"});
  auto dom = run_ok(chrome, std::chrono::seconds(120)).out;
  INFO(dom.substr(0, 8000));
  CHECK(dom.find("data-failure=\"maintainer-script-failed\"") != std::string::npos);
  CHECK(dom.find("maintainer script failed") != std::string::npos);
  // Nothing changed where it matters: the tag serves the original, and no build container is left.
  CHECK(sha256_digest(http.get("/v2/apps/failing/manifests/1", accept).body) == original);
  auto left = run_ok({"buildah", "--root", (state / "heal" / "buildah" / "root").string(),
                      "--runroot", (state / "heal" / "buildah" / "run").string(),
                      "--storage-driver", "vfs", "containers", "--quiet"});
  CHECK(left.out.empty());
  CHECK_FALSE(fsys::exists(state / "heal" / id));
  daemon.stop();
  run({"gpgconf", "--homedir", (state / "trust" / "gnupg").string(), "--kill", "all"});
  run({"gpgconf", "--homedir", (state / "keys" / "gnupg").string(), "--kill", "all"});
}
