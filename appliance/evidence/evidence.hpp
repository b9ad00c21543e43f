// Signed evidence bundles for compliance officers (format: docs/airgap/evidence-format.md).
// One tar file: the audit journal's slice for the period anchored by signed checkpoints at both
// ends, the snapshots imported in it with their signers, per image its findings and CycloneDX
// SBOM, each heal's record, timeline, findings before and after and its signed attestations, VEX
// statements and exceptions, the appliance's public key, a README for verifying with plain gpg and
// sha256sum, a self-contained report.html, and MANIFEST.sha256 with a detached OpenPGP signature.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "heal/engine.hpp"
#include "store/store.hpp"

namespace airheal::evidence {

inline constexpr const char* kEvidenceFormat = "airheal-evidence/1";

struct EvidenceOptions {
  std::int64_t from = 0, to = 0;  // unix seconds, inclusive
  std::string images;             // glob over "repository" or "repository:tag"; "" = every image
  std::filesystem::path out;
  std::string tool_version = "airheal " AIRHEAL_VERSION;
  std::function<void(const std::string& step)> progress;  // may be empty
  // The registry's host name (http.server_names' first), for OpenVEX purls' repository_url.
  std::string registry_host;
  // Days from detection to remediation by severity (report.sla_days); empty: the defaults.
  std::map<std::string, int> sla_days;
};

struct EvidenceReport {
  std::size_t files = 0, images = 0, heals = 0, snapshots = 0, records = 0;
  std::uint64_t bytes = 0;
  std::string key;  // the appliance key's fingerprint
};

// One end of an export period: a date (2026-11-01; with END_OF_DAY, its last second) or an RFC 3339
// time; nullopt for anything else. Shared by `airhealctl evidence export` and the REST API.
std::optional<std::int64_t> period_bound(const std::string& text, bool end_of_day);

Result<EvidenceReport> export_evidence(store::Store& store, heal::Engine& engine,
                                       const std::filesystem::path& state_dir,
                                       const EvidenceOptions& options);

// The files of a bundle as a signed tar (MANIFEST.sha256 and its signature added), written to a
// temporary file and renamed into place. Exposed for tests that build tampered bundles.
Status write_bundle(const std::filesystem::path& out, std::map<std::string, std::string> files,
                    const std::function<Result<std::string>(const std::string&)>& sign,
                    std::int64_t mtime);

// MANIFEST.sha256 for FILES: "<sha256 hex>  <path>" lines sorted by path (sha256sum -c reads it).
std::string manifest_for(const std::map<std::string, std::string>& files);

// The self-contained HTML report (no external resources) for a bundle's summary.json.
std::string render_report(const nlohmann::json& summary);

}  // namespace airheal::evidence
