// The appliance's ECDSA P-256 signing key (NIST P-256, SHA-256, ASN.1 DER signatures): what
// sigstore/cosign, in-toto and securesystemslib verify with a PEM public key. The OpenPGP key
// stays for gpg-only auditors; attestations carry a signature by each.
#pragma once

#include <openssl/evp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace airheal::ecdsa {

class Key {
 public:
  // PRIVATE_PEM (PKCS#8, mode 0600) and its public key (SubjectPublicKeyInfo PEM) at PUBLIC_PEM;
  // made once when neither exists. *created says whether this call made it.
  static Result<Key> load_or_create(const std::filesystem::path& private_pem,
                                    const std::filesystem::path& public_pem,
                                    bool* created = nullptr);
  const std::string& public_pem() const { return public_pem_; }
  // Hex SHA-256 of the DER SubjectPublicKeyInfo: the key id written into DSSE signatures.
  const std::string& key_id() const { return key_id_; }
  // ECDSA-SHA256 over DATA, ASN.1 DER (r, s).
  Result<std::string> sign(std::string_view data) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
  std::string public_pem_, key_id_;
};

// Whether SIGNATURE (DER) over DATA verifies with the P-256 public key in PUBLIC_PEM.
Result<bool> verify(std::string_view public_pem, std::string_view data, std::string_view signature);

}  // namespace airheal::ecdsa
