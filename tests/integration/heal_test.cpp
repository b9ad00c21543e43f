// The heal engine end to end on a real image: a bookworm main image with real vulnerable
// packages, healed offline from a snapshot carrying bookworm-security's own .debs; the healed
// image's dpkg database shows the fixed versions, the rescan shows the findings gone, approval
// promotes it under the original tag and rollback restores the original digest. Its builds run as
// the packages run them: in airheal-builder, rootless (--build-user: apt, dpkg and the checks in a
// user namespace of the build user's subordinate ids).
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/fs.hpp"
#include "scan/pkgdb.hpp"
#include "support/builder_fixtures.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

TEST_CASE(
    "A bookworm main image is healed offline from bookworm-security .debs, promoted and rolled "
    "back",
    "[integration][heal][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  auto tar = debian_minbase_tar();
  auto tracker = debian_security_tracker();
  AIRHEAL_REQUIRE_ROOT("needs root for airheal-builder and its build user");
  TempDir tmp;
  fsys::permissions(tmp.path(), fsys::perms(0755));  // the build user passes through
  auto build_user = test_build_user();
  auto socket = tmp / "builder.sock";
  BuilderProcess builder(tmp / "state", socket, tmp / "builder.log",
                         {"--build-user", build_user.name},
                         unit_bounding_set("airheal-builder.service"));
  REQUIRE(builder.wait_for("rootless builds as " + build_user.name, 10));
  // Default mode (autonomous-staging) for debian/*; continuous with a failing and a passing test
  // command for the two other copies of the image.
  Daemon daemon(Daemon::Options{tmp / "state",
                                R"(scan:
  poll_interval: 1s
heal:
  builder_socket: )" + socket.string() +
                                    R"(
  rules:
    - {repository: "cont/failing", mode: continuous, test: ["/bin/sh", "-c", "echo selftest failed >&2; exit 3"]}
    - {repository: "cont/passing", mode: continuous, test: ["dpkg", "--audit"]}
    - {repository: "adv/*", mode: advisory}
    - {repository: "net/probe", mode: continuous, test: ["perl", "-MIO::Socket::INET", "-e", "IO::Socket::INET->new(PeerAddr => 'deb.debian.org:80', Timeout => 5) or exit 7"]}
)",
                                {}});
  Ctl ctl{daemon.state_dir()};
  auto reg = "127.0.0.1:" + std::to_string(daemon.port());
  auto img = make_oci_image_from_tars(tmp / "layout", "main", {tar});
  for (auto repo : {"debian", "cont/failing", "cont/passing", "adv/app", "net/probe"})
    run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
            "oci:" + (tmp / "layout").string() + ":main",
            "docker://" + reg + "/" + repo + ":bookworm-main"});

  // The connected side: the tracker's advisories and every security build of the affected sources.
  auto status = scan::parse_dpkg_status(*fs::read_file(debian_minbase_status(), 64 << 20));
  auto doc = json::parse(*fs::read_file(tracker, 64 << 20));
  fsys::create_directories(tmp / "adv");
  fsys::create_directories(tmp / "debs");
  fsys::copy_file(tracker, tmp / "adv" / "tracker.json");
  std::map<std::string, std::string> fixed_binaries;  // binary -> security version
  for (const auto& p : status) {
    if (!doc.contains(p.source)) continue;
    auto deb = security_deb(p.name);
    REQUIRE_FALSE(deb.empty());
    fsys::copy_file(deb, tmp / "debs" / deb.filename(), fsys::copy_options::overwrite_existing);
    fixed_binaries[p.name] = run_ok({"dpkg-deb", "-f", deb.string(), "Version"}).out;
    fixed_binaries[p.name].pop_back();
  }
  REQUIRE_FALSE(fixed_binaries.empty());
  Signer signer(tmp / "gpg", "Debian mirror team");
  auto snap = tmp / "s1.tar";
  run_ok({airheal_snapshot_path().string(), "create", "--channel", "debian", "--sequence", "1",
          "--expires", "30d", "--out", snap.string(), "--advisories", (tmp / "adv").string(),
          "--packages", (tmp / "debs").string()});
  run_ok({airheal_snapshot_path().string(), "sign", snap.string(), "--key", signer.fingerprint(),
          "--gpg-home", signer.home().string()});
  ctl({"trust", "add", signer.write_public_key(tmp.path()).string(), "--channel", "debian"});
  ctl({"import", snap.string()});
  auto before = ctl.json_of({"findings", "--image", "debian:bookworm-main"});
  REQUIRE_FALSE(before.empty());
  for (const auto& f : before) CHECK(f["fix_available"] == "package");

  auto plan = ctl.json_of({"heal", "plan", "debian:bookworm-main"});
  CHECK(plan["strategy"] == "package-patch");
  CHECK(plan["deferred"].empty());
  // The daemon heals on its own (the import made fixes available): plan, rebuild with no
  // network, verify, stage; one image at a time, in each repository's mode.
  std::map<std::string, json> by_repo;
  for (int i = 0; i < 600; ++i) {
    by_repo.clear();
    for (const auto& h : ctl.json_of({"heals"})) by_repo[h["repository"].get<std::string>()] = h;
    bool done = by_repo.size() == 5;
    for (const auto& [r, h] : by_repo)
      if (h["state"] != "staged" && h["state"] != "promoted" && h["state"] != "held" &&
          h["state"] != "failed")
        done = false;
    if (done) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(ctl({"heals"}).out << daemon.log().substr(0, 20000));
  REQUIRE(by_repo.size() == 5);
  auto healed = by_repo["debian"];
  INFO(healed.dump(2));
  REQUIRE(healed["state"] == "staged");
  CHECK(healed["mode"] == "autonomous-staging");
  {
    // apt and dpkg ran rootless in the builder: every buildah step as the build user.
    auto log =
        ctl.json_of({"--json", "heal", "show", std::to_string(healed["id"].get<int>())})["log"]
            .get<std::string>();
    auto rootless = "$ buildah [rootless, uid " + std::to_string(build_user.uid) + "] ";
    INFO(log.substr(0, 20000) << builder.said());
    CHECK_THAT(log, Catch::Contains(rootless + "run") && Catch::Contains(rootless + "commit") &&
                        Catch::Contains("apt-get"));
    CHECK(log.find("$ buildah [rootless") == log.find("$ buildah "));
  }
  // Continuous: a failing test command holds the heal (the tag is untouched); a passing one
  // promotes it; advisory mode writes the plan for a human and builds nothing.
  CHECK(by_repo["cont/failing"]["state"] == "held");
  CHECK(by_repo["cont/failing"]["reason"].get<std::string>().find("test command failed") !=
        std::string::npos);
  CHECK(by_repo["cont/passing"]["state"] == "promoted");
  CHECK(by_repo["adv/app"]["state"] == "held");
  // No egress from build or test steps: the same probe that reaches Debian's archive from this
  // host fails inside the healed image, so the heal is held.
  CHECK(by_repo["net/probe"]["state"] == "held");
  CHECK(by_repo["net/probe"]["reason"].get<std::string>().find("exit 7") != std::string::npos);
  if (have_program("perl"))
    CHECK(run({"perl", "-MIO::Socket::INET", "-e",
               "IO::Socket::INET->new(PeerAddr => 'deb.debian.org:80', Timeout => 5) or exit 7"})
              .exit_code == 0);
  auto outbox = daemon.state_dir() / "outbox" /
                ("heal-" + std::to_string(by_repo["adv/app"]["id"].get<int>()));
  CHECK(fsys::exists(outbox / "plan.json"));
  // The outbox builds offline by hand with the same install the heal runs: the image's apt from
  // the local repository it carries (heal.sh, every value quoted).
  auto containerfile = *fs::read_file(outbox / "Containerfile", 1 << 20);
  CHECK(containerfile.find("RUN --mount=type=bind,source=repo,target=/airheal-heal,ro") !=
        std::string::npos);
  CHECK(fs::read_file(outbox / "repo" / "heal.sh", 1 << 20)->find("'apt-get' ") !=
        std::string::npos);
  CHECK(fsys::exists(outbox / "repo" / "Packages"));
  {
    std::vector<std::string> b = {"buildah",
                                  "--root",
                                  (tmp / "bud-root").string(),
                                  "--runroot",
                                  (tmp / "bud-run").string(),
                                  "--storage-driver",
                                  "vfs"};
    auto bud = b;
    for (auto a : {"bud", "--quiet", "--runtime", "runc", "--network", "none", "--tls-verify=false",
                   "--layers=false", "-f", "Containerfile", "-t", "localhost/by-hand:1"})
      bud.push_back(a);
    bud.push_back("--build-arg");
    bud.push_back("REGISTRY=" + reg);
    bud.push_back(".");
    bud.insert(bud.begin(), {"env", "--chdir=" + outbox.string()});
    run_ok(bud);
    auto q = b;
    for (auto a :
         {"from", "--quiet", "--pull-never", "--name", "by-hand-check", "localhost/by-hand:1"})
      q.push_back(a);
    run_ok(q);
    auto dq = b;
    for (auto a : {"run", "--runtime", "runc", "--network", "none", "by-hand-check", "--",
                   "dpkg-query", "-W", "-f", "${Package} ${Version}\n"})
      dq.push_back(a);
    auto by_hand = run_ok(dq).out;
    for (const auto& [name, version] : fixed_binaries)
      CHECK(by_hand.find(name + " " + version + "\n") != std::string::npos);
  }
  std::string staged_tag = healed["staged_tag"];
  CHECK(staged_tag.rfind("bookworm-main-airheal-", 0) == 0);
  auto after = ctl.json_of({"findings", "--image", "debian:" + staged_tag});
  CHECK(after.empty());

  // One heal layer over the original layers, sharing their blobs.
  HttpClient http("127.0.0.1", daemon.port());
  auto accept =
      std::map<std::string, std::string>{{"Accept", "application/vnd.oci.image.manifest.v1+json"}};
  auto orig_m = json::parse(http.get("/v2/debian/manifests/bookworm-main", accept).body);
  auto healed_m = json::parse(http.get("/v2/debian/manifests/" + staged_tag, accept).body);
  REQUIRE(healed_m["layers"].size() == orig_m["layers"].size() + 1);
  CHECK(healed_m["layers"][0]["digest"] == orig_m["layers"][0]["digest"]);
  auto heal_size = healed_m["layers"].back()["size"].get<double>(),
       base_size = orig_m["layers"][0]["size"].get<double>();
  CHECK(healed_m["layers"].back()["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip");
  // Seven packages, perl-modules among them: the heal layer holds just their files.
  CHECK(heal_size < 0.5 * base_size);
  WARN("heal layer " << heal_size / 1048576 << " MiB over a " << base_size / 1048576
                     << " MiB image");

  // The healed image runs under podman (pulled from airheal's registry, no network) and its own
  // dpkg says the fixed versions are installed. podman's default rlimits exceed this host's hard
  // limits, hence the explicit --ulimit values.
  std::vector<std::string> p = {"podman",
                                "--root",
                                (tmp / "p-root").string(),
                                "--runroot",
                                (tmp / "p-run").string(),
                                "--storage-driver",
                                "vfs"};
  auto pod = [&](std::vector<std::string> a) {
    auto v = p;
    v.insert(v.end(), a.begin(), a.end());
    return run_ok(v);
  };
  auto ref = reg + "/debian:" + staged_tag;
  pod({"pull", "--quiet", "--tls-verify=false", ref});
  auto dq = pod({"run", "--rm", "--network", "none", "--runtime", "runc", "--ulimit",
                 "nofile=1024:1024", "--ulimit", "nproc=1024:1024", ref, "dpkg-query", "-W", "-f",
                 "${Package} ${Version}\\n"})
                .out;
  for (const auto& [name, version] : fixed_binaries)
    CHECK(dq.find(name + " " + version + "\n") != std::string::npos);
  auto dl = pod({"run", "--rm", "--network", "none", "--runtime", "runc", "--ulimit",
                 "nofile=1024:1024", "--ulimit", "nproc=1024:1024", ref, "dpkg", "-l", "perl-base"})
                .out;
  CHECK(dl.find("ii  perl-base") != std::string::npos);
  CHECK(dl.find(fixed_binaries["perl-base"]) != std::string::npos);

  // Approve: the original tag serves the healed image; rollback restores the original digest.
  auto id = std::to_string(healed["id"].get<int>());
  ctl({"heal", "approve", id});
  auto digest_of = [&](const std::string& ref, const std::string& repo = "debian") {
    return sha256_digest(http.get("/v2/" + repo + "/manifests/" + ref, accept).body);
  };
  CHECK(digest_of("bookworm-main", "cont/failing") == healed["original"]);
  CHECK(digest_of("bookworm-main", "cont/passing") == by_repo["cont/passing"]["staged"]);
  CHECK(digest_of("bookworm-main") == healed["staged"]);
  auto shown = ctl({"heal", "show", id}).out;
  CHECK(shown.find("promoted") != std::string::npos);
  CHECK(shown.find("approved by root") != std::string::npos);  // the caller, as the kernel names it
  ctl({"heal", "rollback", "debian:bookworm-main"});
  CHECK(digest_of("bookworm-main") == healed["original"]);
  auto heals = ctl.json_of({"heals"});
  bool rolled = false;
  for (const auto& h : heals)
    if (h["repository"] == "debian") rolled = h["state"] == "rolled_back";
  CHECK(rolled);
  // The original stays a rollback target: garbage collection keeps it.
  ctl({"registry", "gc", "--apply", "--delete-untagged", "--grace", "0"});
  CHECK(http.get("/v2/debian/manifests/" + healed["original"].get<std::string>(), accept).status ==
        200);
  run({"gpgconf", "--homedir", (daemon.state_dir() / "trust" / "gnupg").string(), "--kill", "all"});
}

TEST_CASE(
    "An image built FROM a base that has a newer version here is rebased onto it (upstream bump)",
    "[integration][heal][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  auto tar = debian_minbase_tar();
  auto tracker = debian_security_tracker();
  TempDir tmp;
  Daemon daemon(Daemon::Options{{}, "scan:\n  poll_interval: 1s\n", {}});
  Ctl ctl{daemon.state_dir()};
  auto reg = "127.0.0.1:" + std::to_string(daemon.port());
  make_oci_image_from_tars(tmp / "layout", "main", {tar});
  run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
          "oci:" + (tmp / "layout").string() + ":main", "docker://" + reg + "/library/debian:12"});
  std::vector<std::string> b = {"buildah",
                                "--root",
                                (tmp / "b-root").string(),
                                "--runroot",
                                (tmp / "b-run").string(),
                                "--storage-driver",
                                "vfs"};
  auto with = [&](std::vector<std::string> a) {
    auto v = b;
    v.insert(v.end(), a.begin(), a.end());
    return run_ok(v).out;
  };
  auto trim = [](std::string s) { return s.substr(0, s.find_last_not_of("\n ") + 1); };
  // The application, built FROM the base with buildah (which records the base's name and digest
  // in the org.opencontainers.image.base.* annotations).
  std::ofstream(tmp / "index.html") << "<h1>web</h1>\n";
  auto app = trim(with({"from", "--quiet", "--tls-verify=false", reg + "/library/debian:12"}));
  with({"copy", app, (tmp / "index.html").string(), "/srv/web/index.html"});
  with({"config", "--cmd", R"(["/bin/sh", "-c", "test -f /srv/web/index.html"])", app});
  with({"commit", "--quiet", "--format", "oci", app, "localhost/web:1"});
  with({"push", "--quiet", "--tls-verify=false", "localhost/web:1",
        "docker://" + reg + "/apps/web:1"});
  // A second application with no base annotations at all: its base is recognised by its leading
  // layer, and the base's earlier version by the tag's history.
  fsys::create_directories(tmp / "plain" / "srv");
  std::ofstream(tmp / "plain" / "srv" / "plain.txt") << "plain\n";
  run_ok({"tar", "-cf", (tmp / "plain.tar").string(), "-C", (tmp / "plain").string(), "srv"});
  make_oci_image_from_tars(tmp / "layout-plain", "plain", {tar, tmp / "plain.tar"});
  run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
          "oci:" + (tmp / "layout-plain").string() + ":plain",
          "docker://" + reg + "/apps/plain:1"});
  HttpClient http("127.0.0.1", daemon.port());
  auto accept =
      std::map<std::string, std::string>{{"Accept", "application/vnd.oci.image.manifest.v1+json"}};
  auto web_m = json::parse(http.get("/v2/apps/web/manifests/1", accept).body);
  CHECK_FALSE(
      json::parse(http.get("/v2/apps/plain/manifests/1", accept).body).contains("annotations"));
  auto old_base = sha256_digest(http.get("/v2/library/debian/manifests/12", accept).body);
  REQUIRE(web_m["annotations"]["org.opencontainers.image.base.digest"] == old_base);
  // The vendor's newer base: bookworm minbase built from main and bookworm-security (as Debian's
  // own images are), pushed under the same tag, as a mirror would.
  auto newer = debian_image("bookworm", "minbase", {}, true);
  make_oci_image_from_tars(tmp / "layout-new", "new", {newer.tar});
  run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
          "oci:" + (tmp / "layout-new").string() + ":new",
          "docker://" + reg + "/library/debian:12"});
  auto new_base = sha256_digest(http.get("/v2/library/debian/manifests/12", accept).body);
  REQUIRE(new_base != old_base);

  // Advisories arrive (no fixed packages in the snapshot): the newer base is the only fix here.
  fsys::create_directories(tmp / "adv");
  fsys::copy_file(tracker, tmp / "adv" / "tracker.json");
  Signer signer(tmp / "gpg", "Debian mirror team");
  auto snap = tmp / "s1.tar";
  run_ok({airheal_snapshot_path().string(), "create", "--channel", "debian", "--sequence", "1",
          "--expires", "30d", "--out", snap.string(), "--advisories", (tmp / "adv").string()});
  run_ok({airheal_snapshot_path().string(), "sign", snap.string(), "--key", signer.fingerprint(),
          "--gpg-home", signer.home().string()});
  ctl({"trust", "add", signer.write_public_key(tmp.path()).string(), "--channel", "debian"});
  ctl({"import", snap.string()});
  REQUIRE_FALSE(ctl.json_of({"findings", "--image", "apps/web:1"}).empty());

  json heal;
  for (int i = 0; i < 300; ++i) {
    for (const auto& h : ctl.json_of({"heals"}))
      if (h["repository"] == "apps/web") heal = h;
    if (heal.is_object() &&
        (heal["state"] == "staged" || heal["state"] == "held" || heal["state"] == "failed"))
      break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(heal.dump(2) << daemon.log().substr(0, 20000));
  REQUIRE(heal.is_object());
  REQUIRE(heal["state"] == "staged");
  CHECK(heal["strategy"] == "upstream-bump");
  CHECK(heal["plan"]["rebase"]["from"] == old_base);
  CHECK(heal["plan"]["rebase"]["to"] == new_base);
  // The healed image: the newer base's layers, then the application's own layer, unchanged; its
  // command kept; its findings are exactly the newer base's.
  auto healed = json::parse(
      http.get("/v2/apps/web/manifests/" + heal["staged_tag"].get<std::string>(), accept).body);
  auto nb = json::parse(http.get("/v2/library/debian/manifests/12", accept).body);
  REQUIRE(healed["layers"].size() == nb["layers"].size() + 1);
  for (std::size_t i = 0; i < nb["layers"].size(); ++i)
    CHECK(healed["layers"][i]["digest"] == nb["layers"][i]["digest"]);
  CHECK(healed["layers"].back()["digest"] == web_m["layers"].back()["digest"]);
  CHECK(healed["annotations"]["org.opencontainers.image.base.digest"] == new_base);
  auto cfg = json::parse(
      http.get("/v2/apps/web/blobs/" + healed["config"]["digest"].get<std::string>()).body);
  CHECK(cfg["config"]["Cmd"] == json::array({"/bin/sh", "-c", "test -f /srv/web/index.html"}));
  auto advisories = [&](const std::string& ref) {
    std::set<std::string> out;
    for (const auto& f : ctl.json_of({"findings", "--image", ref, "--all"}))
      out.insert(f["package"].get<std::string>() + " " + f["advisory"].get<std::string>());
    return out;
  };
  auto after = advisories("apps/web:" + heal["staged_tag"].get<std::string>());
  CHECK(after == advisories("library/debian:12"));
  CHECK(after.size() < advisories("apps/web:1").size());
  // The unannotated image: the daemon recognised its base by its leading layer and the base tag's
  // history, and healed it on its own the same way.
  json plain;
  for (int i = 0; i < 300; ++i) {
    for (const auto& h : ctl.json_of({"heals"}))
      if (h["repository"] == "apps/plain") plain = h;
    if (plain.is_object() &&
        (plain["state"] == "staged" || plain["state"] == "held" || plain["state"] == "failed"))
      break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(plain.dump(2));
  REQUIRE(plain.is_object());
  CHECK(plain["state"] == "staged");
  CHECK(plain["strategy"] == "upstream-bump");
  CHECK(plain["plan"]["rebase"]["base"] == "library/debian:12");
  CHECK(plain["plan"]["rebase"]["from"] == old_base);
  CHECK(advisories("apps/plain:" + plain["staged_tag"].get<std::string>()) ==
        advisories("library/debian:12"));
  run({"gpgconf", "--homedir", (daemon.state_dir() / "trust" / "gnupg").string(), "--kill", "all"});
  run({"gpgconf", "--homedir", (daemon.state_dir() / "keys" / "gnupg").string(), "--kill", "all"});
}
