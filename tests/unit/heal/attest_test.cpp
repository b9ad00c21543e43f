// DSSE envelopes signed with the appliance's own key, checked by GnuPG itself.
#include "heal/attest.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "registry/auth.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;

TEST_CASE("DSSE pre-authentication encoding follows the protocol's own example", "[heal][attest]") {
  // From the DSSE v1 protocol document.
  CHECK(heal::dsse_pae("http://example.com/HelloWorld", "hello world") ==
        "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  CHECK(heal::dsse_pae("", "") == "DSSEv1 0  0 ");
  CHECK(heal::base64_encode("hello world") == "aGVsbG8gd29ybGQ=");
  CHECK(heal::base64_encode("") == "");
}

TEST_CASE("The appliance key is made once and signs envelopes that gpg verifies",
          "[heal][attest]") {
  TempDir t;
  auto key = heal::ApplianceKey::open(t.path());
  REQUIRE(key);
  auto again = heal::ApplianceKey::open(t.path());
  REQUIRE(again);
  CHECK(again->fingerprint() == key->fingerprint());
  CHECK(std::filesystem::exists(t / "keys" / "appliance.asc"));
  auto st = heal::intoto_statement("apps/web", "sha256:" + std::string(64, 'a'),
                                   heal::kSlsaProvenanceV1, json{{"x", 1}});
  CHECK(st["_type"] == "https://in-toto.io/Statement/v1");
  CHECK(st["subject"][0]["digest"]["sha256"] == std::string(64, 'a'));
  auto env = key->sign_envelope(heal::kInTotoPayloadType, st.dump());
  REQUIRE(env);
  CHECK((*env)["payloadType"] == "application/vnd.in-toto+json");
  REQUIRE((*env)["signatures"].size() == 2);
  CHECK((*env)["signatures"][0]["keyid"] == key->fingerprint());
  CHECK((*env)["signatures"][1]["keyid"] == key->ecdsa_key_id());
  auto payload = registry::base64_decode((*env)["payload"].get<std::string>());
  REQUIRE(payload);
  CHECK(json::parse(*payload) == st);
  // gpg, given only the public key, verifies the signature over the PAE, and rejects a changed
  // payload.
  auto sig = (*env)["signatures"][0]["sig"].get<std::string>();
  std::string raw_sig;
  {
    // base64_decode caps its input for HTTP headers; decode in pieces of 4 characters.
    for (std::size_t i = 0; i < sig.size(); i += 4)
      raw_sig += *registry::base64_decode(sig.substr(i, 4));
  }
  std::ofstream(t / "sig", std::ios::binary) << raw_sig;
  std::ofstream(t / "pae", std::ios::binary) << heal::dsse_pae(heal::kInTotoPayloadType, *payload);
  std::ofstream(t / "tampered", std::ios::binary)
      << heal::dsse_pae(heal::kInTotoPayloadType, *payload + " ");
  auto home = t / "verifier";
  std::filesystem::create_directories(home);
  std::filesystem::permissions(home, std::filesystem::perms::owner_all);
  run_ok({"gpg", "--batch", "--homedir", home.string(), "--import",
          (t / "keys" / "appliance.asc").string()});
  auto good = run({"gpg", "--batch", "--homedir", home.string(), "--verify", (t / "sig").string(),
                   (t / "pae").string()});
  CHECK(good.exit_code == 0);
  CHECK(good.err.find("Good signature") != std::string::npos);
  auto bad = run({"gpg", "--batch", "--homedir", home.string(), "--verify", (t / "sig").string(),
                  (t / "tampered").string()});
  CHECK(bad.exit_code != 0);
  run({"gpgconf", "--homedir", home.string(), "--kill", "all"});
  run({"gpgconf", "--homedir", (t / "keys" / "gnupg").string(), "--kill", "all"});
}

TEST_CASE(
    "The envelope's ECDSA P-256 signature verifies with python-cryptography and "
    "securesystemslib given only the PEM key",
    "[heal][attest]") {
  TempDir t;
  auto key = heal::ApplianceKey::open(t.path());
  REQUIRE(key);
  auto pem = t / "keys" / "appliance.pem";
  REQUIRE(std::filesystem::exists(pem));
  CHECK(*fs::read_file(pem, 1 << 16) == key->public_pem());
  CHECK((std::filesystem::status(t / "keys" / "appliance-ecdsa.key").permissions() &
         (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
        std::filesystem::perms::none);
  // The same key on the next open (the key id is the SHA-256 of its SubjectPublicKeyInfo).
  CHECK(heal::ApplianceKey::open(t.path())->ecdsa_key_id() == key->ecdsa_key_id());
  CHECK(key->ecdsa_key_id().size() == 64);
  auto env = key->sign_envelope(heal::kInTotoPayloadType,
                                heal::intoto_statement("apps/web", "sha256:" + std::string(64, 'b'),
                                                       heal::kSlsaProvenanceV1, json{{"x", 2}})
                                    .dump());
  REQUIRE(env);
  std::ofstream(t / "good.json") << env->dump();
  auto tampered = *env;
  tampered["payload"] = heal::base64_encode(R"({"_type":"forged"})");
  std::ofstream(t / "tampered.json") << tampered.dump();
  auto verifier = (source_dir() / "tests/support/dsse_verify.py").string();
  auto ok = run({"/usr/bin/python3", verifier, pem.string(), (t / "good.json").string()});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("OK application/vnd.in-toto+json keyid=" + key->ecdsa_key_id() +
                    " (securesystemslib agrees)") != std::string::npos);
  auto bad = run({"/usr/bin/python3", verifier, pem.string(), (t / "tampered.json").string()});
  CHECK(bad.exit_code != 0);
  CHECK(bad.out.find("BAD") != std::string::npos);
  // Another appliance's key verifies nothing.
  TempDir other;
  REQUIRE(heal::ApplianceKey::open(other.path()));
  auto stranger = run({"/usr/bin/python3", verifier, (other / "keys" / "appliance.pem").string(),
                       (t / "good.json").string()});
  CHECK(stranger.exit_code != 0);
  run({"gpgconf", "--homedir", (t / "keys" / "gnupg").string(), "--kill", "all"});
  run({"gpgconf", "--homedir", (other / "keys" / "gnupg").string(), "--kill", "all"});
}
