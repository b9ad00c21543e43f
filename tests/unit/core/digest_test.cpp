#include "core/digest.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("sha256 matches known vectors, streamed or whole", "[core][digest]") {
  CHECK(Sha256::of("").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256::of("abc").hex() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("a");
  Sha256 copy = h;  // forked state continues independently
  h.update("bc");
  copy.update("b");
  CHECK(h.finish() == Sha256::of("abc"));
  CHECK(copy.finish() == Sha256::of("ab"));
}

TEST_CASE("sha256 of a file agrees with sha256 of its bytes", "[core][digest]") {
  test::TempDir dir;
  auto data = test::random_bytes(3 << 20, 7);
  std::ofstream(dir / "f", std::ios::binary) << data;
  std::uint64_t size = 0;
  auto d = Sha256::of_file(dir / "f", &size);
  REQUIRE(d);
  CHECK(size == data.size());
  CHECK(*d == Sha256::of(data));
  CHECK_FALSE(Sha256::of_file(dir / "missing"));
}

TEST_CASE("digest parsing follows the OCI grammar", "[core][digest]") {
  auto ok = Digest::parse("sha256:" + std::string(64, 'a'));
  REQUIRE(ok);
  CHECK(ok->str() == "sha256:" + std::string(64, 'a'));
  CHECK(Digest::parse("sha256:" + std::string(63, 'a')).error().code == Errc::digest_invalid);
  CHECK(Digest::parse("sha256:" + std::string(64, 'A')).error().code == Errc::digest_invalid);
  CHECK(Digest::parse("sha256").error().code == Errc::digest_invalid);
  CHECK(Digest::parse(":abc").error().code == Errc::digest_invalid);
  CHECK(Digest::parse("sha256:../../etc/passwd").error().code == Errc::digest_invalid);
  CHECK(Digest::parse("sha384:" + std::string(96, 'a')).error().code == Errc::unsupported);
  CHECK(Digest::parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
            .error()
            .code == Errc::unsupported);
}

// sha512, registered by the image spec: 128 lowercase hex characters, its own algorithm in
// comparisons, paths and names.
TEST_CASE("sha512 digests parse, compare and name their algorithm", "[core][digest]") {
  auto d = Digest::parse("sha512:" + std::string(128, 'a'));
  REQUIRE(d);
  CHECK(d->algorithm() == DigestAlgorithm::sha512);
  CHECK(d->algorithm_name() == "sha512");
  CHECK(d->str() == "sha512:" + std::string(128, 'a'));
  CHECK(Digest::parse("sha512:" + std::string(64, 'a')).error().code == Errc::digest_invalid);
  CHECK(Digest::parse("sha512:" + std::string(127, 'a')).error().code == Errc::digest_invalid);
  CHECK(Digest::parse("sha512:" + std::string(128, 'A')).error().code == Errc::digest_invalid);
  CHECK(Digest::parse("sha256:" + std::string(128, 'a')).error().code == Errc::digest_invalid);
  // Same hex length cannot collide across algorithms, but equal-looking values of different
  // algorithms never compare equal.
  CHECK(*Digest::parse("sha256:" + std::string(64, 'a')) !=
        Digest::from_hex(DigestAlgorithm::sha256, std::string(64, 'b')));
  CHECK(parse_algorithm("sha512").value() == DigestAlgorithm::sha512);
  CHECK(parse_algorithm("sha384").error().code == Errc::unsupported);
  CHECK(parse_algorithm("SHA512").error().code == Errc::digest_invalid);
}

TEST_CASE("sha512 matches the FIPS 180-2 vectors, streamed, copied and from a file",
          "[core][digest]") {
  CHECK(ContentHash::of(DigestAlgorithm::sha512, "").str() ==
        "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  auto abc =
      "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
  CHECK(ContentHash::of(DigestAlgorithm::sha512, "abc").str() == abc);
  ContentHash h(DigestAlgorithm::sha512);
  h.update("a");
  ContentHash copy = h;
  h.update("bc");
  CHECK(h.finish().str() == abc);
  copy.update("b");
  CHECK(copy.finish() == ContentHash::of(DigestAlgorithm::sha512, "ab"));
  test::TempDir dir;
  std::ofstream(dir / "f", std::ios::binary) << "abc";
  CHECK(ContentHash::of_file(DigestAlgorithm::sha512, dir / "f")->str() == abc);
}

TEST_CASE("background sha256 agrees with sha256, block by block, input after input",
          "[core][digest]") {
  auto data = test::random_bytes(5 << 20, 9);
  BackgroundSha256 bg;
  // Blocks below and above the inline threshold, in one input, then a second input on the same
  // object, then an empty one.
  std::vector<std::size_t> sizes{
      1,       1000,   BackgroundSha256::kInlineBytes - 1, BackgroundSha256::kInlineBytes,
      1 << 20, 4 << 20};
  std::size_t at = 0;
  for (auto n : sizes) {
    n = std::min(n, data.size() - at);
    bg.submit(data.data() + at, n);
    bg.wait();
    at += n;
  }
  CHECK(bg.finish() == Sha256::of(std::string_view(data).substr(0, at)));
  bg.submit(data.data(), 3 << 20);
  bg.submit(data.data() + (3 << 20), 2 << 20);  // waits for the block before it by itself
  CHECK(bg.finish() == Sha256::of(data));
  CHECK(bg.finish() == Sha256::of(""));
}

TEST_CASE("background sha256 can be dropped with a block in flight", "[core][digest]") {
  auto data = test::random_bytes(8 << 20, 10);
  {
    BackgroundSha256 bg;
    bg.submit(data.data(), data.size());
  }                       // the destructor waits, then stops
  BackgroundSha256 idle;  // and one never used
  // No hang, no crash; and a hasher made afterwards still hashes correctly.
  BackgroundSha256 after;
  after.submit(data.data(), data.size());
  CHECK(after.finish() == Sha256::of(data));
}
