#include <catch2/catch.hpp>

#include "heal/webhooks.hpp"

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
  for (auto bad : {"https://x/", "ftp://x", "http://", "http://user:pw@host/", "http://host:port/", "http://[::1/"}) {
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
