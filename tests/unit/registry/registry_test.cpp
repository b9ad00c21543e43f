#include "registry/registry.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::registry;
using nlohmann::json;

namespace {
struct Harness {
  test::TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<Registry> reg;
  explicit Harness(RegistryOptions o = {}, AccessPolicy p = {}) {
    store = std::move(store::Store::open(dir / "state")).value();
    auth = std::make_unique<Authenticator>(p, UserFile{});
    reg = std::make_unique<Registry>(*store, *auth, o);
  }
  Response call(http::verb v, const std::string& target, const std::string& body = "",
                std::map<std::string, std::string> headers = {}) {
    http::request_header<> h;
    h.method(v);
    h.target(target);
    h.version(11);
    for (auto& [k, val] : headers) h.set(k, val);
    auto p = reg->prepare(h, ClientInfo{true, false});
    if (p.response) return *p.response;
    REQUIRE(p.consumer);
    // Feed in small pieces, as the network would.
    for (std::size_t i = 0; i < body.size(); i += 7) {
      auto early = p.consumer->write(body.data() + i, std::min<std::size_t>(7, body.size() - i));
      if (early) return *early;
    }
    return p.consumer->finish();
  }
  static std::string code(const Response& r) { return test::oci_error_code(r.body); }
};
}  // namespace

TEST_CASE("monolithic upload by POST then PUT, and by a single POST", "[registry]") {
  Harness h;
  auto r = h.call(http::verb::post, "/v2/team/app/blobs/uploads/");
  CHECK(r.status == http::status::accepted);
  auto loc = r.header("Location");
  REQUIRE(loc.rfind("/v2/team/app/blobs/uploads/", 0) == 0);
  auto put = h.call(http::verb::put, loc + "?digest=" + test::sha256_digest("hello"), "hello");
  CHECK(put.status == http::status::created);
  CHECK(put.header("Docker-Content-Digest") == test::sha256_digest("hello"));
  auto single =
      h.call(http::verb::post, "/v2/team/app/blobs/uploads/?digest=" + test::sha256_digest("world"),
             "world");
  CHECK(single.status == http::status::created);
  CHECK(single.header("Location") == "/v2/team/app/blobs/" + test::sha256_digest("world"));
  auto head = h.call(http::verb::head, "/v2/team/app/blobs/" + test::sha256_digest("world"));
  CHECK(head.status == http::status::ok);
  CHECK(head.content_length == 5u);
}

TEST_CASE("the digest parameter may be percent-encoded", "[registry]") {
  Harness h;
  auto d = test::sha256_digest("x");
  auto enc = "sha256%3A" + d.substr(7);
  auto r = h.call(http::verb::post, "/v2/r/blobs/uploads/?digest=" + enc, "x");
  CHECK(r.status == http::status::created);
}

TEST_CASE("chunk ranges must line up", "[registry]") {
  Harness h;
  auto loc = h.call(http::verb::post, "/v2/r/blobs/uploads/").header("Location");
  auto c1 =
      h.call(http::verb::patch, loc, "abc", {{"Content-Range", "0-2"}, {"Content-Length", "3"}});
  CHECK(c1.status == http::status::accepted);
  CHECK(c1.header("Range") == "0-2");
  auto gap =
      h.call(http::verb::patch, loc, "def", {{"Content-Range", "5-7"}, {"Content-Length", "3"}});
  CHECK(gap.status == http::status::range_not_satisfiable);
  CHECK(gap.header("Range") == "0-2");
  auto lie = h.call(http::verb::patch, loc, "de", {{"Content-Range", "3-5"}});
  CHECK(lie.status == http::status::range_not_satisfiable);
  auto st = h.call(http::verb::get, loc);
  CHECK(st.status == http::status::no_content);
  CHECK(st.header("Range") == "0-2");
  auto fin = h.call(http::verb::put, loc + "?digest=" + test::sha256_digest("abcdef"), "def",
                    {{"Content-Range", "3-5"}});
  CHECK(fin.status == http::status::created);
}

TEST_CASE("names, references and traversal attempts are refused before the store", "[registry]") {
  Harness h;
  for (auto t : {"/v2/UPPER/manifests/x", "/v2/a/../b/manifests/x", "/v2/../../etc/manifests/x",
                 "/v2/a%2F..%2F..%2Fb/manifests/x", "/v2/a//b/tags/list"}) {
    auto r = h.call(http::verb::get, t);
    INFO(t);
    CHECK(r.status == http::status::bad_request);
    CHECK(Harness::code(r) == "NAME_INVALID");
  }
  CHECK(Harness::code(h.call(http::verb::get, "/v2/a/blobs/sha256:..%2F..%2Fetc")) ==
        "DIGEST_INVALID");
  // A read by a reference that cannot exist finds nothing (distribution-spec conformance); a
  // write by it is invalid.
  for (auto verb : {http::verb::get, http::verb::head})
    for (auto t : {"/v2/a/manifests/..", "/v2/a/manifests/-bad", "/v2/a/manifests/sha256:nothex",
                   "/v2/a/manifests/md5:00"}) {
      INFO(t);
      auto r = h.call(verb, t);
      CHECK(r.status == http::status::not_found);
      CHECK(Harness::code(r) == "MANIFEST_UNKNOWN");
    }
  CHECK(Harness::code(h.call(http::verb::put, "/v2/a/manifests/..", "{}")) == "MANIFEST_INVALID");
  CHECK(Harness::code(h.call(http::verb::put, "/v2/a/manifests/sha256:nothex", "{}")) ==
        "DIGEST_INVALID");
  CHECK(Harness::code(h.call(http::verb::get, "/v2/a/blobs/uploads/..%2F..%2Fmetadata.db")) ==
        "BLOB_UPLOAD_UNKNOWN");
  CHECK(Harness::code(h.call(http::verb::get, "/v2/a/manifests/x")) == "NAME_UNKNOWN");
  CHECK(h.call(http::verb::get, "/v1/whatever").status == http::status::not_found);
}

TEST_CASE("manifest size is capped", "[registry]") {
  RegistryOptions o;
  o.max_manifest_bytes = 100;
  Harness h(o);
  auto big = h.call(http::verb::put, "/v2/r/manifests/v1", std::string(50, ' '),
                    {{"Content-Length", "101"}});
  CHECK(big.status == http::status::payload_too_large);
  CHECK(big.close);
  auto chunked = h.call(http::verb::put, "/v2/r/manifests/v1", std::string(200, ' '));
  CHECK(chunked.status == http::status::payload_too_large);
}

TEST_CASE("deletion and read-only mode are configurable", "[registry]") {
  RegistryOptions o;
  o.delete_enabled = false;
  Harness h(o);
  CHECK(h.call(http::verb::post, "/v2/r/blobs/uploads/?digest=" + test::sha256_digest("x"), "x")
            .status == http::status::created);
  auto del = h.call(http::verb::delete_, "/v2/r/blobs/" + test::sha256_digest("x"));
  CHECK(del.status == http::status::method_not_allowed);
  CHECK(Harness::code(del) == "UNSUPPORTED");
  Harness ro({}, AccessPolicy{.anonymous_pull = true,
                              .loopback_push_without_credentials = true,
                              .read_only = true});
  CHECK(ro.call(http::verb::post, "/v2/r/blobs/uploads/").status ==
        http::status::method_not_allowed);
  CHECK(ro.call(http::verb::get, "/v2/").status == http::status::ok);
}

TEST_CASE("blob range requests", "[registry]") {
  Harness h;
  auto data = std::string("0123456789");
  h.call(http::verb::post, "/v2/r/blobs/uploads/?digest=" + test::sha256_digest(data), data);
  auto path = "/v2/r/blobs/" + test::sha256_digest(data);
  auto get = [&](const std::string& range) {
    http::request_header<> hd;
    hd.method(http::verb::get);
    hd.target(path);
    hd.set(http::field::range, range);
    return *h.reg->prepare(hd, ClientInfo{true, false}).response;
  };
  auto r = get("bytes=2-4");
  CHECK(r.status == http::status::partial_content);
  CHECK(r.header("Content-Range") == "bytes 2-4/10");
  REQUIRE(r.file);
  CHECK(r.file->offset == 2);
  CHECK(r.file->length == 3);
  CHECK(get("bytes=-3").header("Content-Range") == "bytes 7-9/10");
  CHECK(get("bytes=8-").header("Content-Range") == "bytes 8-9/10");
  CHECK(get("bytes=8-100").header("Content-Range") == "bytes 8-9/10");
  CHECK(get("bytes=10-").status == http::status::range_not_satisfiable);
  CHECK(get("bytes=5-2").status == http::status::range_not_satisfiable);
  CHECK(get("items=1-2").status == http::status::range_not_satisfiable);
}
