// Signed evidence for heals: the appliance's own OpenPGP key (created on first use inside the
// state folder), DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1) over
// in-toto Statement v1 payloads, and the OCI referrer that attaches each envelope to the image.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/ecdsa.hpp"
#include "core/pgp.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace airheal::heal {

inline constexpr const char* kDsseMediaType = "application/vnd.dsse.envelope.v1+json";
inline constexpr const char* kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr const char* kSlsaProvenanceV1 = "https://slsa.dev/provenance/v1";
inline constexpr const char* kCycloneDxPredicate = "https://cyclonedx.org/bom";
// What an in-place application heal changed: per package, the folder or jar, the files removed
// and added, each lockfile entry before and after, the dependency ranges checked.
inline constexpr const char* kApplicationChangesPredicate =
    "https://airheal.dev/attestation/application-changes/v1";
inline constexpr const char* kHealExplanationPredicate =
    "https://airheal.dev/attestation/heal-explanation/v1";

// DSSE's pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
std::string dsse_pae(std::string_view payload_type, std::string_view payload);
std::string base64_encode(std::string_view bytes);

class ApplianceKey {
 public:
  // <state>/keys/gnupg; the key is made once ("airheal appliance <host>") and reused. Its ECDSA
  // P-256 companion: <state>/keys/appliance-ecdsa.key (0600) and appliance.pem (public), made once
  // too. Each creation is journalled as key.created.
  static Result<ApplianceKey> open(const std::filesystem::path& state_root);
  const std::string& fingerprint() const { return fingerprint_; }
  Result<std::string> public_key();  // armoured
  const std::string& public_pem() const { return ecdsa_.public_pem(); }
  const std::string& ecdsa_key_id() const { return ecdsa_.key_id(); }
  // A DSSE envelope {payloadType, payload (base64), signatures: [{keyid: OpenPGP fingerprint,
  // sig: base64 of a binary OpenPGP detached signature over the PAE}, {keyid: hex SHA-256 of the
  // P-256 key's SubjectPublicKeyInfo, sig: base64 of the DER ECDSA-SHA256 signature over the
  // PAE}]}: gpg verifies the first, cosign/in-toto/securesystemslib the second.
  Result<nlohmann::json> sign_envelope(std::string_view payload_type, const std::string& payload);
  // An armoured detached OpenPGP signature over DATA (audit checkpoints, evidence manifests).
  Result<std::string> sign(const std::string& data) {
    return keyring_.sign_detached(data, fingerprint_);
  }

 private:
  ApplianceKey(pgp::Keyring k, std::string fpr, ecdsa::Key e)
      : keyring_(std::move(k)), fingerprint_(std::move(fpr)), ecdsa_(std::move(e)) {}
  pgp::Keyring keyring_;
  std::string fingerprint_;
  ecdsa::Key ecdsa_;
};

// An in-toto Statement v1 about one image manifest.
nlohmann::json intoto_statement(const std::string& subject_name, const std::string& subject_digest,
                                const std::string& predicate_type, nlohmann::json predicate);

// Signs STATEMENT and stores the envelope as a referrer of SUBJECT in REPO. Returns the referrer's
// manifest digest.
Result<std::string> attach_attestation(store::Store& store, ApplianceKey& key,
                                       const std::string& repo, const std::string& subject,
                                       const std::string& subject_media_type,
                                       std::uint64_t subject_size, const nlohmann::json& statement,
                                       std::int64_t created);

}  // namespace airheal::heal
