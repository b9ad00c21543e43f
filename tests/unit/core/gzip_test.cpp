#include "core/gzip.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/subprocess.hpp"
#include "support/test_support.hpp"

using namespace airheal;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Text-like data that compresses (repeats at varying distances) with random bytes between.
std::string sample(std::size_t n) {
  std::string s;
  auto noise = test::random_bytes(n / 4 + 1, 11);
  for (std::size_t i = 0; s.size() < n; ++i) {
    s += "usr/share/perl/5.36.0/File/Spec/Unix.pm " + std::to_string(i * 7919 % 1000) + "\n";
    s += noise.substr((i * 131) % (noise.size() - 64), 16);
  }
  s.resize(n);
  return s;
}

}  // namespace

TEST_CASE("gzip files read back with the real gzip, whole-buffer and streamed", "[core][gzip]") {
  test::TempDir dir;
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{70000}, std::size_t{3u << 20}}) {
    auto data = sample(n);
    std::ofstream(dir / "in", std::ios::binary | std::ios::trunc) << data;
    // The default takes libdeflate's whole-buffer path; a limit of 0 forces zlib streaming (n > 0).
    for (std::uint64_t limit : {gz::kWholeBufferLimit, std::uint64_t{0}}) {
      INFO("size " << n << ", whole-buffer limit " << limit);
      auto size = gz::compress_file(dir / "in", dir / "out.gz", limit);
      REQUIRE(size);
      CHECK(*size == std::filesystem::file_size(dir / "out.gz"));
      auto blob = slurp(dir / "out.gz");
      REQUIRE(blob.size() >= 18);
      CHECK(static_cast<unsigned char>(blob[0]) == 0x1f);
      CHECK(static_cast<unsigned char>(blob[1]) == 0x8b);
      CHECK(blob.substr(4, 4) == std::string(4, '\0'));  // mtime 0: reproducible
      CHECK((blob[3] & 0x08) == 0);                      // no file name stored
      auto t = run_process({"gzip", "-t", (dir / "out.gz").string()});
      CHECK(t.exit_code == 0);
      auto d = run_process({"gzip", "-dc", (dir / "out.gz").string()});
      REQUIRE(d.exit_code == 0);
      CHECK(d.out == data);
    }
  }
}

TEST_CASE("gzip output is the same for the same input, and no larger than gzip -9",
          "[core][gzip]") {
  test::TempDir dir;
  auto data = sample(2u << 20);
  std::ofstream(dir / "in", std::ios::binary) << data;
  REQUIRE(gz::compress_file(dir / "in", dir / "a.gz"));
  REQUIRE(gz::compress_file(dir / "in", dir / "b.gz"));
  CHECK(slurp(dir / "a.gz") == slurp(dir / "b.gz"));
  auto peer = run_process({"gzip", "-9", "-n", "-c", (dir / "in").string()});
  REQUIRE(peer.exit_code == 0);
  CHECK(std::filesystem::file_size(dir / "a.gz") <= peer.out.size());
}

TEST_CASE("gzip reports a missing input or an unwritable output", "[core][gzip]") {
  test::TempDir dir;
  auto missing = gz::compress_file(dir / "nope", dir / "out.gz");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("cannot read") != std::string::npos);
  std::ofstream(dir / "in") << "x";
  for (std::uint64_t limit : {gz::kWholeBufferLimit, std::uint64_t{0}}) {
    auto bad = gz::compress_file(dir / "in", dir / "no-such-dir" / "out.gz", limit);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("cannot write") != std::string::npos);
  }
}

TEST_CASE("gzip onto a full disk fails with the reason", "[core][gzip]") {
  REQUIRE(std::filesystem::exists("/dev/full"));  // Linux: writes fail with ENOSPC
  test::TempDir dir;
  std::ofstream(dir / "in", std::ios::binary) << sample(1u << 20);
  for (std::uint64_t limit : {gz::kWholeBufferLimit, std::uint64_t{0}}) {
    INFO("whole-buffer limit " << limit);
    auto full = gz::compress_file(dir / "in", "/dev/full", limit);
    REQUIRE_FALSE(full);
    CHECK(full.error().message.find("/dev/full") != std::string::npos);
  }
}
