#include "heal/deb/control.hpp"

#include <algorithm>
#include <cctype>

#include "version/version.hpp"

namespace airheal::heal::deb {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// deb822 field names: printable ASCII without ':' or space, not starting with '#' or '-'.
bool valid_field_name(std::string_view n) {
  if (n.empty() || n.size() > 128 || n.front() == '#' || n.front() == '-') return false;
  for (char c : n)
    if (c <= ' ' || c > '~' || c == ':') return false;
  return true;
}

// Debian package names (Policy 5.6.1): lowercase letters, digits, '+', '-', '.'; two or more
// characters, starting with a letter or digit.
bool valid_package_name(std::string_view n) {
  if (n.size() < 2 || n.size() > 255 || !std::isalnum(static_cast<unsigned char>(n.front())))
    return false;
  for (char c : n)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.'))
      return false;
  return true;
}

bool valid_arch(std::string_view a) {
  if (a.empty() || a.size() > 64) return false;
  for (char c : a)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
      return false;
  return true;
}

}  // namespace

std::string_view Paragraph::field(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (iequals(k, name)) return v;
  return {};
}

bool Paragraph::has(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (iequals(k, name)) return true;
  return false;
}

std::string Paragraph::text() const {
  std::string out;
  for (const auto& [k, v] : fields_) {
    out += k;
    out += v.empty() || v.front() == '\n' ? ":" : ": ";
    out += v;
    out += '\n';
  }
  return out;
}

void Paragraph::set(std::string_view name, std::string value) {
  for (auto& [k, v] : fields_)
    if (iequals(k, name)) {
      v = std::move(value);
      return;
    }
  fields_.emplace_back(std::string(name), std::move(value));
}

void Paragraph::erase(std::string_view name) {
  std::erase_if(fields_, [&](const auto& kv) { return iequals(kv.first, name); });
}

Result<std::vector<Paragraph>> parse_paragraphs(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes)
    return make_error(Errc::too_large, "control data of " + std::to_string(text.size()) +
                                           " bytes is over the limit of " +
                                           std::to_string(max_bytes));
  std::vector<Paragraph> out;
  Paragraph cur;
  std::size_t line_no = 0, pos = 0;
  auto flush = [&]() -> Status {
    if (cur.fields_.empty()) return {};
    if (out.size() >= kMaxParagraphs)
      return make_error(Errc::too_large,
                        "more than " + std::to_string(kMaxParagraphs) + " paragraphs");
    out.push_back(std::move(cur));
    cur = Paragraph{};
    return {};
  };
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    auto line =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line_no;
    if (trim(line).empty()) {
      if (auto st = flush(); !st) return st.error();
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (cur.fields_.empty())
        return make_error(Errc::invalid_argument, "line " + std::to_string(line_no) +
                                                      ": a continuation line before any field");
      auto& v = cur.fields_.back().second;
      if (v.size() + line.size() > kMaxFieldBytes)
        return make_error(Errc::too_large, "line " + std::to_string(line_no) + ": field " +
                                               cur.fields_.back().first + " is over 1 MiB");
      auto l = line;
      while (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      v += '\n';
      v += l;
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !valid_field_name(line.substr(0, colon)))
      return make_error(Errc::invalid_argument,
                        "line " + std::to_string(line_no) + ": not a field (\"Name: value\")");
    auto name = line.substr(0, colon);
    if (cur.has(name))
      return make_error(Errc::invalid_argument, "line " + std::to_string(line_no) + ": field " +
                                                    std::string(name) +
                                                    " appears twice in one paragraph");
    cur.fields_.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  if (auto st = flush(); !st) return st.error();
  return out;
}

std::string Relation::text() const {
  static const char* ops[] = {"", "<<", "<=", "=", ">=", ">>"};
  std::string out = name;
  if (!arch.empty()) out += ":" + arch;
  if (op != Op::none) out += std::string(" (") + ops[static_cast<int>(op)] + " " + version + ")";
  return out;
}

std::string text(const Alternatives& group) {
  std::string out;
  for (const auto& r : group) out += (out.empty() ? "" : " | ") + r.text();
  return out;
}

Result<Relations> parse_relations(std::string_view field) {
  if (field.size() > kMaxFieldBytes)
    return make_error(Errc::too_large, "relationship field over 1 MiB");
  Relations out;
  auto bad = [&](const std::string& why) {
    return make_error(Errc::invalid_argument, "relationship field: " + why);
  };
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < field.size() &&
           (field[i] == ' ' || field[i] == '\t' || field[i] == '\n' || field[i] == '\r'))
      ++i;
  };
  Alternatives group;
  while (true) {
    skip_ws();
    if (i >= field.size()) break;
    // One relation: name[:arch] [(op version)] [[archs]] [<profiles>]...
    auto start = i;
    while (i < field.size() && field[i] != ' ' && field[i] != '\t' && field[i] != '\n' &&
           field[i] != '(' && field[i] != ',' && field[i] != '|' && field[i] != '[' &&
           field[i] != '<' && field[i] != '\r')
      ++i;
    auto token = field.substr(start, i - start);
    if (token.empty()) {
      if (field[i] == ',' && group.empty()) {  // an empty group ("a, , b" or a trailing comma)
        ++i;
        continue;
      }
      return bad("expected a package name at offset " + std::to_string(start));
    }
    Relation r;
    auto colon = token.find(':');
    r.name = std::string(token.substr(0, colon));
    if (colon != std::string_view::npos) r.arch = std::string(token.substr(colon + 1));
    if (!valid_package_name(r.name))
      return bad("'" + std::string(token.substr(0, 80)) + "' is not a package name");
    if (colon != std::string_view::npos && !valid_arch(r.arch))
      return bad("'" + std::string(token.substr(0, 80)) + "' has a bad architecture qualifier");
    skip_ws();
    if (i < field.size() && field[i] == '(') {
      auto close = field.find(')', i);
      if (close == std::string_view::npos) return bad("unclosed '(' after " + r.name);
      auto inner = trim(field.substr(i + 1, close - i - 1));
      i = close + 1;
      std::size_t k = 0;
      while (k < inner.size() && (inner[k] == '<' || inner[k] == '>' || inner[k] == '=')) ++k;
      auto op = inner.substr(0, k);
      if (op == "<<")
        r.op = Op::lt;
      else if (op == "<=" || op == "<")
        r.op = Op::le;
      else if (op == "=")
        r.op = Op::eq;
      else if (op == ">=" || op == ">")
        r.op = Op::ge;
      else if (op == ">>")
        r.op = Op::gt;
      else
        return bad("unknown operator '" + std::string(op.substr(0, 8)) + "' after " + r.name);
      r.version = std::string(trim(inner.substr(k)));
      if (!version::is_dpkg_version(r.version))
        return bad("'" + r.version.substr(0, 80) + "' after " + r.name +
                   " is not a Debian version");
      skip_ws();
    }
    // Architecture restrictions and build profiles: skipped.
    while (i < field.size() && (field[i] == '[' || field[i] == '<')) {
      char close_ch = field[i] == '[' ? ']' : '>';
      auto close = field.find(close_ch, i);
      if (close == std::string_view::npos)
        return bad(std::string("unclosed '") + field[i] + "' after " + r.name);
      i = close + 1;
      skip_ws();
    }
    group.push_back(std::move(r));
    if (group.size() > kMaxAlternatives)
      return bad("more than " + std::to_string(kMaxAlternatives) + " alternatives in one group");
    if (i >= field.size()) break;
    if (field[i] == '|') {
      ++i;
      continue;
    }
    if (field[i] == ',') {
      ++i;
      out.push_back(std::move(group));
      group.clear();
      if (out.size() > kMaxRelationGroups)
        return bad("more than " + std::to_string(kMaxRelationGroups) + " relations");
      continue;
    }
    return bad("unexpected '" + std::string(1, field[i]) + "' after " + group.back().name);
  }
  if (!group.empty()) out.push_back(std::move(group));
  if (out.size() > kMaxRelationGroups)
    return bad("more than " + std::to_string(kMaxRelationGroups) + " relations");
  return out;
}

bool Package::installed() const {
  if (status.empty()) return true;
  auto sp = status.rfind(' ');
  return status.substr(sp == std::string::npos ? 0 : sp + 1) == "installed";
}

bool Package::held() const { return status.rfind("hold ", 0) == 0; }

Result<Package> package_from(const Paragraph& p) {
  Package out;
  out.name = std::string(p.field("Package"));
  out.version = std::string(p.field("Version"));
  if (out.name.empty() || out.version.empty())
    return make_error(Errc::invalid_argument, "a paragraph without Package or Version");
  if (!valid_package_name(out.name))
    return make_error(Errc::invalid_argument,
                      "'" + out.name.substr(0, 80) + "' is not a package name");
  if (!version::is_dpkg_version(out.version))
    return make_error(Errc::invalid_argument,
                      out.name + ": '" + out.version.substr(0, 80) + "' is not a Debian version");
  out.architecture = std::string(p.field("Architecture"));
  out.multi_arch = std::string(p.field("Multi-Arch"));
  out.status = std::string(p.field("Status"));
  auto src = trim(p.field("Source"));
  out.source = out.name;
  out.source_version = out.version;
  if (!src.empty()) {
    auto paren = src.find('(');
    out.source = std::string(trim(src.substr(0, paren)));
    if (paren != std::string_view::npos) {
      auto close = src.find(')', paren);
      if (close == std::string_view::npos)
        return make_error(Errc::invalid_argument, out.name + ": malformed Source field");
      out.source_version = std::string(trim(src.substr(paren + 1, close - paren - 1)));
    }
  }
  struct F {
    const char* name;
    Relations* into;
  };
  for (auto [name, into] : {F{"Depends", &out.depends}, F{"Pre-Depends", &out.pre_depends},
                            F{"Breaks", &out.breaks}, F{"Conflicts", &out.conflicts}}) {
    auto r = parse_relations(p.field(name));
    if (!r)
      return make_error(Errc::invalid_argument,
                        out.name + " " + out.version + ": " + name + ": " + r.error().message);
    *into = std::move(*r);
  }
  auto prov = parse_relations(p.field("Provides"));
  if (!prov)
    return make_error(Errc::invalid_argument,
                      out.name + " " + out.version + ": Provides: " + prov.error().message);
  for (auto& g : *prov)
    for (auto& r : g) {
      if (r.op != Op::none && r.op != Op::eq)
        return make_error(Errc::invalid_argument,
                          out.name + " " + out.version + ": Provides allows only '=': " + r.text());
      out.provides.push_back(std::move(r));
    }
  return out;
}

bool version_satisfies(const Relation& r, std::string_view version) {
  if (r.op == Op::none) return true;
  auto c = version::compare_dpkg(version, r.version);
  if (!c) return false;
  switch (r.op) {
    case Op::lt:
      return *c < 0;
    case Op::le:
      return *c <= 0;
    case Op::eq:
      return *c == 0;
    case Op::ge:
      return *c >= 0;
    case Op::gt:
      return *c > 0;
    case Op::none:
      return true;
  }
  return false;
}

bool satisfies(const Relation& r, const Package& p) {
  // An architecture qualifier other than any/native names one architecture; packages of
  // Architecture: all satisfy every architecture.
  if (!r.arch.empty() && r.arch != "any" && r.arch != "native" && p.architecture != r.arch &&
      p.architecture != "all")
    return false;
  if (p.name == r.name) return version_satisfies(r, p.version);
  for (const auto& pr : p.provides) {
    if (pr.name != r.name) continue;
    if (r.op == Op::none) return true;
    if (pr.op == Op::eq && version_satisfies(r, pr.version)) return true;
  }
  return false;
}

}  // namespace airheal::heal::deb
