// skopeo, buildah and podman against the real daemon: multi-layer images in OCI and Docker
// schema 2, by tag and by digest, over HTTP on loopback and over TLS with credentials.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;

namespace {
ProcessResult must(const std::vector<std::string>& argv) {
  auto r = run(argv, std::chrono::seconds(600));
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  INFO(cmd << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

// Storage options that keep buildah and podman inside a temporary directory.
std::vector<std::string> storage(const TempDir& t, const std::string& tool) {
  return {"--root",           (t / (tool + "-root")).string(),
          "--runroot",        (t / (tool + "-run")).string(),
          "--storage-driver", "vfs"};
}

json inspect(const std::string& ref,
             const std::vector<std::string>& extra = {"--tls-verify=false"}) {
  auto r = must(concat(concat({"skopeo", "inspect", "--raw"}, extra), {ref}));
  return json::parse(r.out);
}
}  // namespace

TEST_CASE("skopeo copies multi-layer OCI and Docker images in and out, by tag and digest",
          "[integration][clients][slow]") {
  if (!have_program("skopeo")) FAIL("skopeo is not installed (scripts/setup.sh installs it)");
  Daemon d;
  TempDir t;
  auto img = make_oci_image(t / "layout", "v1", 5, 300 * 1024, 42);
  auto reg = "docker://" + d.address();

  // OCI format, by tag.
  must({"skopeo", "copy", "--dest-tls-verify=false", "oci:" + (t / "layout").string() + ":v1",
        reg + "/team/app/api:v1"});
  auto m = inspect(reg + "/team/app/api:v1");
  CHECK(m["mediaType"] == "application/vnd.oci.image.manifest.v1+json");
  CHECK(m["layers"].size() == 5);
  auto tags =
      json::parse(must({"skopeo", "list-tags", "--tls-verify=false", reg + "/team/app/api"}).out);
  CHECK(tags["Tags"] == json({"v1"}));

  // Docker schema 2 conversion into another repository (layers are mounted across).
  must({"skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "v2s2",
        reg + "/team/app/api:v1", reg + "/docker/app:v1"});
  auto dm = inspect(reg + "/docker/app:v1");
  CHECK(dm["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json");
  CHECK(dm["layers"].size() == 5);

  // By digest, back out to a fresh OCI layout: the same layer bytes come back.
  auto digest =
      json::parse(
          must({"skopeo", "inspect", "--tls-verify=false", reg + "/team/app/api:v1"}).out)["Digest"]
          .get<std::string>();
  CHECK(digest == img.manifest_digest);
  must({"skopeo", "copy", "--src-tls-verify=false", reg + "/team/app/api@" + digest,
        "oci:" + (t / "out").string() + ":copy"});
  for (const auto& l : img.layer_digests) {
    auto hex = l.substr(7);
    auto a = run({"cmp", (t / "layout" / "blobs" / "sha256" / hex).string(),
                  (t / "out" / "blobs" / "sha256" / hex).string()});
    CHECK(a.exit_code == 0);
  }
  // The Docker-format image pulls back too.
  must({"skopeo", "copy", "--src-tls-verify=false", reg + "/docker/app:v1",
        "dir:" + (t / "dockerdir").string()});
  // Deleting through skopeo (by tag resolves to the digest).
  must({"skopeo", "delete", "--tls-verify=false", reg + "/docker/app:v1"});
  CHECK(run({"skopeo", "inspect", "--tls-verify=false", reg + "/docker/app:v1"}).exit_code != 0);
  auto check =
      run({airhealctl_path().string(), "--state-dir", d.state_dir().string(), "store", "check"});
  CHECK(check.exit_code == 0);
}

TEST_CASE("buildah pushes and pulls, podman pulls", "[integration][clients][slow]") {
  if (!have_program("buildah") || !have_program("podman"))
    FAIL("buildah and podman are needed (scripts/setup.sh installs them)");
  Daemon d;
  TempDir t;
  make_oci_image(t / "layout", "v1", 3, 100 * 1024, 7);
  auto reg = d.address();
  must({"skopeo", "copy", "--dest-tls-verify=false", "oci:" + (t / "layout").string() + ":v1",
        "docker://" + reg + "/base:v1"});

  auto b = storage(t, "buildah");
  must(concat(concat({"buildah"}, b), {"pull", "--tls-verify=false", reg + "/base:v1"}));
  // A new image on top of the pulled one, committed and pushed in both formats.
  auto ctr = must(concat(concat({"buildah"}, b), {"from", "--pull-never", reg + "/base:v1"})).out;
  while (!ctr.empty() && ctr.back() == '\n') ctr.pop_back();
  std::ofstream(t / "extra.txt") << "added by buildah\n";
  must(concat(concat({"buildah"}, b), {"copy", ctr, (t / "extra.txt").string(), "/extra.txt"}));
  must(concat(concat({"buildah"}, b), {"commit", ctr, "localhost/derived:v2"}));
  must(concat(concat({"buildah"}, b), {"push", "--tls-verify=false", "localhost/derived:v2",
                                       "docker://" + reg + "/team/derived:v2"}));
  must(concat(concat({"buildah"}, b),
              {"push", "--tls-verify=false", "--format", "docker", "localhost/derived:v2",
               "docker://" + reg + "/team/derived:v2-docker"}));
  CHECK(inspect("docker://" + reg + "/team/derived:v2")["layers"].size() == 4);
  CHECK(inspect("docker://" + reg + "/team/derived:v2-docker")["mediaType"] ==
        "application/vnd.docker.distribution.manifest.v2+json");

  auto p = storage(t, "podman");
  must(concat(concat({"podman"}, p), {"pull", "--tls-verify=false", reg + "/team/derived:v2"}));
  must(concat(concat({"podman"}, p),
              {"pull", "--tls-verify=false", reg + "/team/derived:v2-docker"}));
  auto digest = inspect("docker://" + reg + "/team/derived:v2");
  auto id = must(concat(concat({"podman"}, p),
                        {"image", "inspect", "--format", "{{.Digest}}", reg + "/team/derived:v2"}))
                .out;
  CHECK_THAT(id, Catch::StartsWith("sha256:"));
  // By digest.
  auto man_digest = json::parse(must({"skopeo", "inspect", "--tls-verify=false",
                                      "docker://" + reg + "/team/derived:v2"})
                                    .out)["Digest"]
                        .get<std::string>();
  must(concat(concat({"podman"}, p),
              {"pull", "--tls-verify=false", reg + "/team/derived@" + man_digest}));
}

TEST_CASE("TLS with an operator certificate, credentials required, wrong ones refused",
          "[integration][clients][tls][slow]") {
  if (!have_program("skopeo") || !have_program("openssl")) FAIL("skopeo and openssl are needed");
  TempDir t;
  std::filesystem::create_directories(t / "certs");
  must({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
        (t / "key.pem").string(), "-out", (t / "cert.pem").string()});
  std::filesystem::copy_file(t / "cert.pem", t / "certs" / "ca.crt");
  auto r = run({airhealctl_path().string(), "--state-dir", (t / "state").string(), "user", "add",
                "ci", "--push", "*"},
               std::chrono::seconds(60), std::string("correct-horse-battery\n"));
  REQUIRE(r.exit_code == 0);
  std::string cfg =
      "tls:\n  certificate: " + (t / "cert.pem").string() +
      "\n  private_key: " + (t / "key.pem").string() +
      "\nauth:\n  anonymous_pull: false\n  loopback_push_without_credentials: false\n";
  Daemon d(Daemon::Options{.state_dir = t / "state", .config_yaml = cfg, .extra_args = {}});
  CHECK_THAT(d.log(), Catch::Contains("https://127.0.0.1:"));
  make_oci_image(t / "layout", "v1", 2, 50 * 1024, 3);
  auto dest = "docker://" + d.address() + "/secure/app:v1";
  auto src = "oci:" + (t / "layout").string() + ":v1";
  auto certs = "--dest-cert-dir=" + (t / "certs").string();

  auto anonymous = run({"skopeo", "copy", certs, src, dest});
  CHECK(anonymous.exit_code != 0);
  CHECK_THAT(anonymous.err, Catch::Contains("unauthorized") || Catch::Contains("401") ||
                                Catch::Contains("authentication required"));
  auto wrong = run({"skopeo", "copy", certs, "--dest-creds", "ci:wrong-password", src, dest});
  CHECK(wrong.exit_code != 0);
  CHECK_THAT(wrong.err, Catch::Contains("unauthorized") || Catch::Contains("401") ||
                            Catch::Contains("invalid"));
  auto untrusted = run({"skopeo", "copy", "--dest-creds", "ci:correct-horse-battery", src, dest});
  CHECK(untrusted.exit_code != 0);  // the certificate is not trusted without the operator's CA
  must({"skopeo", "copy", certs, "--dest-creds", "ci:correct-horse-battery", src, dest});
  auto m = json::parse(must({"skopeo", "inspect", "--raw", "--cert-dir", (t / "certs").string(),
                             "--creds", "ci:correct-horse-battery", dest})
                           .out);
  CHECK(m["layers"].size() == 2);
  CHECK(run({"skopeo", "inspect", "--raw", "--cert-dir", (t / "certs").string(), dest}).exit_code !=
        0);
  if (have_program("podman")) {
    auto p = storage(t, "podman");
    must(concat(concat({"podman"}, p),
                {"pull", "--cert-dir", (t / "certs").string(), "--creds",
                 "ci:correct-horse-battery", d.address() + "/secure/app:v1"}));
  }
}
