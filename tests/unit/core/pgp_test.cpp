#include "core/pgp.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;

namespace {
std::string sign(const std::filesystem::path& home, const std::filesystem::path& file,
                 std::vector<std::string> extra) {
  std::vector<std::string> argv = {"gpg",      "--homedir", home.string(), "--batch", "--armor",
                                   "--output", "-"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(file.string());
  auto r = test::run(argv);
  REQUIRE(r.exit_code == 0);
  return r.out;
}
}  // namespace

TEST_CASE("signature types are read from real gpg signatures, text-mode ones are refused",
          "[pgp]") {
  test::TempDir tmp;
  auto home = tmp.path() / "gnupg";
  auto kr = pgp::Keyring::open(home);
  REQUIRE(kr);
  auto fpr = kr->create_signing_key("pgp test <pgp@example.test>");
  REQUIRE(fpr);
  auto file = tmp.path() / "m.json";
  std::ofstream(file, std::ios::binary) << "{\"a\": 1}\n";
  auto binary = sign(home, file, {"--detach-sign"});
  auto text = sign(home, file, {"--textmode", "--detach-sign"});
  CHECK(pgp::signature_types(binary).value() == std::vector<int>{0x00});
  CHECK(pgp::signature_types(text).value() == std::vector<int>{0x01});
  auto ok = kr->verify_detached(binary, "{\"a\": 1}\n");
  REQUIRE(ok);
  CHECK(ok->at(0).good);
  // A canonical-text signature would verify the CRLF form too: refused whatever the content.
  auto refused = kr->verify_detached(text, "{\"a\": 1}\r\n");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("type 0x01 (canonical text)") &&
                                          Catch::Contains("only binary signatures"));
  test::run({"gpgconf", "--homedir", home.string(), "--kill", "all"});
}

TEST_CASE("hostile signature bytes are refused by the packet reader", "[pgp][hostile]") {
  for (std::string bad :
       {std::string(""), std::string("\x01\x02"), std::string("\xc2\xff\xff\xff\xff\x7f", 6),
        std::string("\x88\x03\x04", 3), std::string("\xc2\xe0", 2), std::string(100, '\x88')}) {
    auto r = pgp::signature_types(bad);
    CHECK_FALSE(r);
  }
  CHECK_FALSE(
      pgp::signature_types("-----BEGIN PGP SIGNATURE-----\n\n!!!!\n-----END PGP SIGNATURE-----\n"));
}

TEST_CASE("A clearsigned message yields its signatures and only the text they cover", "[pgp]") {
  test::TempDir dir;
  auto home = dir / "gnupg";
  std::filesystem::create_directories(home);
  std::filesystem::permissions(home, std::filesystem::perms::owner_all);
  REQUIRE(test::run({"gpg", "--homedir", home.string(), "--batch", "--passphrase", "",
                     "--quick-gen-key", "clearsign test <c@example.test>", "ed25519", "sign", "0"})
              .exit_code == 0);
  auto file = dir / "Release";
  // A line starting with '-' is dash-escaped in the message and must come back as it was.
  std::ofstream(file) << "Suite: test\n- not a header\nSHA256:\n abc\n";
  auto message = sign(home, file, {"--clearsign"});
  auto kr = pgp::Keyring::open(home);
  REQUIRE(kr);
  auto c = kr->verify_clearsigned(message);
  REQUIRE(c);
  REQUIRE(c->signatures.size() == 1);
  CHECK(c->signatures[0].good);
  CHECK(c->text == "Suite: test\n- not a header\nSHA256:\n abc\n");
  // Text put before the signed block is not part of what was signed, and is refused.
  CHECK_FALSE(kr->verify_clearsigned("Suite: evil\n" + message));
  auto altered = message;
  altered.replace(altered.find("Suite: test"), 11, "Suite: tesT");
  auto bad = kr->verify_clearsigned(altered);
  REQUIRE(bad);
  CHECK(bad->signatures[0].bad);
  CHECK_FALSE(bad->signatures[0].good);
}
