// collect.yaml and collected.json: what is accepted, and what is refused with the reason (made-up
// configurations; the runs against real servers are in tests/integration/collect_test.cpp).
#include "collect/collect.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::collect;

TEST_CASE("collect.yaml is read strictly", "[collect]") {
  auto good = parse_config(R"(cache: /var/cache/airheal-collect
apt:
  - name: debian-security
    url: http://deb.debian.org/debian-security
    suite: bookworm-security
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
    architectures: [amd64, arm64]
images:
  - source: docker://registry.example/library/debian:12
    as: library/debian:12
    platforms: [linux/amd64]
advisories:
  - url: https://security-tracker.debian.org/tracker/data/json
    name: debian-tracker.json
)");
  REQUIRE(good);
  REQUIRE(good->apt.size() == 1);
  CHECK(good->apt[0].release == "bookworm");  // the suite up to its first '-'
  CHECK(good->apt[0].components == std::vector<std::string>{"main"});
  CHECK(good->apt[0].architectures == std::vector<std::string>{"amd64", "arm64"});
  CHECK(good->images[0].platforms == std::vector<std::string>{"linux/amd64"});
  CHECK(good->advisories[0].name == "debian-tracker.json");

  struct Bad {
    const char* yaml;
    const char* reason;
  };
  for (const auto& c : std::vector<Bad>{
           {"mirrors: []\n", "unknown key 'mirrors'"},
           {"apt:\n  - name: a\n    url: http://x/\n    suite: s\n", "keyring is required"},
           {"apt:\n  - name: ../a\n    url: http://x/\n    suite: s\n    keyring: k\n",
            "needs a name"},
           {"apt:\n  - name: a\n    url: ftp://x/\n    suite: s\n    keyring: k\n",
            "only http:// and https://"},
           {"images:\n  - source: oci:/tmp/x\n    as: a:1\n", "must be docker://"},
           {"images:\n  - source: docker://h/a:1\n    as: 'a;rm -rf /:1'\n",
            "must be REPOSITORY:TAG"},
           {"images:\n  - source: docker://h/a:1\n    as: a:1\n    platforms: [amd64]\n",
            "is not os/arch"},
           {"advisories:\n  - url: http://x/a.json\n    signature_url: http://x/a.json.asc\n",
            "needs a keyring"},
           {"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
            "collect.yaml"},
       }) {
    INFO(c.yaml);
    auto r = parse_config(c.yaml);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(c.reason) != std::string::npos);
  }
  CHECK_FALSE(parse_config(std::string(2 << 20, '#')));
}

TEST_CASE("A collect folder is read back only as collect wrote it", "[collect]") {
  test::TempDir dir;
  CHECK_FALSE(read_collected(dir.path()));
  std::filesystem::create_directories(dir / "packages");
  std::ofstream(dir / "packages" / "a.deb") << "x";
  std::ofstream(dir / "collected.json")
      << R"({"format": "airheal-collect/v1", "packages": "packages", "advisories": "advisories",
            "images": [{"layout": "images/0", "ref": "12", "as": "library/debian:12"}]})";
  auto c = read_collected(dir.path());
  REQUIRE(c);
  CHECK(c->packages.size() == 1);
  CHECK(c->advisories.empty());  // absent or empty folders are left out
  REQUIRE(c->images.size() == 1);
  CHECK(c->images[0].layout == dir / "images/0");
  std::ofstream(dir / "collected.json")
      << R"({"format": "airheal-collect/v1", "images": [{"layout": "../../etc", "ref": "1", "as": "a:1"}]})";
  CHECK_FALSE(read_collected(dir.path()));
}
