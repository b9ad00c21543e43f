// The real airheald over real TCP, driven by an HTTP client: the distribution-spec exchanges
// and the bad-input cases of issue 2.
#include <catch2/catch.hpp>
#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/digest.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;

namespace {
const std::string kOciManifest = "application/vnd.oci.image.manifest.v1+json";

std::string push_blob(HttpClient& c, const std::string& repo, const std::string& data) {
  auto r =
      c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + sha256_digest(data), {}, data);
  REQUIRE(r.status == 201);
  return sha256_digest(data);
}

std::string image_manifest(const std::string& cfg, const std::vector<std::string>& layers,
                           std::optional<std::string> subject = std::nullopt,
                           const std::string& artifact = "") {
  json m = {{"schemaVersion", 2},
            {"mediaType", kOciManifest},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", sha256_digest(cfg)},
              {"size", cfg.size()}}},
            {"layers", json::array()}};
  for (const auto& l : layers)
    m["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                           {"digest", sha256_digest(l)},
                           {"size", l.size()}});
  if (subject) m["subject"] = {{"mediaType", kOciManifest}, {"digest", *subject}, {"size", 100}};
  if (!artifact.empty()) m["artifactType"] = artifact;
  return m.dump();
}

std::string push_image(HttpClient& c, const std::string& repo, const std::string& tag,
                       unsigned seed) {
  auto cfg = "{\"n\":" + std::to_string(seed) + "}";
  auto layer = random_bytes(5000, seed);
  push_blob(c, repo, cfg);
  push_blob(c, repo, layer);
  auto m = image_manifest(cfg, {layer});
  auto r =
      c.request("PUT", "/v2/" + repo + "/manifests/" + tag, {{"Content-Type", kOciManifest}}, m);
  REQUIRE(r.status == 201);
  return r.header("docker-content-digest");
}

std::string error_code(const HttpResponse& r) { return oci_error_code(r.body); }
}  // namespace

TEST_CASE("ping, headers and JSON errors", "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto ping = c.get("/v2/");
  CHECK(ping.status == 200);
  CHECK(ping.header("docker-distribution-api-version") == "registry/2.0");
  auto missing = c.get("/v2/nothing/here/manifests/latest");
  CHECK(missing.status == 404);
  CHECK(error_code(missing) == "NAME_UNKNOWN");
  CHECK(missing.header("content-type") == "application/json");
}

TEST_CASE("chunked push with status, cancel and resume", "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto data = random_bytes(3 * 1024 * 1024 + 17, 5);
  auto start = c.request("POST", "/v2/team/app/api/blobs/uploads/");
  REQUIRE(start.status == 202);
  auto loc = start.header("location");
  CHECK(!start.header("docker-upload-uuid").empty());
  const std::size_t chunk = 1024 * 1024;
  for (std::size_t off = 0; off < data.size(); off += chunk) {
    auto n = std::min(chunk, data.size() - off);
    auto r = c.request("PATCH", loc,
                       {{"Content-Type", "application/octet-stream"},
                        {"Content-Range", std::to_string(off) + "-" + std::to_string(off + n - 1)}},
                       data.substr(off, n));
    REQUIRE(r.status == 202);
    CHECK(r.header("range") == "0-" + std::to_string(off + n - 1));
    loc = r.header("location");
  }
  auto status = c.get(loc);
  CHECK(status.status == 204);
  CHECK(status.header("range") == "0-" + std::to_string(data.size() - 1));
  auto fin = c.request("PUT", loc + "?digest=" + sha256_digest(data));
  REQUIRE(fin.status == 201);
  auto got = c.get("/v2/team/app/api/blobs/" + sha256_digest(data));
  CHECK(got.status == 200);
  CHECK(got.body == data);
  CHECK(got.header("docker-content-digest") == sha256_digest(data));

  auto other = c.request("POST", "/v2/team/app/api/blobs/uploads/");
  auto del = c.request("DELETE", other.header("location"));
  CHECK(del.status == 204);
  CHECK(error_code(c.get(other.header("location"))) == "BLOB_UPLOAD_UNKNOWN");
}

TEST_CASE("streamed PATCH without Content-Range (chunked transfer encoding)",
          "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto start = c.request("POST", "/v2/r/blobs/uploads/");
  auto loc = start.header("location");
  auto body = random_bytes(200000, 9);
  // Send the PATCH with chunked encoding by hand, then finish with PUT.
  std::string path = loc;
  std::string raw =
      "PATCH " + path +
      " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  char hex[32];
  std::snprintf(hex, sizeof hex, "%zx\r\n", body.size());
  raw += hex + body + "\r\n0\r\n\r\n";
  send_raw_and_close(d.host(), d.port(), raw);
  // The server processes the request even though we closed our side after sending it.
  for (int i = 0; i < 100; ++i) {
    auto st = c.get(loc);
    if (st.header("range") == "0-" + std::to_string(body.size() - 1)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto fin = c.request("PUT", loc + "?digest=" + sha256_digest(body));
  CHECK(fin.status == 201);
}

TEST_CASE("a client that disconnects mid-upload leaves nothing half-written",
          "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto start = c.request("POST", "/v2/r/blobs/uploads/");
  auto loc = start.header("location");
  auto first = c.request("PATCH", loc, {{"Content-Range", "0-9"}}, "0123456789");
  REQUIRE(first.status == 202);
  // Announce 100000 bytes, send 50000, hang up.
  std::string raw =
      "PATCH " + loc +
      " HTTP/1.1\r\nHost: x\r\nContent-Range: 10-100009\r\nContent-Length: 100000\r\n\r\n" +
      std::string(50000, 'x');
  send_raw_and_close(d.host(), d.port(), raw);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto st = c.get(loc);
  CHECK(st.status == 204);
  CHECK(st.header("range") == "0-9");
  // And a monolithic PUT cut short never becomes a blob.
  auto blob = random_bytes(100000, 1);
  auto p = c.request("POST", "/v2/r/blobs/uploads/").header("location");
  std::string put = "PUT " + p + "?digest=" + sha256_digest(blob) +
                    " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                    blob.substr(0, 30000);
  send_raw_and_close(d.host(), d.port(), put);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(c.request("HEAD", "/v2/r/blobs/" + sha256_digest(blob)).status == 404);
  // The daemon keeps serving.
  CHECK(c.get("/v2/").status == 200);
}

TEST_CASE("wrong digests, missing blobs, bad manifests and oversize manifests are refused",
          "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto wrong =
      c.request("POST", "/v2/r/blobs/uploads/?digest=" + sha256_digest("other"), {}, "content");
  CHECK(wrong.status == 400);
  CHECK(error_code(wrong) == "DIGEST_INVALID");
  CHECK(c.request("HEAD", "/v2/r/blobs/" + sha256_digest("content")).status == 404);
  CHECK(c.request("HEAD", "/v2/r/blobs/" + sha256_digest("other")).status == 404);

  auto m = image_manifest("{}", {"layer-not-pushed"});
  push_blob(c, "r", "{}");
  auto unknown = c.request("PUT", "/v2/r/manifests/v1", {{"Content-Type", kOciManifest}}, m);
  CHECK(unknown.status == 400);
  CHECK(error_code(unknown) == "MANIFEST_BLOB_UNKNOWN");

  auto bad_json = c.request("PUT", "/v2/r/manifests/v1", {{"Content-Type", kOciManifest}},
                            "{\"schemaVersion\":");
  CHECK(error_code(bad_json) == "MANIFEST_INVALID");
  auto bad_type = c.request("PUT", "/v2/r/manifests/v1",
                            {{"Content-Type", "application/x-whatever"}}, image_manifest("{}", {}));
  CHECK(error_code(bad_type) == "MANIFEST_INVALID");
  auto by_wrong_digest = c.request("PUT", "/v2/r/manifests/" + sha256_digest("nope"),
                                   {{"Content-Type", kOciManifest}}, image_manifest("{}", {}));
  CHECK(error_code(by_wrong_digest) == "DIGEST_INVALID");

  HttpClient c2(d.host(), d.port());
  auto huge = c2.request("PUT", "/v2/r/manifests/big", {{"Content-Type", kOciManifest}},
                         std::string(5 * 1024 * 1024, ' '));
  CHECK(huge.status == 413);

  auto bad_name = c.get("/v2/Bad_Name/tags/list");
  CHECK(error_code(bad_name) == "NAME_INVALID");
  CHECK(error_code(c.get("/v2/a/../b/tags/list")) == "NAME_INVALID");
  CHECK(c.get("/v2/").status == 200);
  auto tags = c.get("/v2/r/tags/list");
  CHECK(json::parse(tags.body)["tags"].empty());
}

TEST_CASE("pull by tag and digest, HEAD, Range and DELETE", "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto digest = push_image(c, "app", "v1", 1);
  auto by_tag = c.get("/v2/app/manifests/v1", {{"Accept", kOciManifest}});
  REQUIRE(by_tag.status == 200);
  CHECK(by_tag.header("content-type") == kOciManifest);
  CHECK(by_tag.header("docker-content-digest") == digest);
  CHECK(sha256_digest(by_tag.body) == digest);
  CHECK(c.get("/v2/app/manifests/" + digest).body == by_tag.body);
  auto head = c.request("HEAD", "/v2/app/manifests/v1");
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == std::to_string(by_tag.body.size()));
  CHECK(head.body.empty());

  auto layer = json::parse(by_tag.body)["layers"][0]["digest"].get<std::string>();
  auto part = c.get("/v2/app/blobs/" + layer, {{"Range", "bytes=10-19"}});
  CHECK(part.status == 206);
  CHECK(part.body == random_bytes(5000, 1).substr(10, 10));
  CHECK(part.header("content-range") == "bytes 10-19/5000");

  CHECK(c.request("DELETE", "/v2/app/manifests/v1").status == 202);  // a tag
  CHECK(c.get("/v2/app/manifests/v1").status == 404);
  CHECK(c.get("/v2/app/manifests/" + digest).status == 200);
  CHECK(c.request("DELETE", "/v2/app/manifests/" + digest).status == 202);
  CHECK(error_code(c.get("/v2/app/manifests/" + digest)) == "MANIFEST_UNKNOWN");
  CHECK(c.request("DELETE", "/v2/app/blobs/" + layer).status == 202);
  CHECK(error_code(c.get("/v2/app/blobs/" + layer)) == "BLOB_UNKNOWN");
}

TEST_CASE("cross-repository mount", "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto blob = push_blob(c, "src/repo", "shared layer");
  auto m = c.request("POST", "/v2/dst/repo/blobs/uploads/?mount=" + blob + "&from=src/repo");
  CHECK(m.status == 201);
  CHECK(m.header("location") == "/v2/dst/repo/blobs/" + blob);
  CHECK(c.get("/v2/dst/repo/blobs/" + blob).body == "shared layer");
  // Unknown source: the registry falls back to an upload session.
  auto fallback = c.request(
      "POST", "/v2/dst/repo/blobs/uploads/?mount=" + sha256_digest("nope") + "&from=src/repo");
  CHECK(fallback.status == 202);
  CHECK(!fallback.header("docker-upload-uuid").empty());
}

TEST_CASE("tag and catalog pagination with Link headers", "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto cfg = std::string("{}");
  push_blob(c, "p", cfg);
  auto m = image_manifest(cfg, {});
  for (auto t : {"e", "a", "d", "c", "b"})
    REQUIRE(
        c.request("PUT", std::string("/v2/p/manifests/") + t, {{"Content-Type", kOciManifest}}, m)
            .status == 201);
  std::vector<std::string> seen;
  std::string next = "/v2/p/tags/list?n=2";
  int pages = 0;
  while (!next.empty() && pages < 10) {
    auto r = c.get(next);
    REQUIRE(r.status == 200);
    auto page = json::parse(r.body);
    for (auto& t : page["tags"]) seen.push_back(t.get<std::string>());
    auto link = r.header("link");
    next.clear();
    if (!link.empty()) {
      CHECK(link.find("rel=\"next\"") != std::string::npos);
      next = link.substr(1, link.find('>') - 1);
    }
    ++pages;
  }
  CHECK(seen == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(pages == 3);
  CHECK(json::parse(c.get("/v2/p/tags/list?n=0").body)["tags"].empty());
  CHECK(json::parse(c.get("/v2/p/tags/list?last=c").body)["tags"] == json({"d", "e"}));

  for (auto r : {"z/one", "a/two", "m/three"}) push_blob(c, r, "x");
  auto cat = c.get("/v2/_catalog?n=2");
  CHECK(json::parse(cat.body)["repositories"] == json({"a/two", "m/three"}));
  CHECK(cat.header("link") == "</v2/_catalog?n=2&last=m/three>; rel=\"next\"");
  CHECK(json::parse(c.get("/v2/_catalog?n=2&last=m/three").body)["repositories"] ==
        json({"p", "z/one"}));
}

TEST_CASE("referrers API with artifactType filter and OCI-Subject", "[integration][http]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  auto subject = push_image(c, "app", "v1", 1);
  auto empty = std::string("{}");
  push_blob(c, "app", empty);
  auto sbom = image_manifest(empty, {}, subject, "application/spdx+json");
  auto put = c.request("PUT", "/v2/app/manifests/" + sha256_digest(sbom),
                       {{"Content-Type", kOciManifest}}, sbom);
  REQUIRE(put.status == 201);
  CHECK(put.header("oci-subject") == subject);
  auto sig = image_manifest(empty, {}, subject, "application/vnd.example.signature");
  REQUIRE(c.request("PUT", "/v2/app/manifests/sig", {{"Content-Type", kOciManifest}}, sig).status ==
          201);

  auto all = c.get("/v2/app/referrers/" + subject);
  REQUIRE(all.status == 200);
  CHECK(all.header("content-type") == "application/vnd.oci.image.index.v1+json");
  auto idx = json::parse(all.body);
  CHECK(idx["schemaVersion"] == 2);
  CHECK(idx["manifests"].size() == 2);
  auto filtered = c.get("/v2/app/referrers/" + subject + "?artifactType=application/spdx%2Bjson");
  CHECK(filtered.header("oci-filters-applied") == "artifactType");
  auto f = json::parse(filtered.body)["manifests"];
  REQUIRE(f.size() == 1);
  CHECK(f[0]["digest"] == sha256_digest(sbom));
  CHECK(f[0]["artifactType"] == "application/spdx+json");
  CHECK(f[0]["size"] == sbom.size());
  // Unknown subject: an empty index, not an error.
  auto none = c.get("/v2/app/referrers/" + sha256_digest("unknown"));
  CHECK(none.status == 200);
  CHECK(json::parse(none.body)["manifests"].empty());
}

TEST_CASE("concurrent pushes of one blob and keep-alive under load", "[integration][http]") {
  Daemon d;
  auto blob = random_bytes(2 * 1024 * 1024, 11);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&, i] {
      HttpClient c(d.host(), d.port());
      auto r = c.request(
          "POST", "/v2/r" + std::to_string(i % 3) + "/blobs/uploads/?digest=" + sha256_digest(blob),
          {}, blob);
      if (r.status == 201) ok++;
      for (int k = 0; k < 50; ++k)
        if (c.get("/v2/").status != 200) return;
    });
  for (auto& t : ts) t.join();
  CHECK(ok == 6);
  auto check =
      run({airhealctl_path().string(), "--state-dir", d.state_dir().string(), "store", "check"});
  CHECK(check.exit_code == 0);
  CHECK_THAT(check.out, Catch::Contains("store is consistent"));
}

TEST_CASE("oversized headers and garbage requests do not hurt the daemon", "[integration][http]") {
  Daemon d;
  send_raw_and_close(
      d.host(), d.port(),
      "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n");
  send_raw_and_close(d.host(), d.port(), "\x16\x03\x01 not http at all\r\n\r\n");
  send_raw_and_close(d.host(), d.port(), "GET /v2/");  // and hang up half-way
  HttpClient c(d.host(), d.port());
  CHECK(c.get("/v2/").status == 200);
  CHECK(c.request("GET", "/v2/", {{"X-Big", std::string(20000, 'a')}}).status == 431);
}

// sha512 content (image spec: a registered algorithm; distribution spec: digest-algorithm= on
// POST, ?tag= on a push by digest). Every way of uploading a blob, a manifest whose descriptors
// and subject are sha512 pushed by its sha512 digest with tags, pulls by digest and tag,
// referrers, deletion, and a store check over the result.
TEST_CASE("sha512 blobs and manifests: every upload path, tags by parameter, referrers, delete",
          "[integration][http][sha512]") {
  TempDir state;
  auto d = std::make_unique<Daemon>(
      Daemon::Options{.state_dir = state / "s", .config_yaml = {}, .extra_args = {}});
  HttpClient c(d->host(), d->port());
  auto sha512 = [](const std::string& data) {
    return ContentHash::of(DigestAlgorithm::sha512, data).str();
  };
  const std::string repo = "team/sha512";

  // 1. Monolithic POST ?digest=sha512:...
  auto cfg = std::string("{\"architecture\":\"amd64\",\"os\":\"linux\"}");
  auto mono = c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + sha512(cfg), {}, cfg);
  REQUIRE(mono.status == 201);
  CHECK(mono.header("docker-content-digest") == sha512(cfg));
  CHECK(mono.header("location") == "/v2/" + repo + "/blobs/" + sha512(cfg));

  // 2. POST ?digest-algorithm=sha512, chunked PATCHes, PUT ?digest=sha512:...
  auto layer = random_bytes(3 * 1024 * 1024 + 5, 51);
  auto start = c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest-algorithm=sha512");
  REQUIRE(start.status == 202);
  auto loc = start.header("location");
  for (std::size_t off = 0; off < layer.size(); off += 1 << 20) {
    auto n = std::min<std::size_t>(1 << 20, layer.size() - off);
    auto r = c.request("PATCH", loc,
                       {{"Content-Type", "application/octet-stream"},
                        {"Content-Range", std::to_string(off) + "-" + std::to_string(off + n - 1)}},
                       layer.substr(off, n));
    REQUIRE(r.status == 202);
    loc = r.header("location");
  }
  auto fin = c.request(
      "PUT", loc + (loc.find('?') == std::string::npos ? "?" : "&") + "digest=" + sha512(layer));
  REQUIRE(fin.status == 201);
  CHECK(fin.header("docker-content-digest") == sha512(layer));

  // 3. No algorithm announced at POST, sha512 at PUT: the registry hashes what arrived.
  auto layer2 = random_bytes(200000, 52);
  auto s2 = c.request("POST", "/v2/" + repo + "/blobs/uploads/");
  REQUIRE(s2.status == 202);
  auto p2 = c.request("PATCH", s2.header("location"),
                      {{"Content-Type", "application/octet-stream"}}, layer2);
  REQUIRE(p2.status == 202);
  auto l2 = p2.header("location");
  auto f2 = c.request(
      "PUT", l2 + (l2.find('?') == std::string::npos ? "?" : "&") + "digest=" + sha512(layer2));
  REQUIRE(f2.status == 201);
  // ...and a wrong sha512 is refused like a wrong sha256.
  auto s3 = c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest-algorithm=sha512");
  auto l3 = s3.header("location");
  auto f3 = c.request(
      "PUT", l3 + (l3.find('?') == std::string::npos ? "?" : "&") + "digest=" + sha512("other"), {},
      "bytes");
  CHECK(f3.status == 400);
  CHECK(error_code(f3) == "DIGEST_INVALID");
  // Unsupported and malformed algorithms: 400 with the reason.
  auto bad_alg = c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest-algorithm=sha384");
  CHECK(bad_alg.status == 400);
  CHECK(bad_alg.body.find("sha384") != std::string::npos);
  CHECK(c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest=sha512:abc", {}, "x").status ==
        400);

  // Pull blobs by sha512: GET, HEAD, Range.
  auto got = c.get("/v2/" + repo + "/blobs/" + sha512(layer));
  REQUIRE(got.status == 200);
  CHECK(got.body == layer);
  CHECK(got.header("docker-content-digest") == sha512(layer));
  auto head = c.request("HEAD", "/v2/" + repo + "/blobs/" + sha512(layer2));
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == std::to_string(layer2.size()));
  CHECK(c.get("/v2/" + repo + "/blobs/" + sha512(layer2), {{"Range", "bytes=0-9"}}).body ==
        layer2.substr(0, 10));
  // The same bytes under sha256 are a different blob, not stored.
  CHECK(c.get("/v2/" + repo + "/blobs/" + sha256_digest(layer)).status == 404);

  // A manifest whose descriptors are sha512, pushed by its sha512 digest with three tags.
  json m = {{"schemaVersion", 2},
            {"mediaType", kOciManifest},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", sha512(cfg)},
              {"size", cfg.size()}}},
            {"layers", json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                     {"digest", sha512(layer)},
                                     {"size", layer.size()}},
                                    {{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                     {"digest", sha512(layer2)},
                                     {"size", layer2.size()}}})}};
  auto mbytes = m.dump();
  auto md = sha512(mbytes);
  auto put = c.request("PUT", "/v2/" + repo + "/manifests/" + md + "?tag=v1&tag=v1.0&tag=latest",
                       {{"Content-Type", kOciManifest}}, mbytes);
  REQUIRE(put.status == 201);
  CHECK(put.header("docker-content-digest") == md);
  CHECK(put.header("location") == "/v2/" + repo + "/manifests/" + md);
  CHECK(put.header("oci-tag") == "v1, v1.0, latest");
  // The sha256 name of the same bytes is refused as a mismatch only when it is wrong.
  auto wrong = c.request("PUT", "/v2/" + repo + "/manifests/" + sha512("x"),
                         {{"Content-Type", kOciManifest}}, mbytes);
  CHECK(wrong.status == 400);
  CHECK(error_code(wrong) == "DIGEST_INVALID");
  // A tag parameter that is not a tag; too many tags.
  CHECK(c.request("PUT", "/v2/" + repo + "/manifests/" + md + "?tag=-bad",
                  {{"Content-Type", kOciManifest}}, mbytes)
            .status == 400);
  std::string many;
  for (int i = 0; i < 101; ++i) many += "&tag=t" + std::to_string(i);
  CHECK(c.request("PUT", "/v2/" + repo + "/manifests/" + md + "?" + many.substr(1),
                  {{"Content-Type", kOciManifest}}, mbytes)
            .status == 414);
  CHECK(c.get("/v2/" + repo + "/manifests/t0").status == 404);

  for (auto ref : {md, std::string("v1"), std::string("v1.0"), std::string("latest")}) {
    auto r = c.get("/v2/" + repo + "/manifests/" + ref, {{"Accept", kOciManifest}});
    REQUIRE(r.status == 200);
    CHECK(r.body == mbytes);
    CHECK(r.header("docker-content-digest") == md);
  }
  auto tags = json::parse(c.get("/v2/" + repo + "/tags/list").body)["tags"];
  CHECK(tags == json::array({"latest", "v1", "v1.0"}));

  // A referrer whose subject is the sha512 manifest, itself pushed by sha512.
  auto empty = std::string("{}");
  REQUIRE(c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + sha512(empty), {}, empty)
              .status == 201);
  json ref = {{"schemaVersion", 2},
              {"mediaType", kOciManifest},
              {"artifactType", "application/spdx+json"},
              {"config",
               {{"mediaType", "application/vnd.oci.empty.v1+json"},
                {"digest", sha512(empty)},
                {"size", 2}}},
              {"layers", json::array()},
              {"subject", {{"mediaType", kOciManifest}, {"digest", md}, {"size", mbytes.size()}}}};
  auto rbytes = ref.dump();
  auto rput = c.request("PUT", "/v2/" + repo + "/manifests/" + sha512(rbytes),
                        {{"Content-Type", kOciManifest}}, rbytes);
  REQUIRE(rput.status == 201);
  CHECK(rput.header("oci-subject") == md);
  auto refs = json::parse(c.get("/v2/" + repo + "/referrers/" + md).body)["manifests"];
  REQUIRE(refs.size() == 1);
  CHECK(refs[0]["digest"] == sha512(rbytes));

  // An upload announced as sha512 survives a daemon restart in the middle (the running hash is
  // lost; completion hashes the file).
  auto layer3 = random_bytes(300000, 53);
  auto s4 = c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest-algorithm=sha512");
  auto p4 = c.request("PATCH", s4.header("location"), {{"Content-Range", "0-99999"}},
                      layer3.substr(0, 100000));
  REQUIRE(p4.status == 202);
  auto l4 = p4.header("location");
  d->stop(SIGKILL);
  d = std::make_unique<Daemon>(
      Daemon::Options{.state_dir = state / "s", .config_yaml = {}, .extra_args = {}});
  HttpClient c2(d->host(), d->port());
  auto p5 = c2.request("PATCH", l4, {{"Content-Range", "100000-299999"}}, layer3.substr(100000));
  REQUIRE(p5.status == 202);
  auto l5 = p5.header("location");
  REQUIRE(c2.request("PUT", l5 + (l5.find('?') == std::string::npos ? "?" : "&") +
                                "digest=" + sha512(layer3))
              .status == 201);
  CHECK(c2.get("/v2/" + repo + "/blobs/" + sha512(layer3)).body == layer3);

  // The store's own check re-hashes every blob with its algorithm and finds nothing wrong.
  auto check =
      run({airhealctl_path().string(), "--state-dir", (state / "s").string(), "store", "check"});
  INFO(check.out);
  CHECK(check.exit_code == 0);
  CHECK(check.out.find("store is consistent") != std::string::npos);

  // Deletion by sha512: tags first, then the manifest, then a blob.
  CHECK(c2.request("DELETE", "/v2/" + repo + "/manifests/v1").status == 202);
  CHECK(c2.request("DELETE", "/v2/" + repo + "/manifests/" + md).status == 202);
  CHECK(error_code(c2.get("/v2/" + repo + "/manifests/" + md)) == "MANIFEST_UNKNOWN");
  CHECK(c2.request("DELETE", "/v2/" + repo + "/blobs/" + sha512(layer2)).status == 202);
  CHECK(error_code(c2.get("/v2/" + repo + "/blobs/" + sha512(layer2))) == "BLOB_UNKNOWN");
}
