// Untrusted bytes from image layers: every parser survives mutated and random input without
// crashing, and the layer reader either reads a layer or says why it cannot.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "core/fs.hpp"
#include "scan/binary.hpp"
#include "scan/layer.hpp"
#include "scan/pkgdb.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;

namespace {
std::string mutate(std::string s, std::mt19937& rng) {
  if (s.empty()) return s;
  std::uniform_int_distribution<int> op(0, 3), byte(0, 255);
  int n = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < n && !s.empty(); ++i) {
    std::size_t at = rng() % s.size();
    switch (op(rng)) {
      case 0:
        s[at] = static_cast<char>(byte(rng));
        break;
      case 1:
        s.erase(at, 1 + rng() % 16);
        break;
      case 2:
        s.insert(at, std::string(1 + rng() % 16, static_cast<char>(byte(rng))));
        break;
      default:
        s.resize(at);
        break;
    }
  }
  return s;
}
}  // namespace

TEST_CASE("Package database parsers survive mutated input", "[scan][hostile]") {
  std::mt19937 rng(42);
  const std::string status =
      "Package: libssl3\nStatus: install ok installed\nSource: openssl (3.0.11-1)\nVersion: "
      "3.0.11-1+b1\n\n"
      "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2\nDescription: x\n y\n";
  const std::string apk =
      "P:musl\nV:1.2.4-r2\no:musl\nF:lib\nR:ld-musl.so.1\n\nP:busybox\nV:1.36.1-r5\n";
  const std::string osr = "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian \\\"x\\\"\"\n";
  std::string header(8 + 16 * 3, '\0');
  header[3] = 3;   // three index entries
  header[7] = 32;  // 32 bytes of data
  header += std::string(32, 'a');
  // The inputs as written parse to what they say.
  auto names = [](const std::vector<scan::PackageRecord>& v) {
    std::vector<std::string> out;
    for (const auto& p : v) out.push_back(p.name + "=" + p.version);
    return out;
  };
  REQUIRE(names(scan::parse_dpkg_status(status)) ==
          std::vector<std::string>{"libssl3=3.0.11-1+b1", "bash=5.2.15-2"});
  REQUIRE(names(scan::parse_apk_installed(apk)) ==
          std::vector<std::string>{"musl=1.2.4-r2", "busybox=1.36.1-r5"});
  REQUIRE(scan::parse_os_release(osr).at("ID") == "debian");
  // Mutated, they never crash, never yield a record without a name, never more records than the
  // input has paragraphs, and the mutations do change what is read.
  int changed = 0;
  for (int i = 0; i < 3000; ++i) {
    auto m = mutate(status, rng);
    auto dpkg = scan::parse_dpkg_status(m);
    auto paragraphs = 1 + static_cast<std::size_t>(std::count(m.begin(), m.end(), '\n'));
    CHECK(dpkg.size() <= paragraphs);
    for (const auto& p : dpkg) CHECK_FALSE(p.name.empty());
    changed += names(dpkg) != names(scan::parse_dpkg_status(status));
    for (const auto& p : scan::parse_dpkg_status(mutate(status, rng), false))
      CHECK_FALSE(p.name.empty());
    for (const auto& p : scan::parse_apk_installed(mutate(apk, rng))) CHECK_FALSE(p.name.empty());
    (void)scan::parse_os_release(mutate(osr, rng));
    CHECK(scan::parse_md5sums(mutate("0123  a/b\n", rng)).size() <= 1);
    (void)scan::parse_rpm_header(mutate(header, rng));
  }
  CHECK(changed > 300);
}

TEST_CASE("The ELF reader survives a mutated real executable", "[scan][hostile][binary]") {
  auto bytes = fs::read_file("/bin/true", 16 << 20);
  REQUIRE(bytes);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    auto m = *bytes;
    // Aim at the headers, where offsets and counts live.
    for (int k = 0; k < 6; ++k)
      m[rng() % std::min<std::size_t>(m.size(), 256)] = static_cast<char>(rng());
    // /bin/true carries no Go build information and no Rust dependency list: garbage must not
    // make one up.
    for (const auto& info : {scan::read_binary(m), scan::read_binary(mutate(*bytes, rng))}) {
      CHECK_FALSE(info.go);
      CHECK(info.rust.empty());
    }
  }
}

TEST_CASE("The layer reader refuses or reads mutated layers, never crashes",
          "[scan][hostile][layer]") {
  test::TempDir dir;
  auto good = dir.path() / "good.tar";
  test::write_tar(good,
                  {test::RawEntry("var/lib/dpkg/status",
                                  "Package: a\nStatus: install ok installed\nVersion: 1\n"),
                   test::RawEntry("etc/os-release", "ID=debian\n"),
                   test::RawEntry("bin/true", *fs::read_file("/bin/true", 1 << 24))},
                  true);
  auto bytes = *fs::read_file(good, 1 << 24);
  std::mt19937 rng(3);
  int refused = 0, read = 0;
  for (int i = 0; i < 200; ++i) {
    auto p = dir.path() / "m.tar.zst";
    std::ofstream(p, std::ios::binary | std::ios::trunc) << mutate(bytes, rng);
    auto r = scan::read_layer(p);
    if (r) {
      ++read;
      // What is read stays inside the image: no absolute paths, no "..".
      for (const auto& f : r->files) {
        CHECK_FALSE(f.path.empty());
        CHECK(f.path.front() != '/');
        CHECK(("/" + f.path + "/").find("/../") == std::string::npos);
      }
    } else {
      ++refused;
      CHECK_FALSE(r.error().message.empty());
    }
  }
  // Truncated and corrupted zstd frames are refused, not read as a shorter layer.
  INFO(read << " mutated layers read, " << refused << " refused");
  CHECK(refused > 0);
}
