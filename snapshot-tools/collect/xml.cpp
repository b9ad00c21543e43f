#include "collect/xml.hpp"

#include <cctype>

namespace airheal::collect {

std::string XmlElement::attribute(std::string_view n) const {
  for (const auto& [k, v] : attributes)
    if (k == n) return v;
  return "";
}

const XmlElement* XmlElement::child(std::string_view n) const {
  for (const auto& c : children)
    if (c.name == n) return &c;
  return nullptr;
}

std::string XmlElement::child_text(std::string_view n) const {
  auto* c = child(n);
  return c ? c->text : "";
}

namespace {

Error bad(std::size_t at, const std::string& what) {
  return make_error(Errc::invalid_argument, "XML at byte " + std::to_string(at) + ": " + what);
}

bool name_char(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80;
}

// Appends TEXT with its references resolved.
Status decode(std::string_view text, std::size_t at, std::string& out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    auto semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12)
      return bad(at + i, "unterminated reference");
    auto ref = text.substr(i + 1, semi - i - 1);
    if (ref == "lt")
      out += '<';
    else if (ref == "gt")
      out += '>';
    else if (ref == "amp")
      out += '&';
    else if (ref == "quot")
      out += '"';
    else if (ref == "apos")
      out += '\'';
    else if (ref.size() > 1 && ref[0] == '#') {
      unsigned long cp = 0;
      bool hex = ref[1] == 'x';
      auto digits = ref.substr(hex ? 2 : 1);
      if (digits.empty()) return bad(at + i, "empty character reference");
      for (char c : digits) {
        int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : hex && std::isxdigit(static_cast<unsigned char>(c))
                    ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                    : -1;
        if (v < 0) return bad(at + i, "bad character reference");
        cp = cp * (hex ? 16 : 10) + static_cast<unsigned long>(v);
        if (cp > 0x10FFFF) return bad(at + i, "character reference out of range");
      }
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      return bad(at + i, "entity '&" + std::string(ref) + ";' is not one XML predefines");
    }
    i = semi;
  }
  return {};
}

}  // namespace

Status walk_xml(std::string_view text, std::string_view want, std::size_t want_depth,
                const std::function<Status(const XmlElement&)>& on_element,
                const XmlLimits& limits) {
  if (text.size() > limits.max_bytes)
    return make_error(Errc::too_large,
                      "XML: larger than " + std::to_string(limits.max_bytes >> 20) + " MiB");
  std::vector<std::string> open;      // names of the open elements
  std::vector<XmlElement*> building;  // the subtree being built (its open elements)
  XmlElement current;                 // the subtree's root while it is built
  std::size_t nodes = 0;
  bool root_seen = false;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '<') {
      auto next = text.find('<', i);
      auto chunk =
          text.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i);
      if (open.empty()) {
        for (char c : chunk)
          if (!std::isspace(static_cast<unsigned char>(c)))
            return bad(i, "text outside the root element");
      } else if (!building.empty()) {
        if (auto st = decode(chunk, i, building.back()->text); !st) return st;
      } else if (chunk.find('&') != std::string_view::npos) {
        std::string ignored;
        if (auto st = decode(chunk, i, ignored); !st) return st;
      }
      if (next == std::string_view::npos) break;
      i = next;
      continue;
    }
    auto rest = text.substr(i);
    if (rest.starts_with("<?")) {
      auto end = text.find("?>", i);
      if (end == std::string_view::npos) return bad(i, "unterminated processing instruction");
      i = end + 2;
      continue;
    }
    if (rest.starts_with("<!--")) {
      auto end = text.find("-->", i + 4);
      if (end == std::string_view::npos) return bad(i, "unterminated comment");
      i = end + 3;
      continue;
    }
    if (rest.starts_with("<![CDATA[")) {
      auto end = text.find("]]>", i + 9);
      if (end == std::string_view::npos) return bad(i, "unterminated CDATA");
      if (open.empty()) return bad(i, "CDATA outside the root element");
      if (!building.empty()) building.back()->text.append(text.substr(i + 9, end - i - 9));
      i = end + 3;
      continue;
    }
    if (rest.starts_with("<!")) return bad(i, "a DOCTYPE or entity declaration (not accepted)");
    if (rest.starts_with("</")) {
      std::size_t j = i + 2;
      while (j < text.size() && name_char(static_cast<unsigned char>(text[j]))) ++j;
      auto name = text.substr(i + 2, j - i - 2);
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j >= text.size() || text[j] != '>') return bad(i, "malformed end tag");
      if (open.empty() || open.back() != name)
        return bad(i, "end tag </" + std::string(name.substr(0, 60)) + "> does not close <" +
                          (open.empty() ? std::string() : open.back().substr(0, 60)) + ">");
      open.pop_back();
      if (!building.empty()) {
        building.pop_back();
        if (building.empty()) {
          if (auto st = on_element(current); !st) return st;
          current = {};
          nodes = 0;
        }
      }
      i = j + 1;
      continue;
    }
    // A start tag.
    std::size_t j = i + 1;
    while (j < text.size() && name_char(static_cast<unsigned char>(text[j]))) ++j;
    if (j == i + 1 || j - i > 256) return bad(i, "malformed start tag");
    XmlElement e;
    e.name = std::string(text.substr(i + 1, j - i - 1));
    bool self_closing = false;
    for (;;) {
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j >= text.size()) return bad(i, "unterminated start tag");
      if (text[j] == '>') {
        ++j;
        break;
      }
      if (text[j] == '/' && j + 1 < text.size() && text[j + 1] == '>') {
        self_closing = true;
        j += 2;
        break;
      }
      auto a = j;
      while (j < text.size() && name_char(static_cast<unsigned char>(text[j]))) ++j;
      if (j == a || j - a > 256) return bad(j, "malformed attribute");
      auto an = text.substr(a, j - a);
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j >= text.size() || text[j] != '=') return bad(j, "attribute without a value");
      ++j;
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j >= text.size() || (text[j] != '"' && text[j] != '\''))
        return bad(j, "unquoted attribute");
      char q = text[j];
      auto close = text.find(q, j + 1);
      if (close == std::string_view::npos) return bad(j, "unterminated attribute value");
      auto raw = text.substr(j + 1, close - j - 1);
      if (raw.find('<') != std::string_view::npos) return bad(j, "'<' in an attribute value");
      std::string value;
      if (auto st = decode(raw, j + 1, value); !st) return st;
      if (e.attributes.size() >= limits.max_attributes) return bad(j, "too many attributes");
      e.attributes.emplace_back(std::string(an), std::move(value));
      j = close + 1;
    }
    if (open.empty()) {
      if (root_seen) return bad(i, "a second root element");
      root_seen = true;
    }
    const auto depth = open.size();
    if (depth >= limits.max_depth)
      return bad(i, "nested deeper than " + std::to_string(limits.max_depth));
    if (!building.empty()) {
      if (++nodes > limits.max_subtree_nodes) return bad(i, "an element with too many descendants");
      building.back()->children.push_back(std::move(e));
      if (!self_closing) {
        building.push_back(&building.back()->children.back());
        open.push_back(building.back()->name);
      }
    } else if (depth == want_depth && e.name == want) {
      current = std::move(e);
      if (self_closing) {
        if (auto st = on_element(current); !st) return st;
        current = {};
      } else {
        building.push_back(&current);
        open.push_back(current.name);
      }
    } else if (!self_closing) {
      open.push_back(e.name);
    }
    i = j;
  }
  if (!open.empty()) return bad(text.size(), "<" + open.back().substr(0, 60) + "> is never closed");
  if (!root_seen) return bad(0, "no root element");
  return {};
}

}  // namespace airheal::collect
