#include "registry/auth.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal::registry;

TEST_CASE("passwords are stored as salted PBKDF2 and verified", "[registry][auth]") {
  auto h1 = UserFile::hash_password("correct horse", 1000);
  auto h2 = UserFile::hash_password("correct horse", 1000);
  CHECK(h1 != h2);  // salted
  CHECK(h1.find("correct") == std::string::npos);
  CHECK(UserFile::verify_hash(h1, "correct horse"));
  CHECK_FALSE(UserFile::verify_hash(h1, "correct horsE"));
  CHECK_FALSE(UserFile::verify_hash("plain:text", "plain"));
}

TEST_CASE("users files round-trip and reject malformed lines", "[registry][auth]") {
  airheal::test::TempDir dir;
  UserFile f;
  f.users()["alice"] = UserFile::hash_password("s3cret-pass", 1000);
  REQUIRE(f.save(dir / "users"));
  auto loaded = UserFile::load(dir / "users");
  REQUIRE(loaded);
  CHECK(loaded->verify("alice", "s3cret-pass"));
  CHECK_FALSE(loaded->verify("bob", "s3cret-pass"));
  std::ofstream(dir / "bad") << "alice:$apr1$whatever\n";
  CHECK_FALSE(UserFile::load(dir / "bad"));
  CHECK(UserFile::load(dir / "missing"));  // a missing file means no users
}

TEST_CASE("access decisions", "[registry][auth]") {
  UserFile f;
  f.users()["ci"] = UserFile::hash_password("pushpush", 1000);
  std::string good = "Basic " + std::string("Y2k6cHVzaHB1c2g=");  // ci:pushpush
  std::string bad = "Basic " + std::string("Y2k6d3Jvbmc=");       // ci:wrong
  Authenticator a(
      {.anonymous_pull = true, .loopback_push_without_credentials = true, .read_only = false}, f);
  CHECK(a.decide(false, false, false, "") == Decision::allow);
  CHECK(a.decide(true, true, false, "") == Decision::allow);
  CHECK(a.decide(true, false, true, "") == Decision::need_credentials);
  CHECK(a.decide(true, false, true, good) == Decision::allow);
  CHECK(a.decide(true, false, true, bad) == Decision::bad_credentials);
  CHECK(a.decide(true, false, false, good) == Decision::credentials_need_tls);
  Authenticator strict(
      {.anonymous_pull = false, .loopback_push_without_credentials = false, .read_only = true}, f);
  CHECK(strict.decide(false, true, false, "") == Decision::need_credentials);
  CHECK(strict.decide(false, true, false, good) == Decision::allow);
  CHECK(strict.decide(true, true, false, good) == Decision::read_only);
}

TEST_CASE("base64", "[registry][auth]") {
  CHECK(base64_decode("YWJj") == std::string("abc"));
  CHECK(base64_decode("YWI=") == std::string("ab"));
  CHECK(base64_decode("YQ==") == std::string("a"));
  CHECK_FALSE(base64_decode("YQ="));
}
