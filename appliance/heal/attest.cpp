#include "heal/attest.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <mutex>

#include "audit/journal.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"
#include "scan/sbom.hpp"

namespace airheal::heal {
using nlohmann::json;

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 " + std::to_string(payload_type.size()) + " ";
  out += payload_type;
  out += " " + std::to_string(payload.size()) + " ";
  out += payload;
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<ApplianceKey> ApplianceKey::open(const std::filesystem::path& state_root) {
  static std::mutex mu;  // one key creation per process; the lock file covers other processes
  std::lock_guard guard(mu);
  auto dir = state_root / "keys";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  auto lock = fs::LockFile::acquire(dir / "keys.lock");
  if (!lock) return lock.error();
  auto kr = pgp::Keyring::open(dir / "gnupg");
  if (!kr) return kr.error();
  // A key change is an audited event.
  auto journal_created = [&](json record) {
    audit::Journal journal(audit::journal_path(state_root));
    record["type"] = "key.created";
    record["actor"] = "airheal";
    if (auto st = journal.append(record); !st) spdlog::warn("journal: {}", st.error().message);
  };
  bool ecdsa_created = false;
  auto ec_key = ecdsa::Key::load_or_create(dir / "appliance-ecdsa.key", dir / "appliance.pem",
                                           &ecdsa_created);
  if (!ec_key) return ec_key.error();
  auto keys = kr->list_keys(true);
  if (!keys) return keys.error();
  for (const auto& k : *keys)
    if (k.can_sign && !k.revoked && !k.expired && !k.disabled && !k.invalid) {
      if (ecdsa_created)  // an appliance from before the P-256 key: it gains one
        journal_created({{"fingerprint", k.fingerprint},
                         {"ecdsa_key_id", ec_key->key_id()},
                         {"purpose",
                          "ECDSA P-256 appliance key for standard DSSE verifiers (cosign, in-toto, "
                          "securesystemslib): a second signature on every attestation"}});
      return ApplianceKey(std::move(*kr), k.fingerprint, std::move(*ec_key));
    }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  auto fpr = kr->create_signing_key(std::string("airheal appliance ") + host);
  if (!fpr) return fpr.error();
  auto pub = kr->export_public(*fpr);
  if (pub) (void)fs::write_file_atomic(dir / "appliance.asc", *pub);
  journal_created({{"fingerprint", *fpr},
                   {"ecdsa_key_id", ec_key->key_id()},
                   {"purpose",
                    "appliance signing keys: OpenPGP (attestations, audit checkpoints, evidence "
                    "bundles) and ECDSA P-256 (a second DSSE signature for standard verifiers)"}});
  return ApplianceKey(std::move(*kr), *fpr, std::move(*ec_key));
}

Result<std::string> ApplianceKey::public_key() { return keyring_.export_public(fingerprint_); }

Result<json> ApplianceKey::sign_envelope(std::string_view payload_type,
                                         const std::string& payload) {
  auto pae = dsse_pae(payload_type, payload);
  auto sig = keyring_.sign_detached(pae, fingerprint_, std::nullopt, false);
  if (!sig) return sig.error();
  auto ec_sig = ecdsa_.sign(pae);
  if (!ec_sig) return ec_sig.error();
  return json{
      {"payloadType", payload_type},
      {"payload", base64_encode(payload)},
      {"signatures", json::array({{{"keyid", fingerprint_}, {"sig", base64_encode(*sig)}},
                                  {{"keyid", ecdsa_.key_id()}, {"sig", base64_encode(*ec_sig)}}})}};
}

json intoto_statement(const std::string& subject_name, const std::string& subject_digest,
                      const std::string& predicate_type, json predicate) {
  // The digest set names the subject's algorithm (sha256 or sha512).
  auto colon = subject_digest.find(':');
  json set = colon == std::string::npos
                 ? json{{"sha256", subject_digest}}
                 : json{{subject_digest.substr(0, colon), subject_digest.substr(colon + 1)}};
  return {{"_type", "https://in-toto.io/Statement/v1"},
          {"subject", json::array({{{"name", subject_name}, {"digest", std::move(set)}}})},
          {"predicateType", predicate_type},
          {"predicate", std::move(predicate)}};
}

Result<std::string> attach_attestation(store::Store& store, ApplianceKey& key,
                                       const std::string& repo, const std::string& subject,
                                       const std::string& subject_media_type,
                                       std::uint64_t subject_size, const json& statement,
                                       std::int64_t created) {
  auto env = key.sign_envelope(kInTotoPayloadType, statement.dump());
  if (!env) return env.error();
  auto bytes = env->dump();
  if (auto empty = store.put_blob(repo, "{}"); !empty) return empty.error();
  auto blob = store.put_blob(repo, bytes);
  if (!blob) return blob.error();
  auto am = scan::artifact_manifest(
      kDsseMediaType, blob->digest.str(), blob->size, subject_media_type, subject, subject_size,
      {{"org.opencontainers.image.created", scan::rfc3339(created)},
       {"in-toto.io/predicate-type", statement.value("predicateType", "")},
       {"dev.airheal.signer", key.fingerprint()}});
  auto am_bytes = am.dump();
  auto d = Sha256::of(am_bytes);
  auto r = store.put_manifest(repo, d.str(), am_bytes, oci::media::kOciManifest);
  if (!r) return r.error();
  return d.str();
}

}  // namespace airheal::heal
