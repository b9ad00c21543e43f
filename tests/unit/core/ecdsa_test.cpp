// The appliance's ECDSA P-256 key: made once, reloaded, signs what openssl's own command verifies.
#include "core/ecdsa.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;

TEST_CASE("The P-256 key is made once and signs what verifies with its public PEM only",
          "[core][ecdsa]") {
  TempDir t;
  bool created = false;
  auto key = ecdsa::Key::load_or_create(t / "k.key", t / "k.pem", &created);
  REQUIRE(key);
  CHECK(created);
  CHECK(key->public_pem().rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
  auto again = ecdsa::Key::load_or_create(t / "k.key", t / "k.pem", &created);
  REQUIRE(again);
  CHECK_FALSE(created);
  CHECK(again->key_id() == key->key_id());
  CHECK(again->public_pem() == key->public_pem());
  // A lost public file is written again from the private key.
  std::filesystem::remove(t / "k.pem");
  REQUIRE(ecdsa::Key::load_or_create(t / "k.key", t / "k.pem"));
  CHECK(*fs::read_file(t / "k.pem", 1 << 16) == key->public_pem());

  auto sig = key->sign("DSSEv1 4 type 7 payload");
  REQUIRE(sig);
  CHECK(ecdsa::verify(key->public_pem(), "DSSEv1 4 type 7 payload", *sig).value());
  CHECK_FALSE(ecdsa::verify(key->public_pem(), "DSSEv1 4 type 7 payloaD", *sig).value());
  CHECK_FALSE(ecdsa::verify(key->public_pem(), "DSSEv1 4 type 7 payload", "garbage").value());
  // The key id is the SHA-256 of the DER SubjectPublicKeyInfo, as openssl computes it.
  auto der =
      run_ok({"openssl", "pkey", "-pubin", "-in", (t / "k.pem").string(), "-outform", "DER"});
  CHECK(key->key_id() == Sha256::of(der.out).hex());
  // openssl's own command verifies the DER signature.
  {
    std::ofstream(t / "data", std::ios::binary) << "DSSEv1 4 type 7 payload";
    std::ofstream(t / "sig", std::ios::binary) << *sig;
  }
  auto v = run({"openssl", "dgst", "-sha256", "-verify", (t / "k.pem").string(), "-signature",
                (t / "sig").string(), (t / "data").string()});
  CHECK(v.exit_code == 0);
  CHECK(v.out.find("Verified OK") != std::string::npos);
}

TEST_CASE("A key file of another kind is refused, not used", "[core][ecdsa]") {
  TempDir t;
  run_ok({"openssl", "genpkey", "-algorithm", "ed25519", "-out", (t / "ed.key").string()});
  auto ed = ecdsa::Key::load_or_create(t / "ed.key", t / "ed.pem");
  REQUIRE_FALSE(ed);
  CHECK(ed.error().message.find("not an EC key") != std::string::npos);
  run_ok({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out",
          (t / "p384.key").string()});
  auto p384 = ecdsa::Key::load_or_create(t / "p384.key", t / "p384.pem");
  REQUIRE_FALSE(p384);
  CHECK(p384.error().message.find("not a P-256 key") != std::string::npos);
  fs::write_file_atomic(t / "junk.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
  CHECK_FALSE(ecdsa::Key::load_or_create(t / "junk.key", t / "junk.pem"));
  CHECK_FALSE(std::filesystem::exists(t / "junk.pem"));
  CHECK_FALSE(ecdsa::verify("not a key", "x", "y"));
  run_ok({"openssl", "pkey", "-in", (t / "p384.key").string(), "-pubout", "-out",
          (t / "p384.pem").string()});
  CHECK_FALSE(ecdsa::verify(*fs::read_file(t / "p384.pem", 1 << 16), "x", "y"));
}
