// A small XML reader for repository metadata (rpm-md's repomd.xml and primary.xml): elements,
// attributes, text, CDATA, the five predefined entities and character references. No DTD: a
// document with <!DOCTYPE or <!ENTITY is refused (no entity expansion, no external entities).
// Bounded in size, depth and attributes; streaming: only the subtrees of elements with a given
// name at a given depth are built, handed to a callback and dropped, so a large primary.xml is
// never held as a tree.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace airheal::collect {

struct XmlElement {
  std::string name;  // as written, with its prefix ("rpm:sourcerpm")
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string text;  // the element's own character data, concatenated
  std::vector<XmlElement> children;
  std::string attribute(std::string_view n) const;  // "" when absent
  const XmlElement* child(std::string_view n) const;
  std::string child_text(std::string_view n) const;  // "" when absent
};

struct XmlLimits {
  std::size_t max_bytes = 1u << 30;
  std::size_t max_depth = 32;
  std::size_t max_attributes = 64;
  std::size_t max_subtree_nodes = 100000;  // in one subtree handed to the callback
};

// Walks TEXT; every element named NAME at DEPTH (the root is depth 0) is built with its subtree
// and passed to ON_ELEMENT (a non-OK status stops the walk and is returned). The document must be
// well formed: one root, tags closed in order.
Status walk_xml(std::string_view text, std::string_view name, std::size_t depth,
                const std::function<Status(const XmlElement&)>& on_element,
                const XmlLimits& limits = {});

}  // namespace airheal::collect
