// OpenPGP through GPGME, always against an explicit GnuPG home (the appliance's own trust
// store, or the signer's keyring on the connected side), never the user's default one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace airheal::pgp {

struct KeyInfo {
  std::string fingerprint;  // primary key, upper-case hex
  std::vector<std::string> user_ids;
  bool revoked = false, expired = false, disabled = false, invalid = false, can_sign = false;
  std::int64_t expires = 0;  // 0: never
};

struct SignatureCheck {
  bool good = false;  // cryptographically valid, by a key that is neither revoked nor expired
  bool bad = false;   // cryptographically invalid: the signed data or the signature was altered
  std::string fingerprint;  // primary key fingerprint when the key is known, else as reported
  std::string problem;      // why it is not good
};

// The binary form of an ASCII-armoured OpenPGP block (binary input is returned as it is).
Result<std::string> dearmor(std::string_view text);
// The signature type of each signature packet in an (armoured) detached signature: 0x00 binary
// document, 0x01 canonical text, ... Bounded: at most 64 packets, lengths checked.
Result<std::vector<int>> signature_types(std::string_view signature);

// A clearsigned message verified: its signatures and the text they cover (dash-escaping undone).
// Only TEXT is what was signed: nothing around the signature block may be used.
struct ClearsignedCheck {
  std::vector<SignatureCheck> signatures;
  std::string text;
};

class Keyring {
 public:
  // Creates the home (mode 0700) when missing.
  static Result<Keyring> open(const std::filesystem::path& home);
  const std::filesystem::path& home() const { return home_; }

  // Imports armoured or binary keys (public keys, revocation certificates). Returns the
  // fingerprints of the primary keys it touched.
  Result<std::vector<std::string>> import_keys(const std::string& data);
  Result<std::vector<KeyInfo>> list_keys(bool secret = false);
  Result<KeyInfo> key(const std::string& fingerprint);
  Result<std::string> export_public(const std::string& fingerprint);

  // Every signature in an armoured detached signature over data.
  Result<std::vector<SignatureCheck>> verify_detached(const std::string& signature,
                                                      const std::string& data);
  // A clearsigned message (an apt repository's InRelease): its signatures and the signed text.
  Result<ClearsignedCheck> verify_clearsigned(const std::string& message);
  // An armoured detached signature with the given secret key. passphrase: loopback pinentry
  // when given, the agent's pinentry otherwise.
  Result<std::string> sign_detached(const std::string& data, const std::string& fingerprint,
                                    const std::optional<std::string>& passphrase = std::nullopt,
                                    bool armor = true);
  // A new ed25519 signing key with no passphrase and no expiry (the appliance's own key, kept in
  // its state folder). Returns its fingerprint.
  Result<std::string> create_signing_key(const std::string& user_id);

 private:
  struct AgentLease;
  Keyring(std::filesystem::path home, std::shared_ptr<AgentLease> lease)
      : home_(std::move(home)), lease_(std::move(lease)) {}
  std::filesystem::path home_;
  // GnuPG starts a gpg-agent (sockets in the home) for secret-key operations. The last Keyring
  // of a home in this process stops it, so no agent outlives its use or leaves sockets behind.
  std::shared_ptr<AgentLease> lease_;
};

}  // namespace airheal::pgp
