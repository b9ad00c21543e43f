// Registry permissions (issue 25) with the real clients clusters and CI use: skopeo, podman,
// buildah and containerd's ctr (a private containerd started by the test). A pull-only cluster
// user pulls by tag, digest and through a hosts.toml mirror (?ns=), and cannot push (403 DENIED);
// a CI user pushes only where its patterns allow; tags written by a snapshot import are protected
// from pushes; every refusal is journalled; status and the API list the users with their rights.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/fs.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

// A private containerd (its own root, state and socket; no CRI), stopped with the test.
class Containerd {
 public:
  explicit Containerd(const fsys::path& dir) : dir_(dir) {
    fsys::create_directories(dir);
    std::ofstream(dir / "config.toml")
        << "version = 2\nroot = \"" << (dir / "root").string() << "\"\nstate = \""
        << (dir / "state").string() << "\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
        << "[grpc]\n  address = \"" << socket().string() << "\"\n[ttrpc]\n  address = \""
        << (dir / "c.sock.ttrpc").string() << "\"\n";
    thread_ = std::thread([this] {
      run({"containerd", "--config", (dir_ / "config.toml").string()}, std::chrono::seconds(900));
    });
    for (int i = 0; i < 200; ++i) {
      if (run({"ctr", "--address", socket().string(), "version"}, std::chrono::seconds(10))
              .exit_code == 0)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("containerd did not start");
  }
  ~Containerd() {
    run({"pkill", "-f", "containerd --config " + (dir_ / "config.toml").string()});
    if (thread_.joinable()) thread_.join();
  }
  fsys::path socket() const { return dir_ / "c.sock"; }
  std::vector<std::string> ctr() const {
    return {"ctr", "--address", socket().string(), "--namespace", "airheal-test"};
  }

 private:
  fsys::path dir_;
  std::thread thread_;
};

}  // namespace

TEST_CASE(
    "registry users pull and push only where their rights allow, with skopeo, podman, buildah and "
    "containerd",
    "[integration][registry][auth][slow]") {
  for (auto tool : {"skopeo", "podman", "buildah", "containerd", "ctr"})
    if (!have_program(tool)) FAIL(std::string(tool) + " is needed (scripts/setup.sh installs it)");
  TempDir t;
  auto state = t / "state";
  auto ctl = [&](std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    auto r = run(args, std::chrono::seconds(120), input);
    INFO(describe_run(args, r));
    REQUIRE(r.exit_code == 0);
    return r;
  };
  // The guide's users: a pull-only one for the clusters (the default) and a CI user.
  CHECK_THAT(ctl({"user", "add", "cluster-pull"}, "cluster-password\n").out,
             Catch::Contains("pull=*;push=;delete=;roles=viewer"));
  ctl({"user", "add", "ci", "--pull", "apps/*", "--push", "apps/team-a/*", "--push",
       "apps/managed"},
      "ci-password-123\n");
  auto users = json::parse(ctl({"--json", "user", "list"}).out);
  REQUIRE(users.size() == 2);
  CHECK(users[0]["name"] == "ci");
  CHECK(users[0]["push"] == json({"apps/team-a/*", "apps/managed"}));

  // A snapshot import writes apps/managed:1 (a managed tag), before the daemon starts.
  Signer signer(t / "gpg", "Images");
  auto img = make_oci_image(t / "layout", "v1", 2, 64 * 1024, 5);
  run_ok({airheal_snapshot_path().string(), "create", "--channel", "images", "--sequence", "1",
          "--out", (t / "s.tar").string(), "--image", (t / "layout").string() + "=apps/managed:1"});
  run_ok({airheal_snapshot_path().string(), "sign", (t / "s.tar").string(), "--key",
          signer.fingerprint(), "--gpg-home", signer.home().string()});
  ctl({"trust", "add", signer.write_public_key(t.path()).string(), "--channel", "images"});
  ctl({"import", (t / "s.tar").string()});

  Daemon d(Daemon::Options{
      state, "auth:\n  anonymous_pull: false\n  loopback_push_without_credentials: false\n", {}});
  const auto reg = d.address();
  const auto src = "oci:" + (t / "layout").string() + ":v1";
  const std::vector<std::string> skopeo = {"skopeo", "--insecure-policy"};
  auto copy = [&](const std::string& creds, const std::string& dest) {
    return run(concat(skopeo, {"copy", "--dest-tls-verify=false", "--dest-creds", creds, src,
                               "docker://" + reg + "/" + dest}));
  };

  // CI pushes where it may, and is refused (403 DENIED, named) elsewhere.
  run_ok(concat(skopeo, {"copy", "--dest-tls-verify=false", "--dest-creds", "ci:ci-password-123",
                         src, "docker://" + reg + "/apps/team-a/app:1"}));
  auto elsewhere = copy("ci:ci-password-123", "apps/team-b/app:1");
  CHECK(elsewhere.exit_code != 0);
  CHECK_THAT(elsewhere.err,
             Catch::Contains("denied") && Catch::Contains("may not push to apps/team-b/app"));
  // The managed tag: protected even where CI may push; a new tag in that repository is fine.
  auto over = copy("ci:ci-password-123", "apps/managed:1");
  CHECK(over.exit_code != 0);
  CHECK_THAT(over.err, Catch::Contains("was written by a snapshot import"));
  CHECK(copy("ci:ci-password-123", "apps/managed:ci-build").exit_code == 0);
  // The cluster user pulls and cannot push; no credentials: 401.
  auto cluster_push = copy("cluster-pull:cluster-password", "apps/team-a/app:2");
  CHECK(cluster_push.exit_code != 0);
  CHECK_THAT(cluster_push.err, Catch::Contains("denied"));
  auto anonymous = run(
      concat(skopeo, {"inspect", "--tls-verify=false", "docker://" + reg + "/apps/team-a/app:1"}));
  CHECK(anonymous.exit_code != 0);
  CHECK_THAT(anonymous.err,
             Catch::Contains("unauthorized") || Catch::Contains("authentication required"));
  auto digest = json::parse(run_ok(concat(skopeo, {"inspect", "--tls-verify=false", "--creds",
                                                   "cluster-pull:cluster-password",
                                                   "docker://" + reg + "/apps/team-a/app:1"}))
                                .out)["Digest"]
                    .get<std::string>();
  CHECK(digest == img.manifest_digest);

  // podman and buildah as the cluster user: pull by tag and digest, push refused.
  std::vector<std::string> pstore = {"--root",           (t / "podman-root").string(),
                                     "--runroot",        (t / "podman-run").string(),
                                     "--storage-driver", "vfs"};
  run_ok(concat(concat({"podman"}, pstore),
                {"pull", "--tls-verify=false", "--creds", "cluster-pull:cluster-password",
                 reg + "/apps/team-a/app:1"}));
  run_ok(concat(concat({"podman"}, pstore),
                {"pull", "--tls-verify=false", "--creds", "cluster-pull:cluster-password",
                 reg + "/apps/managed@" + img.manifest_digest}));
  auto podman_push =
      run(concat(concat({"podman"}, pstore),
                 {"push", "--tls-verify=false", "--creds", "cluster-pull:cluster-password",
                  reg + "/apps/team-a/app:1", "docker://" + reg + "/apps/team-a/app:podman"}));
  CHECK(podman_push.exit_code != 0);
  std::vector<std::string> bstore = {"--root",           (t / "buildah-root").string(),
                                     "--runroot",        (t / "buildah-run").string(),
                                     "--storage-driver", "vfs"};
  run_ok(concat(concat({"buildah"}, bstore),
                {"pull", "--tls-verify=false", "--creds", "cluster-pull:cluster-password",
                 reg + "/apps/team-a/app:1"}));
  auto buildah_push =
      run(concat(concat({"buildah"}, bstore),
                 {"push", "--tls-verify=false", "--creds", "cluster-pull:cluster-password",
                  reg + "/apps/team-a/app:1", "docker://" + reg + "/apps/team-a/app:buildah"}));
  CHECK(buildah_push.exit_code != 0);
  CHECK(run_ok(concat(concat({"buildah"}, bstore),
                      {"push", "--tls-verify=false", "--creds", "ci:ci-password-123",
                       reg + "/apps/team-a/app:1", "docker://" + reg + "/apps/team-a/app:buildah"}))
            .exit_code == 0);

  // containerd: the cluster user pulls directly and through a hosts.toml mirror for the upstream
  // name the pods use (containerd adds ?ns=registry.example.org); its push is refused.
  Containerd c(t / "containerd");
  auto ctr = c.ctr();
  run_ok(concat(ctr, {"images", "pull", "--plain-http", "--snapshotter", "native", "--user",
                      "cluster-pull:cluster-password", reg + "/apps/team-a/app:1"}));
  auto hosts = t / "certs.d" / "registry.example.org";
  fsys::create_directories(hosts);
  std::ofstream(hosts / "hosts.toml")
      << "server = \"https://registry.example.org\"\n\n[host.\"http://" << reg
      << "\"]\n  capabilities = [\"pull\", \"resolve\"]\n";
  run_ok(concat(
      ctr, {"images", "pull", "--hosts-dir", (t / "certs.d").string(), "--snapshotter", "native",
            "--user", "cluster-pull:cluster-password", "registry.example.org/apps/managed:1"}));
  auto list = run_ok(concat(ctr, {"images", "list", "--quiet"})).out;
  CHECK_THAT(list, Catch::Contains("registry.example.org/apps/managed:1"));
  auto pulled = run_ok(concat(ctr, {"images", "list"})).out;
  CHECK_THAT(pulled, Catch::Contains(img.manifest_digest));
  run_ok(concat(ctr, {"images", "tag", reg + "/apps/team-a/app:1", reg + "/apps/team-a/app:ctr"}));
  // ctr reports the 403 at once but then waits on its progress display for minutes (ctr's
  // behaviour, not the registry's): bounded, and the refusal is read from the registry's side.
  auto ctr_push = run(concat(ctr, {"images", "push", "--plain-http", "--user",
                                   "cluster-pull:cluster-password", reg + "/apps/team-a/app:ctr"}),
                      std::chrono::seconds(20));
  CHECK(ctr_push.exit_code != 0);
  CHECK_THAT(d.log(), Catch::Contains("PUT /v2/apps/team-a/app/manifests/ctr -> 403"));
  auto tags =
      run_ok(concat(skopeo, {"list-tags", "--tls-verify=false", "--creds", "ci:ci-password-123",
                             "docker://" + reg + "/apps/team-a/app"}));
  CHECK_THAT(tags.out, Catch::Contains("\"buildah\"") && !Catch::Contains("\"ctr\""));
  CHECK(d.log().find("?ns=registry.example.org") != std::string::npos);

  // Every refusal is in the journal (at most one per user, action and repository a minute).
  auto journal = ctl({"--json", "journal"}).out;
  CHECK_THAT(journal, Catch::Contains("\"type\":\"registry.denied\"") &&
                          Catch::Contains("\"user\":\"cluster-pull\"") &&
                          Catch::Contains("\"user\":\"ci\"") && Catch::Contains("apps/team-b/app"));
  // Status and the API list the users with their rights; the pull-only user cannot change anything.
  CHECK_THAT(
      ctl({"status"}).out,
      Catch::Contains("ci  pull=apps/*;push=apps/team-a/*,apps/managed;delete=;roles=viewer"));
  HttpClient http("127.0.0.1", d.port());
  auto basic = [](const std::string& user_pass) {
    static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned val = 0;
    int bits = -6;
    for (unsigned char ch : user_pass) {
      val = (val << 8) + ch;
      bits += 8;
      while (bits >= 0) {
        out.push_back(b64[(val >> bits) & 0x3F]);
        bits -= 6;
      }
    }
    if (bits > -6) out.push_back(b64[((val << 8) >> (bits + 8)) & 0x3F]);
    while (out.size() % 4) out.push_back('=');
    return "Basic " + out;
  };
  auto status = http.request("GET", "/api/v1/status",
                             {{"Authorization", basic("cluster-pull:cluster-password")}});
  REQUIRE(status.status == 200);
  auto st = json::parse(status.body);
  REQUIRE(st["users"].size() == 2);
  CHECK(st["users"][1]["name"] == "cluster-pull");
  CHECK(st["users"][1]["push"].empty());
  auto vex = http.request("POST", "/api/v1/vex",
                          {{"Authorization", basic("cluster-pull:cluster-password")}},
                          json{{"vulnerability", "CVE-2024-1"},
                               {"product", "apps/*"},
                               {"status", "not_affected"},
                               {"justification", "component_not_present"}}
                              .dump());
  CHECK(vex.status == 403);
  CHECK_THAT(vex.body, Catch::Contains("has only the viewer role"));
}

TEST_CASE("a users file without rights (written before rights existed) gives pull-only users",
          "[integration][registry][auth]") {
  TempDir t;
  auto state = t / "state";
  fsys::create_directories(state);
  // The old line format: NAME:HASH. The hash is for "old-password-1" (made by airhealctl, then
  // cut).
  auto r = run({airhealctl_path().string(), "--state-dir", state.string(), "user", "add", "old"},
               std::chrono::seconds(60), std::string("old-password-1\n"));
  REQUIRE(r.exit_code == 0);
  auto text = *fs::read_file(state / "users", 1 << 20);
  std::string legacy;
  for (std::size_t pos = 0; pos < text.size();) {
    auto end = text.find('\n', pos);
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    legacy += line.substr(0, line.rfind(':')) + "\n";  // drop the rights field
  }
  REQUIRE(fs::write_file_atomic(state / "users", legacy));
  Daemon d(Daemon::Options{state, "auth:\n  loopback_push_without_credentials: false\n", {}});
  make_oci_image(t / "layout", "v1", 1, 1024, 3);
  auto push = run({"skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds",
                   "old:old-password-1", "oci:" + (t / "layout").string() + ":v1",
                   "docker://" + d.address() + "/apps/x:1"});
  CHECK(push.exit_code != 0);
  CHECK_THAT(push.err, Catch::Contains("may not push to apps/x"));
  // The dashboard lists the user with its rights (headless Chromium, after the page's scripts ran).
  if (!have_program("chromium")) FAIL("chromium is needed (scripts/setup.sh installs it)");
  auto dom =
      run_ok({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--user-data-dir=" + (t / "chromium").string(), "--virtual-time-budget=8000",
              "--dump-dom", "http://" + d.address() + "/dashboard"},
             std::chrono::seconds(120))
          .out;
  INFO(dom.substr(0, 6000));
  CHECK(dom.find("<tr data-user=\"old\"><td>old</td><td>*</td><td>\u2013</td>") !=
        std::string::npos);
}
