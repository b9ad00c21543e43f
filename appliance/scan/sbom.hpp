// SBOMs of an image's inventory: CycloneDX 1.5 JSON and SPDX 2.3 JSON. Deterministic for a given
// inventory and creation time, so regenerating never yields a different document.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scan/inventory.hpp"

namespace airheal::scan {

inline constexpr const char* kCycloneDxMediaType = "application/vnd.cyclonedx+json";
inline constexpr const char* kSpdxMediaType = "application/spdx+json";

struct SbomSubject {
  std::string repository;  // the repository the image lives in
  std::string digest;      // manifest digest
  std::vector<std::string> tags;
  std::int64_t created = 0;  // unix seconds: the inventory's scan time
  std::string tool_version;
};

nlohmann::json cyclonedx(const ImageInventory& inv, const SbomSubject& s);
nlohmann::json spdx(const ImageInventory& inv, const SbomSubject& s);

// An OCI 1.1 artifact manifest referring to `subject` whose single layer is the document.
nlohmann::json artifact_manifest(const std::string& artifact_type, const std::string& blob_digest,
                                 std::uint64_t blob_size, const std::string& subject_media_type,
                                 const std::string& subject_digest, std::uint64_t subject_size,
                                 const nlohmann::json& annotations);

std::string rfc3339(std::int64_t unix_seconds);

}  // namespace airheal::scan
