#include "version/version.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
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
    if (!is_digit(c) && !is_alpha(c) && c != '.' && c != '+' && c != '-' && c != '~' && c != ':')
      return std::nullopt;
  for (char c : d.revision)
    if (!is_digit(c) && !is_alpha(c) && c != '.' && c != '+' && c != '~') return std::nullopt;
  return d;
}

// ---- apk ----------------------------------------------------------------------------------

enum class ApkToken { digit, letter, suffix, suffix_no, commit, revision, end, invalid };

struct ApkState {
  ApkToken token = ApkToken::digit;
  bool first = true;  // the leading number compares numerically even with leading zeros
  int suffix = 0;
  std::uint64_t number = 0;
  std::string_view value;
};

// Suffix ranks: pre-release suffixes sort below "no suffix" (5), post-release ones above.
int apk_suffix(std::string_view s) {
  static constexpr std::string_view names[] = {"",    "alpha", "beta", "pre", "rc", "",
                                               "cvs", "svn",   "git",  "hg",  "p"};
  if (s.empty()) return -1;
  for (int i = 1; i < 11; ++i)
    if (i != 5 && names[i] == s) return i;
  return -1;
}
constexpr int apk_suffix_none = 5;

void apk_digits(ApkState& t, std::string_view& b, ApkToken kind) {
  std::size_t n = 0;
  std::uint64_t v = 0;
  while (n < b.size() && is_digit(b[n])) {
    v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + static_cast<unsigned>(b[n] - '0');
    ++n;
  }
  t.value = b.substr(0, n);
  t.number = v;
  b.remove_prefix(n);
  t.token = n ? kind : ApkToken::invalid;
}

void apk_next(ApkState& t, std::string_view& b) {
  if (b.empty()) {
    t.token = ApkToken::end;
    return;
  }
  char c = b[0];
  if (c >= 'a' && c <= 'z') {
    if (t.token != ApkToken::digit) goto invalid;
    t.value = b.substr(0, 1);
    t.token = ApkToken::letter;
    b.remove_prefix(1);
  } else if (c == '.') {
    if (t.token != ApkToken::digit) goto invalid;
    b.remove_prefix(1);
    apk_digits(t, b, ApkToken::digit);
    t.first = false;
  } else if (c == '_') {
    if (t.token > ApkToken::suffix_no) goto invalid;
    b.remove_prefix(1);
    std::size_t n = 0;
    while (n < b.size() && b[n] >= 'a' && b[n] <= 'z') ++n;
    t.value = b.substr(0, n);
    b.remove_prefix(n);
    t.suffix = apk_suffix(t.value);
    if (t.suffix < 0) goto invalid;
    t.token = ApkToken::suffix;
  } else if (c == '-') {
    if (t.token >= ApkToken::revision || b.size() < 2 || b[1] != 'r') goto invalid;
    b.remove_prefix(2);
    apk_digits(t, b, ApkToken::revision);
  } else if (c == '~') {
    if (t.token >= ApkToken::commit) goto invalid;
    b.remove_prefix(1);
    std::size_t n = 0;
    while (n < b.size() && (is_digit(b[n]) || (b[n] >= 'a' && b[n] <= 'f'))) ++n;
    if (!n) goto invalid;
    t.value = b.substr(0, n);
    b.remove_prefix(n);
    t.token = ApkToken::commit;
  } else if (is_digit(c)) {
    if (t.token != ApkToken::suffix) goto invalid;
    apk_digits(t, b, ApkToken::suffix_no);
  } else {
    goto invalid;
  }
  return;
invalid:
  t.token = ApkToken::invalid;
}

int apk_blob_sort(std::string_view a, std::string_view b) {
  int c =
      a.substr(0, std::min(a.size(), b.size())).compare(b.substr(0, std::min(a.size(), b.size())));
  if (c) return c < 0 ? -1 : 1;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

int apk_token_cmp(const ApkState& a, const ApkState& b) {
  std::uint64_t x = a.number, y = b.number;
  switch (a.token) {
    case ApkToken::digit:
      if (!a.first && (a.value[0] == '0' || b.value[0] == '0'))
        return apk_blob_sort(a.value, b.value);
      break;
    case ApkToken::letter:
    case ApkToken::commit:
      return apk_blob_sort(a.value, b.value);
    case ApkToken::suffix:
      x = static_cast<std::uint64_t>(a.suffix);
      y = static_cast<std::uint64_t>(b.suffix);
      break;
    default:
      break;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---- rpm ----------------------------------------------------------------------------------

bool rpm_alnum(char c) { return is_digit(c) || is_alpha(c); }

// rpm's parseEVR: leading digits then ':' are the epoch; the last '-' after them ends the version.
struct Evr {
  std::optional<std::string_view> epoch, version, release;
};

Evr parse_evr(std::string_view s) {
  Evr e;
  std::size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  auto dash = s.rfind('-');
  if (dash != std::string_view::npos && dash < i) dash = std::string_view::npos;
  if (i < s.size() && s[i] == ':') {
    e.epoch = i ? s.substr(0, i) : std::string_view("0");
    e.version =
        s.substr(i + 1, dash == std::string_view::npos ? std::string_view::npos : dash - i - 1);
  } else {
    e.version = s.substr(0, dash);
  }
  if (dash != std::string_view::npos) e.release = s.substr(dash + 1);
  return e;
}

// rpmver.c compare_values: a missing part sorts before any present one.
int rpm_values(std::optional<std::string_view> a, std::optional<std::string_view> b);

}  // namespace

bool is_apk_version(std::string_view v) {
  ApkState t;
  apk_digits(t, v, ApkToken::digit);
  while (t.token != ApkToken::end && t.token != ApkToken::invalid) apk_next(t, v);
  return t.token == ApkToken::end;
}

int compare_apk(std::string_view a, std::string_view b) {
  ApkState ta, tb;
  apk_digits(ta, a, ApkToken::digit);
  apk_digits(tb, b, ApkToken::digit);
  while (ta.token == tb.token && ta.token < ApkToken::end) {
    if (int r = apk_token_cmp(ta, tb)) return r;
    apk_next(ta, a);
    apk_next(tb, b);
  }
  if (ta.token == tb.token) return 0;
  // Equal so far: the longer one is newer, unless what follows is a pre-release suffix.
  if (ta.token == ApkToken::suffix && ta.suffix < apk_suffix_none) return -1;
  if (tb.token == ApkToken::suffix && tb.suffix < apk_suffix_none) return 1;
  return ta.token > tb.token ? -1 : 1;
}

int rpmvercmp(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  std::size_t i = 0, j = 0;
  auto at = [](std::string_view s, std::size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    while (i < a.size() && !rpm_alnum(a[i]) && a[i] != '~' && a[i] != '^') ++i;
    while (j < b.size() && !rpm_alnum(b[j]) && b[j] != '~' && b[j] != '^') ++j;
    char x = at(a, i), y = at(b, j);
    if (x == '~' || y == '~') {
      if (x != '~') return 1;
      if (y != '~') return -1;
      ++i, ++j;
      continue;
    }
    if (x == '^' || y == '^') {
      if (!x) return -1;
      if (!y) return 1;
      if (x != '^') return 1;
      if (y != '^') return -1;
      ++i, ++j;
      continue;
    }
    if (!x || !y) break;
    std::size_t i2 = i, j2 = j;
    bool num = is_digit(x);
    if (num) {
      while (i2 < a.size() && is_digit(a[i2])) ++i2;
      while (j2 < b.size() && is_digit(b[j2])) ++j2;
    } else {
      while (i2 < a.size() && is_alpha(a[i2])) ++i2;
      while (j2 < b.size() && is_alpha(b[j2])) ++j2;
    }
    if (i2 == i) return -1;  // rpm: "arbitrary"
    if (j2 == j) return num ? 1 : -1;
    auto sa = a.substr(i, i2 - i), sb = b.substr(j, j2 - j);
    if (num) {
      while (!sa.empty() && sa[0] == '0') sa.remove_prefix(1);
      while (!sb.empty() && sb[0] == '0') sb.remove_prefix(1);
      if (sa.size() != sb.size()) return sa.size() > sb.size() ? 1 : -1;
    }
    if (int c = sa.compare(sb)) return c < 0 ? -1 : 1;
    i = i2, j = j2;
  }
  if (i >= a.size() && j >= b.size()) return 0;
  return i >= a.size() ? -1 : 1;
}

namespace {
int rpm_values(std::optional<std::string_view> a, std::optional<std::string_view> b) {
  if (!a || !b) return a ? 1 : b ? -1 : 0;
  return rpmvercmp(*a, *b);
}
}  // namespace

int compare_rpm(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return rpmvercmp(a, b);
  auto x = parse_evr(a), y = parse_evr(b);
  if (int c = rpm_values(x.epoch.value_or("0"), y.epoch.value_or("0"))) return c;
  if (int c = rpm_values(x.version, y.version)) return c;
  return rpm_values(x.release, y.release);
}

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

namespace {

// A parsed PEP 440 version. Numbers are kept as digit strings without leading zeros (any length).
struct Pep440 {
  std::string epoch = "0";
  std::vector<std::string> release;
  char pre = 0;  // 'a', 'b', 'c' (rc) or 0
  std::string pre_n, post, dev;
  bool has_post = false, has_dev = false;
  std::vector<std::string> local;  // lower case
};

int compare_digits(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

std::optional<Pep440> parse_pep440(std::string_view in) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!in.empty() && is_space(in.front())) in.remove_prefix(1);
  while (!in.empty() && is_space(in.back())) in.remove_suffix(1);
  if (in.empty() || in.size() > 256) return std::nullopt;
  std::string s(in);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t i = 0;
  auto digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  auto number = [&]() {
    std::size_t b = i;
    while (digit(i)) ++i;
    auto n = s.substr(b, i - b);
    auto nz = n.find_first_not_of('0');
    return nz == std::string::npos ? std::string("0") : n.substr(nz);
  };
  auto sep = [&](std::size_t k) {
    return k < s.size() && (s[k] == '.' || s[k] == '-' || s[k] == '_');
  };
  auto word = [&](std::size_t k, std::string_view w) { return s.compare(k, w.size(), w) == 0; };
  Pep440 v;
  if (i < s.size() && s[i] == 'v') ++i;
  if (!digit(i)) return std::nullopt;
  auto first = number();
  if (i < s.size() && s[i] == '!') {
    v.epoch = first;
    ++i;
    if (!digit(i)) return std::nullopt;
    first = number();
  }
  v.release.push_back(first);
  while (i + 1 < s.size() && s[i] == '.' && digit(i + 1)) {
    ++i;
    v.release.push_back(number());
  }
  // pre-release: [-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?N?
  {
    std::size_t k = sep(i) ? i + 1 : i;
    struct Spelling {
      std::string_view w;
      char tag;
    };
    for (auto sp : {Spelling{"preview", 'c'}, Spelling{"alpha", 'a'}, Spelling{"beta", 'b'},
                    Spelling{"pre", 'c'}, Spelling{"rc", 'c'}, Spelling{"a", 'a'},
                    Spelling{"b", 'b'}, Spelling{"c", 'c'}}) {
      if (!word(k, sp.w)) continue;
      i = k + sp.w.size();
      v.pre = sp.tag;
      std::size_t m = sep(i) && digit(i + 1) ? i + 1 : i;
      if (digit(m)) {
        i = m;
        v.pre_n = number();
      } else {
        v.pre_n = "0";
      }
      break;
    }
  }
  // post-release: -N, or [-_.]?(post|rev|r)[-_.]?N?
  if (i + 1 < s.size() && s[i] == '-' && digit(i + 1)) {
    ++i;
    v.has_post = true;
    v.post = number();
  } else {
    std::size_t k = sep(i) ? i + 1 : i;
    for (std::string_view w : {"post", "rev", "r"}) {
      if (!word(k, w)) continue;
      i = k + w.size();
      v.has_post = true;
      std::size_t m = sep(i) && digit(i + 1) ? i + 1 : i;
      if (digit(m)) {
        i = m;
        v.post = number();
      } else {
        v.post = "0";
      }
      break;
    }
  }
  // development release: [-_.]?dev[-_.]?N?
  {
    std::size_t k = sep(i) ? i + 1 : i;
    if (word(k, "dev")) {
      i = k + 3;
      v.has_dev = true;
      std::size_t m = sep(i) && digit(i + 1) ? i + 1 : i;
      if (digit(m)) {
        i = m;
        v.dev = number();
      } else {
        v.dev = "0";
      }
    }
  }
  // local version: +[a-z0-9]+([-_.][a-z0-9]+)*
  if (i < s.size() && s[i] == '+') {
    ++i;
    std::string seg;
    for (; i <= s.size(); ++i) {
      char c = i < s.size() ? s[i] : '.';
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        seg += c;
        continue;
      }
      if (c != '.' && c != '-' && c != '_') return std::nullopt;
      if (seg.empty()) return std::nullopt;
      v.local.push_back(seg);
      seg.clear();
      if (i == s.size()) break;
    }
    i = s.size();
  }
  if (i != s.size()) return std::nullopt;
  return v;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::optional<std::string> normalise_pep440(std::string_view in) {
  auto v = parse_pep440(in);
  if (!v) return std::nullopt;
  std::string out = v->epoch == "0" ? "" : v->epoch + "!";
  for (std::size_t k = 0; k < v->release.size(); ++k) out += (k ? "." : "") + v->release[k];
  if (v->pre) out += (v->pre == 'c' ? std::string("rc") : std::string(1, v->pre)) + v->pre_n;
  if (v->has_post) out += ".post" + v->post;
  if (v->has_dev) out += ".dev" + v->dev;
  if (!v->local.empty()) {
    out += "+";
    for (std::size_t k = 0; k < v->local.size(); ++k) {
      auto seg = v->local[k];
      if (all_digits(seg)) {
        auto nz = seg.find_first_not_of('0');
        seg = nz == std::string::npos ? "0" : seg.substr(nz);
      }
      out += (k ? "." : "") + seg;
    }
  }
  return out;
}

bool is_pep440(std::string_view v) { return parse_pep440(v).has_value(); }

std::optional<int> compare_pep440(std::string_view a, std::string_view b) {
  auto x = parse_pep440(a), y = parse_pep440(b);
  if (!x || !y) return std::nullopt;
  if (int c = compare_digits(x->epoch, y->epoch)) return c;
  // the release without trailing zeros ("1.0" == "1.0.0")
  auto trimmed = [](std::vector<std::string> r) {
    while (r.size() > 1 && r.back() == "0") r.pop_back();
    return r;
  };
  auto rx = trimmed(x->release), ry = trimmed(y->release);
  for (std::size_t k = 0; k < std::max(rx.size(), ry.size()); ++k) {
    if (k >= rx.size()) return -1;
    if (k >= ry.size()) return 1;
    if (int c = compare_digits(rx[k], ry[k])) return c;
  }
  // pre-release: a dev release of the final version (no pre, no post) sorts before every
  // pre-release; a version without a pre-release after every one.
  auto pre_rank = [](const Pep440& v) {
    if (!v.pre && !v.has_post && v.has_dev) return 0;
    if (!v.pre) return 4;
    return v.pre == 'a' ? 1 : v.pre == 'b' ? 2 : 3;
  };
  if (int px = pre_rank(*x), py = pre_rank(*y); px != py) return px < py ? -1 : 1;
  if (x->pre)
    if (int c = compare_digits(x->pre_n, y->pre_n)) return c;
  // post-release: none sorts first
  if (x->has_post != y->has_post) return x->has_post ? 1 : -1;
  if (x->has_post)
    if (int c = compare_digits(x->post, y->post)) return c;
  // development release: none sorts last
  if (x->has_dev != y->has_dev) return x->has_dev ? -1 : 1;
  if (x->has_dev)
    if (int c = compare_digits(x->dev, y->dev)) return c;
  // local version: none sorts first; segments in order, a number above any letters, letters in
  // lexical order; a shorter version that is a prefix sorts first
  for (std::size_t k = 0; k < std::max(x->local.size(), y->local.size()); ++k) {
    if (k >= x->local.size()) return -1;
    if (k >= y->local.size()) return 1;
    const auto &sx = x->local[k], &sy = y->local[k];
    bool nx = all_digits(sx), ny = all_digits(sy);
    if (nx != ny) return nx ? 1 : -1;
    if (nx) {
      auto strip = [](const std::string& d) {
        auto nz = d.find_first_not_of('0');
        return nz == std::string::npos ? std::string("0") : d.substr(nz);
      };
      if (int c = compare_digits(strip(sx), strip(sy))) return c;
    } else if (int c = sx.compare(sy)) {
      return c < 0 ? -1 : 1;
    }
  }
  return 0;
}

std::optional<int> compare(std::string_view ecosystem, std::string_view a, std::string_view b) {
  auto base = ecosystem.substr(0, ecosystem.find(':'));
  if (base == "Go" || base == "SEMVER" || base == "npm" || base == "crates.io")
    return compare_semver(a, b);
  if (base == "PyPI") return compare_pep440(a, b);
  if (base == "Maven") return compare_maven(a, b);
  if (base == "NuGet") return compare_nuget(a, b);
  if (base == "RubyGems") return compare_rubygems(a, b);
  if (base == "Packagist") return compare_composer(a, b);
  if (base == "Debian" || base == "Ubuntu" || base == "debian") return compare_dpkg(a, b);
  if (base == "Alpine" || base == "Wolfi" || base == "Chainguard") return compare_apk(a, b);
  if (base == "Red Hat" || base == "Rocky Linux" || base == "AlmaLinux" || base == "openSUSE" ||
      base == "SUSE" || base == "Mageia" || base == "openEuler")
    return compare_rpm(a, b);
  return std::nullopt;
}

}  // namespace airheal::version
