#include "heal/webhooks.hpp"

#include <catch2/catch.hpp>

using namespace airheal;

TEST_CASE("webhook URLs are http:// LAN endpoints", "[heal][webhooks]") {
  auto u = heal::parse_http_url("http://10.0.0.5:8080/hooks/airheal");
  REQUIRE(u);
  CHECK(u->host == "10.0.0.5");
  CHECK(u->port == "8080");
  CHECK(u->target == "/hooks/airheal");
  auto d = heal::parse_http_url("http://alerts.lan");
  REQUIRE(d);
  CHECK(d->port == "80");
  CHECK(d->target == "/");
  auto v6 = heal::parse_http_url("http://[::1]:9000/x");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == "9000");
  for (auto bad : {"https://x/", "ftp://x", "http://", "http://user:pw@host/", "http://host:port/",
                   "http://[::1/"}) {
    INFO(bad);
    CHECK_FALSE(heal::parse_http_url(bad));
  }
}

TEST_CASE("a POST to an endpoint nobody listens on is an error, not a hang", "[heal][webhooks]") {
  auto u = heal::parse_http_url("http://127.0.0.1:1/");
  REQUIRE(u);
  auto r = heal::http_post_json(*u, "{}", std::chrono::seconds(2));
  CHECK_FALSE(r);
}

TEST_CASE("webhook signatures are HMAC-SHA256 (RFC 4231 test case 2) in hex", "[heal][webhooks]") {
  CHECK(airheal::heal::webhook_signature("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(airheal::heal::webhook_signature(std::string(20, '\x0b'), "Hi There") ==
        "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}
