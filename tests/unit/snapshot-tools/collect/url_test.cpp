// URLs from collect.yaml, needs files and redirects: a family of accepted and refused ones.
#include "collect/url.hpp"

#include <catch2/catch.hpp>

using namespace airheal::collect;

TEST_CASE("URLs are parsed strictly and redirects resolved without leaving https", "[collect]") {
  struct Ok {
    const char* in;
    const char* scheme;
    const char* host;
    const char* port;
    const char* target;
  };
  for (const auto& c : std::vector<Ok>{
           {"http://deb.debian.org/debian-security", "http", "deb.debian.org", "80",
            "/debian-security"},
           {"https://example.org", "https", "example.org", "443", "/"},
           {"http://127.0.0.1:8080/a?b=c", "http", "127.0.0.1", "8080", "/a?b=c"},
           {"http://[::1]:5000/v2/", "http", "::1", "5000", "/v2/"},
           {"https://h.example/x#frag", "https", "h.example", "443", "/x"},
       }) {
    INFO(c.in);
    auto u = parse_url(c.in);
    REQUIRE(u);
    CHECK(u->scheme == c.scheme);
    CHECK(u->host == c.host);
    CHECK(u->port == c.port);
    CHECK(u->target == c.target);
  }
  for (const char* bad :
       {"ftp://x/", "http://", "http://user:pw@host/", "http://h:0/", "http://h:70000/",
        "http://h:8a/", "http://h/ space", "file:///etc/passwd", "http://[::1/"}) {
    INFO(bad);
    CHECK_FALSE(parse_url(bad));
  }
  CHECK_FALSE(parse_url("http://h/" + std::string(5000, 'a')));
  auto base = parse_url("https://mirror.example/debian/dists/x/InRelease");
  REQUIRE(base);
  CHECK(resolve_url(*base, "/other/InRelease")->str() == "https://mirror.example/other/InRelease");
  CHECK(resolve_url(*base, "http://elsewhere.example/a")->str() == "http://elsewhere.example/a");
  CHECK_FALSE(resolve_url(*base, "relative/path"));
  CHECK(base_url("http://deb.debian.org/debian-security//") ==
        "http://deb.debian.org/debian-security");
  CHECK(base_url("https://registry.npmjs.org") == "https://registry.npmjs.org");
}
