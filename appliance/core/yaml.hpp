// YAML from untrusted sources (Alpine secdb files in snapshots), checked before it is loaded:
// yaml-cpp shares an anchored node between its aliases, so a small file whose aliases refer to
// aliases ("billion laughs") becomes an exponential tree for whoever walks it. The check streams
// the document's events once (yaml-cpp's own parser, which stops at 2,000 levels), counting
// nesting and the nodes a full walk would visit, aliases expanded.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/result.hpp"

namespace airheal {

struct YamlLimits {
  std::size_t max_bytes = 64u << 20;
  std::size_t max_depth = 64;
  std::size_t max_aliases = 1000;
  std::size_t max_expanded_nodes = 4'000'000;  // every node a full walk visits, aliases expanded
};

// OK when TEXT is within LIMITS and parses; otherwise one line saying which limit, or the parser's
// message. WHAT names the document.
Status check_yaml(std::string_view text, const YamlLimits& limits = {},
                  std::string_view what = "YAML");

}  // namespace airheal
