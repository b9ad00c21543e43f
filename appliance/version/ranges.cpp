// Version ranges as the application ecosystems' own tools read them: node-semver ranges (npm's
// dependency ranges in package.json) and PEP 440 specifier sets (Requires-Dist in Python core
// metadata). The heal planner asks whether a fixed version still satisfies every range that
// depends on the package it replaces.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "version/version.hpp"

namespace airheal::version {
namespace {

constexpr std::size_t kMaxRange = 1024;

std::string_view trim_blank(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_on(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (true) {
    auto k = s.find(sep, at);
    out.push_back(s.substr(at, k == std::string_view::npos ? std::string_view::npos : k - at));
    if (k == std::string_view::npos) break;
    at = k + sep.size();
  }
  return out;
}

// ---- node-semver ----

// A partial version: up to three numbers, each possibly a wildcard, then a pre-release.
struct Partial {
  int given = 0;  // numbers given (0-3); wildcards end it
  std::string num[3] = {"0", "0", "0"};
  std::string pre;  // "-beta.1" without the dash
};

bool is_wild(std::string_view s) { return s == "x" || s == "X" || s == "*"; }

std::optional<Partial> parse_partial(std::string_view s) {
  Partial p;
  while (!s.empty() && (s.front() == 'v' || s.front() == '=' || s.front() == ' '))
    s.remove_prefix(1);
  if (s.empty() || is_wild(s)) return p;
  if (auto plus = s.find('+'); plus != std::string_view::npos) s = s.substr(0, plus);
  std::string_view core = s;
  if (auto dash = s.find('-'); dash != std::string_view::npos) {
    core = s.substr(0, dash);
    p.pre = std::string(s.substr(dash + 1));
    if (p.pre.empty()) return std::nullopt;
  }
  auto parts = split_on(core, ".");
  if (parts.size() > 3) return std::nullopt;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    auto part = parts[k];
    if (is_wild(part)) break;
    if (part.empty() || part.size() > 16 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    auto nz = part.find_first_not_of('0');
    p.num[k] = nz == std::string_view::npos ? "0" : std::string(part.substr(nz));
    p.given = static_cast<int>(k) + 1;
  }
  if (p.given < 3 && !p.pre.empty()) return std::nullopt;
  return p;
}

std::string plus_one(const std::string& digits) {
  std::string r = digits;
  int k = static_cast<int>(r.size()) - 1;
  while (k >= 0 && r[static_cast<std::size_t>(k)] == '9') r[static_cast<std::size_t>(k--)] = '0';
  if (k < 0) return "1" + r;
  ++r[static_cast<std::size_t>(k)];
  return r;
}

std::string full(const Partial& p) {
  return p.num[0] + "." + p.num[1] + "." + p.num[2] + (p.pre.empty() ? "" : "-" + p.pre);
}

struct Comparator {
  std::string op;  // < <= > >= =
  std::string version;
};

// The comparators a range element desugars to, as node-semver's Range does.
std::optional<std::vector<Comparator>> desugar(std::string_view element) {
  std::vector<Comparator> out;
  std::string op;
  for (std::string_view o : {">=", "<=", ">", "<", "=", "~>", "~", "^"})
    if (element.starts_with(o)) {
      op = std::string(o);
      element.remove_prefix(o.size());
      break;
    }
  element = trim_blank(element);
  auto p = parse_partial(element);
  if (!p) return std::nullopt;
  auto upper = [&](int level) {  // the exclusive bound after bumping number LEVEL
    Partial u;
    u.given = 3;
    for (int k = 0; k < level; ++k) u.num[k] = p->num[k];
    u.num[level] = plus_one(p->num[level]);
    return full(u) + "-0";
  };
  if (op == "~" || op == "~>") {
    if (p->given == 0) return out;  // any
    out.push_back({">=", full(*p)});
    out.push_back({"<", upper(p->given == 1 ? 0 : 1)});
    return out;
  }
  if (op == "^") {
    if (p->given == 0) return out;
    out.push_back({">=", full(*p)});
    int level = 0;
    if (p->num[0] == "0" && p->given >= 2) level = (p->num[1] == "0" && p->given == 3) ? 2 : 1;
    if (p->num[0] == "0" && p->given == 2 && p->num[1] == "0") level = 1;
    out.push_back({"<", upper(level)});
    return out;
  }
  if (p->given == 3) {
    out.push_back({op.empty() ? "=" : op, full(*p)});
    return out;
  }
  // x-ranges: a partial version stands for every version it does not pin
  if (op.empty() || op == "=") {
    if (p->given == 0) return out;
    out.push_back({">=", full(*p)});
    out.push_back({"<", upper(p->given - 1)});
    return out;
  }
  if (p->given == 0) {
    if (op == "<" || op == ">") out.push_back({"<", "0.0.0-0"});  // nothing
    return out;
  }
  if (op == ">")
    out.push_back({">=", upper(p->given - 1)});
  else if (op == ">=")
    out.push_back({">=", full(*p)});
  else if (op == "<")
    out.push_back({"<", full(*p) + "-0"});
  else if (op == "<=")
    out.push_back({"<", upper(p->given - 1)});
  return out;
}

bool test_comparator(const std::string& v, const Comparator& c) {
  auto r = compare_semver(v, c.version);
  if (!r) return false;
  if (c.op == "=") return *r == 0;
  if (c.op == "<") return *r < 0;
  if (c.op == "<=") return *r <= 0;
  if (c.op == ">") return *r > 0;
  return *r >= 0;
}

std::string core_of(const std::string& v) {
  auto k = v.find_first_of("-+");
  return k == std::string::npos ? v : v.substr(0, k);
}

}  // namespace

std::optional<bool> satisfies_npm_range(std::string_view version, std::string_view range) {
  if (range.size() > kMaxRange || !is_semver(version)) return std::nullopt;
  std::string v(version);
  if (!v.empty() && (v[0] == 'v' || v[0] == '=')) v.erase(0, 1);
  bool any = false;
  for (auto alternative : split_on(range, "||")) {
    alternative = trim_blank(alternative);
    std::vector<Comparator> set;
    // hyphen range: A - B
    if (auto h = alternative.find(" - "); h != std::string_view::npos) {
      auto a = parse_partial(trim_blank(alternative.substr(0, h)));
      auto b = parse_partial(trim_blank(alternative.substr(h + 3)));
      if (!a || !b) return std::nullopt;
      if (a->given > 0) set.push_back({">=", full(*a)});
      if (b->given == 3) {
        set.push_back({"<=", full(*b)});
      } else if (b->given > 0) {
        Partial u;
        u.given = 3;
        for (int k = 0; k < b->given - 1; ++k) u.num[k] = b->num[k];
        u.num[b->given - 1] = plus_one(b->num[b->given - 1]);
        set.push_back({"<", full(u) + "-0"});
      }
    } else {
      // comparators separated by blanks; an operator may be followed by blanks
      std::vector<std::string> tokens;
      std::string cur;
      for (std::size_t i = 0; i <= alternative.size(); ++i) {
        char c = i < alternative.size() ? alternative[i] : ' ';
        if (c == ' ' || c == '\t') {
          if (!cur.empty() && cur.find_first_not_of("<>=~^") != std::string::npos) {
            tokens.push_back(cur);
            cur.clear();
          }
          continue;
        }
        cur += c;
      }
      if (!cur.empty()) tokens.push_back(cur);
      for (const auto& t : tokens) {
        auto d = desugar(t);
        if (!d) return std::nullopt;
        set.insert(set.end(), d->begin(), d->end());
      }
    }
    bool ok = std::all_of(set.begin(), set.end(),
                          [&](const Comparator& c) { return test_comparator(v, c); });
    // a pre-release satisfies a set only when a comparator names the same core with a pre-release
    if (ok && v.find('-') != std::string::npos && core_of(v).size() != v.size()) {
      bool allowed = false;
      for (const auto& c : set)
        if (c.version.find('-') != std::string::npos && core_of(c.version) == core_of(v) &&
            c.version != core_of(v) + "-0")
          allowed = true;
      ok = allowed;
    }
    any = any || ok;
  }
  return any;
}

// ---- PEP 440 specifiers ----

namespace {

struct Pep440Parts {
  std::string epoch = "0";
  std::vector<std::string> release;
  std::string pre, post, dev, local;  // as normalised: "rc1", "post2", "dev3", "ubuntu.1"
};

// The parts of a normalised version ("1!2.0rc1.post2.dev3+x.1").
Pep440Parts pep440_parts(const std::string& n) {
  Pep440Parts p;
  std::string s = n;
  if (auto plus = s.find('+'); plus != std::string::npos) {
    p.local = s.substr(plus + 1);
    s.resize(plus);
  }
  if (auto bang = s.find('!'); bang != std::string::npos) {
    p.epoch = s.substr(0, bang);
    s.erase(0, bang + 1);
  }
  if (auto d = s.find(".dev"); d != std::string::npos) {
    p.dev = s.substr(d + 1);
    s.resize(d);
  }
  if (auto d = s.find(".post"); d != std::string::npos) {
    p.post = s.substr(d + 1);
    s.resize(d);
  }
  auto pre = s.find_first_of("abr");
  if (pre != std::string::npos) {
    p.pre = s.substr(pre);
    s.resize(pre);
  }
  for (auto part : split_on(s, ".")) p.release.emplace_back(part);
  return p;
}

std::string base_of(const Pep440Parts& p) {
  std::string out = p.epoch == "0" ? "" : p.epoch + "!";
  for (std::size_t k = 0; k < p.release.size(); ++k) out += (k ? "." : "") + p.release[k];
  return out;
}

std::string public_of(const std::string& n) { return n.substr(0, n.find('+')); }

std::optional<bool> pep440_one(const std::string& v, std::string_view spec, bool& names_pre) {
  spec = trim_blank(spec);
  std::string op;
  for (std::string_view o : {"===", "~=", "==", "!=", "<=", ">=", "<", ">"})
    if (spec.starts_with(o)) {
      op = std::string(o);
      spec.remove_prefix(o.size());
      break;
    }
  if (op.empty()) return std::nullopt;
  spec = trim_blank(spec);
  if (op == "===") {
    std::string a(spec), b(v);
    for (auto* s : {&a, &b})
      for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return a == b;
  }
  auto nv = normalise_pep440(v);
  if (!nv) return std::nullopt;
  auto cand = pep440_parts(*nv);
  bool wildcard = spec.ends_with(".*");
  if (wildcard) {
    if (op != "==" && op != "!=") return std::nullopt;
    auto prefix = normalise_pep440(spec.substr(0, spec.size() - 2));
    if (!prefix) return std::nullopt;
    auto pp = pep440_parts(*prefix);
    // the candidate's public version, release padded with zeros, starts with the prefix
    auto cr = cand.release;
    auto pr = pp.release;
    bool match = pp.epoch == cand.epoch;
    if (pp.pre.empty() && pp.post.empty() && pp.dev.empty()) {
      while (cr.size() < pr.size()) cr.push_back("0");
      for (std::size_t k = 0; match && k < pr.size(); ++k) match = cr[k] == pr[k];
    } else {
      auto c_public = public_of(*nv);
      match = match && c_public.starts_with(*prefix) &&
              (c_public.size() == prefix->size() || c_public[prefix->size()] == '.');
    }
    return op == "==" ? match : !match;
  }
  auto nspec = normalise_pep440(spec);
  if (!nspec) return std::nullopt;
  auto sp = pep440_parts(*nspec);
  if (!sp.pre.empty() || !sp.dev.empty())
    if (op == "==" || op == ">=" || op == "<=" || op == "~=") names_pre = true;
  auto cmp_public = compare_pep440(public_of(*nv), public_of(*nspec));
  if (!cmp_public) return std::nullopt;
  if (op == "==" || op == "!=") {
    // without a local label in the specifier, the candidate's local label is ignored
    auto c = sp.local.empty() ? *cmp_public : compare_pep440(*nv, *nspec).value_or(1);
    return op == "==" ? c == 0 : c != 0;
  }
  if (op == "<=") return *cmp_public <= 0;
  if (op == ">=") return *cmp_public >= 0;
  if (op == "<") {
    if (*cmp_public >= 0) return false;
    // not a pre-release of the specified version unless it is one itself
    bool cand_pre = !cand.pre.empty() || !cand.dev.empty();
    if (sp.pre.empty() && sp.dev.empty() && cand_pre && base_of(cand) == base_of(sp)) return false;
    return true;
  }
  if (op == ">") {
    if (*cmp_public <= 0) return false;
    if (sp.post.empty() && !cand.post.empty() && base_of(cand) == base_of(sp)) return false;
    if (!cand.local.empty() && base_of(cand) == base_of(sp)) return false;
    return true;
  }
  // ~= V: >= V and == V's release without its last number, .*
  if (sp.release.size() < 2) return std::nullopt;
  if (*cmp_public < 0) return false;
  auto prefix = sp.release;
  prefix.pop_back();
  auto cr = cand.release;
  while (cr.size() < prefix.size()) cr.push_back("0");
  if (cand.epoch != sp.epoch) return false;
  for (std::size_t k = 0; k < prefix.size(); ++k)
    if (cr[k] != prefix[k]) return false;
  return true;
}

}  // namespace

std::optional<bool> satisfies_pep440(std::string_view version, std::string_view specifiers) {
  if (specifiers.size() > kMaxRange) return std::nullopt;
  auto nv = normalise_pep440(version);
  if (!nv) return std::nullopt;
  specifiers = trim_blank(specifiers);
  bool names_pre = false, all = true;
  for (auto spec : split_on(specifiers, ",")) {
    if (specifiers.empty()) break;  // no specifier: every final release
    auto r = pep440_one(std::string(version), spec, names_pre);
    if (!r) return std::nullopt;
    all = all && *r;
  }
  auto parts = pep440_parts(*nv);
  if (all && (!parts.pre.empty() || !parts.dev.empty()) && !names_pre) return false;
  return all;
}

}  // namespace airheal::version
