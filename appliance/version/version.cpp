#include "version/version.hpp"

#include <cctype>
#include <vector>

namespace airheal::version {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

struct Semver {
  std::string_view core[3];
  std::vector<std::string_view> pre;
};

bool numeric_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return s.size() == 1 || s[0] != '0';
}

bool valid_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c) && !is_alpha(c) && c != '-') return false;
  return true;
}

std::optional<Semver> parse_semver(std::string_view v) {
  if (!v.empty() && v[0] == 'v') v.remove_prefix(1);
  if (auto plus = v.find('+'); plus != std::string_view::npos) {
    auto build = v.substr(plus + 1);
    v = v.substr(0, plus);
    std::size_t start = 0;
    while (true) {
      auto dot = build.find('.', start);
      if (!valid_identifier(build.substr(start, dot - start))) return std::nullopt;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  Semver s;
  std::string_view pre;
  if (auto dash = v.find('-'); dash != std::string_view::npos) {
    pre = v.substr(dash + 1);
    v = v.substr(0, dash);
    if (pre.empty()) return std::nullopt;
  }
  for (int i = 0; i < 3; ++i) {
    auto dot = v.find('.');
    if ((i < 2) != (dot != std::string_view::npos)) return std::nullopt;
    s.core[i] = v.substr(0, dot);
    if (!numeric_identifier(s.core[i])) return std::nullopt;
    v = i < 2 ? v.substr(dot + 1) : std::string_view{};
  }
  if (!pre.empty()) {
    std::size_t start = 0;
    while (true) {
      auto dot = pre.find('.', start);
      auto id = pre.substr(start, dot - start);
      if (!valid_identifier(id)) return std::nullopt;
      bool all_digits = true;
      for (char c : id) all_digits = all_digits && is_digit(c);
      if (all_digits && id.size() > 1 && id[0] == '0') return std::nullopt;
      s.pre.push_back(id);
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  return s;
}

int compare_numeric(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a[0] == '0') a.remove_prefix(1);
  while (b.size() > 1 && b[0] == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

// dpkg's order for one non-digit character: '~' sorts before everything, even the end.
int dpkg_order(int c) {
  if (is_digit(static_cast<char>(c))) return 0;
  if (is_alpha(static_cast<char>(c))) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

int dpkg_verrevcmp(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      int ac = i < a.size() ? dpkg_order(static_cast<unsigned char>(a[i])) : 0;
      int bc = j < b.size() ? dpkg_order(static_cast<unsigned char>(b[j])) : 0;
      if (ac != bc) return ac < bc ? -1 : 1;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (i < a.size() && j < b.size() && is_digit(a[i]) && is_digit(b[j])) {
      if (!first_diff) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && is_digit(a[i])) return 1;
    if (j < b.size() && is_digit(b[j])) return -1;
    if (first_diff) return first_diff < 0 ? -1 : 1;
  }
  return 0;
}

struct DebVersion {
  std::uint64_t epoch = 0;
  std::string_view upstream;
  std::string_view revision;
};

std::optional<DebVersion> parse_dpkg(std::string_view v) {
  // Leading and trailing spaces are tolerated by dpkg; inner spaces are not.
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  for (char c : v)
    if (std::isspace(static_cast<unsigned char>(c))) return std::nullopt;
  DebVersion d;
  if (auto colon = v.find(':'); colon != std::string_view::npos) {
    auto e = v.substr(0, colon);
    if (!all_digits(e) || e.size() > 9) return std::nullopt;
    d.epoch = std::stoull(std::string(e));
    v = v.substr(colon + 1);
  }
  if (auto dash = v.rfind('-'); dash != std::string_view::npos) {
    d.revision = v.substr(dash + 1);
    v = v.substr(0, dash);
    if (d.revision.empty()) return std::nullopt;
  }
  d.upstream = v;
  if (v.empty() || !is_digit(v[0])) return std::nullopt;
  for (char c : d.upstream)
    if (!is_digit(c) && !is_alpha(c) && c != '.' && c != '+' && c != '-' && c != '~' && c != ':') return std::nullopt;
  for (char c : d.revision)
    if (!is_digit(c) && !is_alpha(c) && c != '.' && c != '+' && c != '~') return std::nullopt;
  return d;
}

}  // namespace

bool is_semver(std::string_view v) { return parse_semver(v).has_value(); }

std::optional<int> compare_semver(std::string_view a, std::string_view b) {
  auto x = parse_semver(a), y = parse_semver(b);
  if (!x || !y) return std::nullopt;
  for (int i = 0; i < 3; ++i)
    if (int c = compare_numeric(x->core[i], y->core[i])) return c;
  if (x->pre.empty() != y->pre.empty()) return x->pre.empty() ? 1 : -1;
  for (std::size_t i = 0; i < x->pre.size() && i < y->pre.size(); ++i) {
    auto p = x->pre[i], q = y->pre[i];
    bool pn = all_digits(p), qn = all_digits(q);
    if (pn && qn) {
      if (int c = compare_numeric(p, q)) return c;
    } else if (pn != qn) {
      return pn ? -1 : 1;
    } else if (int c = p.compare(q)) {
      return c < 0 ? -1 : 1;
    }
  }
  if (x->pre.size() != y->pre.size()) return x->pre.size() < y->pre.size() ? -1 : 1;
  return 0;
}

bool is_dpkg_version(std::string_view v) { return parse_dpkg(v).has_value(); }

std::optional<int> compare_dpkg(std::string_view a, std::string_view b) {
  auto x = parse_dpkg(a), y = parse_dpkg(b);
  if (!x || !y) return std::nullopt;
  if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
  if (int c = dpkg_verrevcmp(x->upstream, y->upstream)) return c;
  return dpkg_verrevcmp(x->revision, y->revision);
}

std::optional<int> compare(std::string_view ecosystem, std::string_view a, std::string_view b) {
  auto base = ecosystem.substr(0, ecosystem.find(':'));
  if (base == "Go" || base == "SEMVER" || base == "npm" || base == "crates.io") return compare_semver(a, b);
  if (base == "Debian" || base == "Ubuntu" || base == "debian") return compare_dpkg(a, b);
  return std::nullopt;
}

}  // namespace airheal::version
