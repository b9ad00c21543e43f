// What the appliance is missing: per ecosystem, the fixed package builds, newer base images,
// fixed application packages and gold artefacts that would heal the images' open findings, and
// how current each advisory feed is. Carried out of the air gap as a DSSE envelope signed with
// the appliance key (`airhealctl needs export`, GET /api/v1/needs), read on the connected side by
// `airheal-snapshot collect --needs`. It names packages, versions, architectures and releases; no
// file contents, no hostnames of this site; with `redact`, no repository names and no file paths
// either (docs/airgap/needs-format.md says exactly what it reveals).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.hpp"
#include "heal/attest.hpp"
#include "store/store.hpp"

namespace airheal::evidence {

inline constexpr const char* kNeedsPayloadType = "application/vnd.airheal.needs.v1+json";
inline constexpr const char* kNeedsSchema = "https://airheal.dev/schemas/needs/v1";

struct NeedsOptions {
  bool redact = false;  // drop repository names, image names and binary paths
};

// The needs document (the envelope's payload), from the store as it is at NOW.
nlohmann::json needs_document(store::Store& store, std::int64_t now, const NeedsOptions& options,
                              const std::string& appliance_key);

// needs_document signed with KEY: a DSSE envelope of type kNeedsPayloadType over the document.
struct SignedNeeds {
  nlohmann::json document, envelope;
};
Result<SignedNeeds> signed_needs(store::Store& store, heal::ApplianceKey& key, std::int64_t now,
                                 const NeedsOptions& options);

}  // namespace airheal::evidence
