// JSON from untrusted sources (snapshots, advisories, images, lockfiles, HTTP bodies), parsed with
// limits: a size bound, a nesting bound and no duplicate keys. nlohmann's parser is iterative, but
// the code that walks what it returns is not, and an object with a key twice means different
// things to different readers (refused, not "last one wins"). Every failure is one line naming
// the byte offset.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace airheal {

struct JsonLimits {
  std::size_t max_bytes = 64u << 20;
  std::size_t max_depth = 128;  // arrays and objects nested inside each other
  bool duplicate_keys = false;  // true: accept them (last one wins), for data airheal wrote itself
};

// WHAT names the document in messages ("the snapshot manifest", "OSV record GO-2024-1").
Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits = {},
                                  std::string_view what = "JSON");

// J[KEY]'s string elements, in order; empty when J has no such array (data airheal wrote itself,
// read back leniently: other elements are skipped).
std::vector<std::string> string_list(const nlohmann::json& j, const char* key);

}  // namespace airheal
