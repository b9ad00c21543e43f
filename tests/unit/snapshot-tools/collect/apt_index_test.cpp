// The apt metadata collect trusts only after checking it. Real data: bookworm-security's own
// InRelease (as deb.debian.org served it on 2026-11-30, signed by the Debian security archive
// keys) and a Packages excerpt of bookworm-security; hostile variants of them are made up here and
// say so.
#include "collect/apt_index.hpp"

#include <catch2/catch.hpp>

#include "core/fs.hpp"
#include "core/pgp.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::collect;

namespace {

std::string apt_data(const std::string& name) {
  return *fs::read_file(test::source_dir() / "tests/data/debian" / name, 64 << 20);
}

IndexEntry index_entry(const std::string& name, const std::string& version, const std::string& arch,
                       const std::string& source, const std::string& depends = "") {
  std::string text = "Package: " + name + "\nVersion: " + version + "\nArchitecture: " + arch +
                     "\nSource: " + source + "\n" +
                     (depends.empty() ? "" : "Depends: " + depends + "\n") +
                     "Filename: pool/main/" + name + "_" + version + "_" + arch +
                     ".deb\nSize: 10\n" + "SHA256: " + std::string(64, 'a') + "\n";
  auto e = parse_index(text);
  REQUIRE(e);
  REQUIRE(e->size() == 1);
  return e->front();
}

}  // namespace

TEST_CASE("bookworm-security's real InRelease verifies with Debian's keyring and lists its indices",
          "[collect]") {
  auto inrelease = apt_data("bookworm-security.InRelease");
  test::TempDir home;
  auto ring = pgp::Keyring::open(home.path());
  REQUIRE(ring);
  auto keys = fs::read_file("/usr/share/keyrings/debian-archive-keyring.gpg", 1 << 20);
  REQUIRE(keys);
  REQUIRE(ring->import_keys(*keys));
  auto checked = ring->verify_clearsigned(inrelease);
  REQUIRE(checked);
  bool good = false;
  for (const auto& s : checked->signatures) good = good || s.good;
  CHECK(good);
  auto rel = parse_release(checked->text);
  REQUIRE(rel);
  CHECK(rel->suite == "oldstable-security");  // bookworm is oldstable since trixie
  CHECK(rel->codename == "bookworm-security");
  CHECK(rel->by_hash);
  CHECK_FALSE(rel->read_binary_all);  // Architectures does not list "all": apt skips binary-all
  REQUIRE(rel->valid_until);
  CHECK(*rel->valid_until == 1796518393);  // Sun, 06 Dec 2026 00:53:13 UTC
  REQUIRE(rel->sha256.count("main/binary-amd64/Packages.xz"));
  CHECK(rel->sha256["main/binary-amd64/Packages.xz"].sha256.size() == 64);

  SECTION("the text around the signature is never what was signed") {
    auto tampered = inrelease;
    auto p = tampered.find("Codename: bookworm-security");
    REQUIRE(p != std::string::npos);
    tampered.replace(p, 27, "Codename: bookworm-securitx");  // made up: one byte changed
    auto bad = ring->verify_clearsigned(tampered);
    REQUIRE(bad);
    bool any_bad = false;
    for (const auto& s : bad->signatures) any_bad = any_bad || s.bad;
    CHECK(any_bad);
    CHECK_FALSE(ring->verify_clearsigned("Suite: x\n"));  // not a clearsigned message at all
  }
}

TEST_CASE("Release and Packages files that do not hold up are refused with the reason",
          "[collect]") {
  struct Case {
    const char* what;
    std::string text;
    const char* reason;
  };
  const std::string hash(64, 'b');
  // Made-up hostile variants.
  std::vector<Case> releases = {
      {"no SHA256 list", "Suite: x\nCodename: x\n", "no SHA256 entries"},
      {"a short hash", "Suite: x\nSHA256:\n abc 12 main/binary-amd64/Packages\n",
       "malformed SHA256"},
      {"a size that is no number", "Suite: x\nSHA256:\n " + hash + " 1x main/Packages\n",
       "malformed SHA256"},
      {"a Valid-Until that is no date",
       "Suite: x\nValid-Until: tomorrow\nSHA256:\n " + hash + " 1 main/Packages\n",
       "is not a date"},
  };
  for (const auto& c : releases) {
    INFO(c.what);
    auto r = parse_release(c.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(c.reason) != std::string::npos);
  }
  std::vector<Case> indices = {
      {"a Filename climbing out",
       "Package: aa\nVersion: 1\nArchitecture: amd64\nFilename: ../../etc/a.deb\nSize: "
       "1\nSHA256: " +
           hash + "\n",
       "unusable Filename"},
      {"an absolute Filename",
       "Package: aa\nVersion: 1\nArchitecture: amd64\nFilename: /etc/a.deb\nSize: 1\nSHA256: " +
           hash + "\n",
       "unusable Filename"},
      {"no SHA256", "Package: aa\nVersion: 1\nArchitecture: amd64\nFilename: pool/a.deb\nSize: 1\n",
       "no SHA256"},
      {"no Size",
       "Package: aa\nVersion: 1\nArchitecture: amd64\nFilename: pool/a.deb\nSHA256: " + hash + "\n",
       "no Size"},
  };
  for (const auto& c : indices) {
    INFO(c.what);
    auto r = parse_index(c.text);
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK(r.error().message.find(c.reason) != std::string::npos);
  }
  auto real = parse_index(apt_data("bookworm-security.Packages"));
  REQUIRE(real);
  CHECK(real->size() == 25);
  CHECK(real->front().filename == "pool/updates/main/a/apt/apt_2.6.2_amd64.deb");
  CHECK(real->front().size == 1373116);
}

TEST_CASE("The newest build at or above the fixed version is chosen with its versioned closure",
          "[collect]") {
  // Made-up index shaped as bookworm-security's openssl and glibc builds.
  std::vector<IndexEntry> index = {
      index_entry("libssl3", "3.0.17-1~deb12u2", "amd64", "openssl", "libc6 (>= 2.34)"),
      index_entry("libssl3", "3.0.17-1~deb12u3", "amd64", "openssl", "libc6 (>= 2.36-9+deb12u7)"),
      index_entry("openssl", "3.0.17-1~deb12u3", "amd64", "openssl",
                  "libssl3 (>= 3.0.17-1~deb12u3), libc6 (>= 2.34)"),
      index_entry("libc6", "2.36-9+deb12u7", "amd64", "glibc", "libgcc-s1"),
      index_entry("libgcc-s1", "12.2.0-14+deb12u1", "amd64", "gcc-12"),
      index_entry("tzdata", "2025b-0+deb12u1", "all", "tzdata"),
  };
  std::vector<AptWant> wants(3);
  wants[0].name = "openssl";
  wants[0].source = "openssl";
  wants[0].min_source_version = "3.0.17-1~deb12u3";
  wants[1].name = "tzdata";
  wants[1].architecture = "amd64";  // an arch:all build serves any architecture
  wants[2].name = "libssl3";
  wants[2].source = "openssl";
  wants[2].min_source_version = "3.0.18";  // newer than anything here
  auto sel = select_packages(index, wants, {"amd64"});
  std::vector<std::string> chosen;
  for (const auto& c : sel.chosen) chosen.push_back(c.entry.package.id());
  // openssl pulls the newest libssl3 (versioned), which pulls libc6 (versioned); libgcc-s1 is
  // unversioned: the image's older libc6 needed it too.
  CHECK(chosen == std::vector<std::string>{"openssl 3.0.17-1~deb12u3", "tzdata 2025b-0+deb12u1",
                                           "libssl3 3.0.17-1~deb12u3", "libc6 2.36-9+deb12u7"});
  REQUIRE(sel.missing.size() == 1);
  CHECK(sel.missing[0] ==
        "libssl3: the newest build here is 3.0.17-1~deb12u3, older than openssl 3.0.18 that fixes "
        "it");
  CHECK(sel.chosen[2].why == "openssl 3.0.17-1~deb12u3 depends on libssl3 (>= 3.0.17-1~deb12u3)");

  SECTION("a wrong source, an absent package, an exact version") {
    std::vector<AptWant> w(3);
    w[0].name = "libc6";
    w[0].source = "openssl";  // libc6 is no binary of openssl
    w[1].name = "nosuch";
    w[2].name = "libssl3";
    w[2].exact_version = "3.0.17-1~deb12u2";
    auto s = select_packages(index, w, {"amd64"});
    CHECK(s.missing ==
          std::vector<std::string>{"libc6: not in this repository (as a binary of openssl)",
                                   "nosuch: not in this repository"});
    REQUIRE(s.chosen.size() == 2);  // libssl3 deb12u2 and its closure (libc6 >= 2.34)
    CHECK(s.chosen[0].entry.package.version == "3.0.17-1~deb12u2");
  }
}
