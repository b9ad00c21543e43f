// RFC 3339 times, the form every document the appliance writes (snapshots, SBOMs, attestations,
// checkpoints, evidence) uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace airheal {

std::string format_time(std::int64_t unix_seconds);             // RFC 3339 UTC, whole seconds
std::optional<std::int64_t> parse_time(std::string_view text);  // RFC 3339 with Z or an offset

}  // namespace airheal
