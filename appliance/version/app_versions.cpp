// Version orderings of the application ecosystems: Maven, NuGet, RubyGems and Packagist.
// Each follows the reference implementation its package manager uses (named per function in
// version.hpp); the unit tests hold them to those implementations' own vectors.
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "version/version.hpp"

namespace airheal::version {
namespace {

// Versions longer than this are not versions anyone publishes; refusing them bounds the work and
// the recursion of the Maven item tree for hostile input.
constexpr std::size_t kMaxAppVersion = 256;

bool ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string strip_zeros(std::string_view d) {
  auto nz = d.find_first_not_of('0');
  return nz == std::string_view::npos ? std::string("0") : std::string(d.substr(nz));
}

// Two digit strings without leading zeros, by value.
int digits_order(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

int sign(int c) { return c < 0 ? -1 : c > 0 ? 1 : 0; }

// ---- Maven: org.apache.maven.artifact.versioning.ComparableVersion (maven-artifact 3.8.7, the
// version Debian ships and osv-scalibr's vectors were generated with) ----

struct MavenItem {
  enum Kind { number, text, list } kind = list;
  std::string value;  // number: digits without leading zeros; text: the aliased qualifier
  std::vector<MavenItem> items;

  bool is_null() const {
    if (kind == number) return value == "0";
    if (kind == text) return value.empty();
    return items.empty();
  }
};

// The qualifier's sort key: the well-known ones by rank, every other after them in lexical order.
std::string maven_qualifier_key(const std::string& q) {
  static const std::vector<std::string> ranked = {"alpha",    "beta", "milestone", "rc",
                                                  "snapshot", "",     "sp"};
  auto it = std::find(ranked.begin(), ranked.end(), q);
  if (it != ranked.end()) return std::to_string(it - ranked.begin());
  return std::to_string(ranked.size()) + "-" + q;
}

MavenItem maven_text(std::string v, bool followed_by_digit) {
  if (followed_by_digit && v.size() == 1) {
    if (v == "a")
      v = "alpha";
    else if (v == "b")
      v = "beta";
    else if (v == "m")
      v = "milestone";
  }
  if (v == "ga" || v == "final" || v == "release") v.clear();
  if (v == "cr") v = "rc";
  MavenItem i;
  i.kind = MavenItem::text;
  i.value = std::move(v);
  return i;
}

MavenItem maven_parse_item(bool digit, std::string_view s) {
  if (!digit) return maven_text(std::string(s), false);
  MavenItem i;
  i.kind = MavenItem::number;
  i.value = strip_zeros(s);
  return i;
}

// Trailing null items (0, "", empty lists) are dropped, up to the last item that is not a list.
void maven_normalise(MavenItem& l) {
  for (std::size_t i = l.items.size(); i-- > 0;) {
    if (l.items[i].is_null())
      l.items.erase(l.items.begin() + static_cast<std::ptrdiff_t>(i));
    else if (l.items[i].kind != MavenItem::list)
      break;
  }
}

int maven_compare(const MavenItem* a, const MavenItem* b);

// An item against "nothing" (the shorter side of a list comparison).
int maven_compare_null(const MavenItem& a) {
  switch (a.kind) {
    case MavenItem::number:
      return a.value == "0" ? 0 : 1;
    case MavenItem::text:
      return sign(maven_qualifier_key(a.value).compare("5"));  // "5": the release rank
    case MavenItem::list:  // every item against nothing, not only the first (MNG-6964)
      for (const auto& i : a.items)
        if (int c = maven_compare_null(i)) return c;
      return 0;
  }
  return 0;
}

int maven_compare(const MavenItem* a, const MavenItem* b) {
  if (!b) return maven_compare_null(*a);
  switch (a->kind) {
    case MavenItem::number:
      if (b->kind == MavenItem::number) return digits_order(a->value, b->value);
      return 1;  // a number sorts after a qualifier and after a sub-list
    case MavenItem::text:
      if (b->kind == MavenItem::text)
        return sign(maven_qualifier_key(a->value).compare(maven_qualifier_key(b->value)));
      return -1;
    case MavenItem::list:
      if (b->kind == MavenItem::number) return -1;
      if (b->kind == MavenItem::text) return 1;
      for (std::size_t k = 0; k < std::max(a->items.size(), b->items.size()); ++k) {
        const MavenItem* l = k < a->items.size() ? &a->items[k] : nullptr;
        const MavenItem* r = k < b->items.size() ? &b->items[k] : nullptr;
        int c = !l ? (r ? -maven_compare(r, nullptr) : 0) : maven_compare(l, r);
        if (c) return c;
      }
      return 0;
  }
  return 0;
}

// The item tree, built as ComparableVersion.parseVersion builds it: '.' separates items, '-' and
// every switch between digits and letters open a nested list.
MavenItem maven_parse(std::string_view in) {
  std::string v;
  for (char c : in) v.push_back(ascii_lower(c));
  MavenItem root;
  std::vector<MavenItem*> stack{&root};
  MavenItem* list = &root;
  auto open_list = [&] {
    list->items.push_back(MavenItem{});
    list = &list->items.back();
    stack.push_back(list);
  };
  bool digit = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '.' || c == '-') {
      if (i == start)
        list->items.push_back(maven_parse_item(true, "0"));
      else
        list->items.push_back(
            maven_parse_item(digit, std::string_view(v).substr(start, i - start)));
      start = i + 1;
      if (c == '-') open_list();
    } else if (ascii_digit(c)) {
      if (!digit && i > start) {
        if (!list->items.empty()) open_list();  // ".X1" reads as "-X1"
        list->items.push_back(maven_text(v.substr(start, i - start), true));
        start = i;
        open_list();
      }
      digit = true;
    } else {
      if (digit && i > start) {
        list->items.push_back(maven_parse_item(true, std::string_view(v).substr(start, i - start)));
        start = i;
        open_list();
      }
      digit = false;
    }
  }
  if (v.size() > start) {
    if (!digit && !list->items.empty()) open_list();  // a trailing ".X" reads as "-X"
    list->items.push_back(maven_parse_item(digit, std::string_view(v).substr(start)));
  }
  // Lists are normalised innermost first. Pointers into parents stay valid: a list is only
  // appended to while it is the innermost one, before its children are opened.
  while (!stack.empty()) {
    maven_normalise(*stack.back());
    stack.pop_back();
  }
  return root;
}

// ---- NuGet: NuGet.Versioning.VersionComparer (SemVer 2.0 with a fourth number) ----

struct NuGetVersion {
  std::vector<std::string> numbers;  // four, without leading zeros
  std::vector<std::string> labels;   // pre-release labels
};

std::optional<NuGetVersion> parse_nuget(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty() || s.size() > kMaxAppVersion) return std::nullopt;
  if (auto plus = s.find('+'); plus != std::string_view::npos) {
    auto meta = s.substr(plus + 1);
    if (meta.empty()) return std::nullopt;
    s = s.substr(0, plus);
  }
  std::string_view pre;
  if (auto dash = s.find('-'); dash != std::string_view::npos) {
    pre = s.substr(dash + 1);
    if (pre.empty()) return std::nullopt;
    s = s.substr(0, dash);
  }
  NuGetVersion v;
  std::size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    auto part =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || !std::all_of(part.begin(), part.end(), ascii_digit)) return std::nullopt;
    v.numbers.push_back(strip_zeros(part));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (v.numbers.size() > 4) return std::nullopt;
  v.numbers.resize(4, "0");
  std::size_t p = 0;
  while (!pre.empty()) {
    auto dot = pre.find('.', p);
    auto label = pre.substr(p, dot == std::string_view::npos ? std::string_view::npos : dot - p);
    if (label.empty()) return std::nullopt;
    for (char c : label)
      if (!ascii_digit(c) && !ascii_alpha(c) && c != '-') return std::nullopt;
    v.labels.emplace_back(label);
    if (dot == std::string_view::npos) break;
    p = dot + 1;
  }
  return v;
}

int nuget_label_order(const std::string& a, const std::string& b) {
  bool na = std::all_of(a.begin(), a.end(), ascii_digit);
  bool nb = std::all_of(b.begin(), b.end(), ascii_digit);
  if (na && nb) return digits_order(strip_zeros(a), strip_zeros(b));
  if (na != nb) return na ? -1 : 1;
  std::string la, lb;
  for (char c : a) la.push_back(ascii_lower(c));
  for (char c : b) lb.push_back(ascii_lower(c));
  return sign(la.compare(lb));
}

// ---- RubyGems: Gem::Version#<=> ----

struct GemSegment {
  bool number;
  std::string value;
};

std::optional<std::vector<GemSegment>> parse_gem(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  if (s.empty() || s.size() > kMaxAppVersion) return std::nullopt;
  // Gem::Version::ANCHORED_VERSION_PATTERN:
  // [0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?
  if (!ascii_digit(s.front())) return std::nullopt;
  auto dash = s.find('-');
  auto main = s.substr(0, dash);
  char prev = 0;
  for (char c : main) {
    if (c == '.') {
      if (prev == '.') return std::nullopt;
    } else if (!ascii_digit(c) && !ascii_alpha(c)) {
      return std::nullopt;
    }
    prev = c;
  }
  if (prev == '.') return std::nullopt;
  if (dash != std::string_view::npos) {
    auto pre = s.substr(dash + 1);
    if (pre.empty() || pre.front() == '.' || pre.back() == '.') return std::nullopt;
    for (std::size_t i = 0; i < pre.size(); ++i) {
      char c = pre[i];
      if (c == '.' && pre[i - 1] == '.') return std::nullopt;
      if (c != '.' && c != '-' && !ascii_digit(c) && !ascii_alpha(c)) return std::nullopt;
    }
  }
  // "-" means ".pre."; segments are the runs of digits and of letters
  std::vector<GemSegment> segs;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '-') {
      segs.push_back({false, "pre"});
      ++i;
      continue;
    }
    if (!ascii_digit(c) && !ascii_alpha(c)) {
      ++i;
      continue;
    }
    std::size_t j = i;
    bool digit = ascii_digit(c);
    while (j < s.size() && (digit ? ascii_digit(s[j]) : ascii_alpha(s[j]))) ++j;
    auto run = s.substr(i, j - i);
    segs.push_back({digit, digit ? strip_zeros(run) : std::string(run)});
    i = j;
  }
  // canonical_segments: trailing zeros dropped from the numeric part and from the rest
  auto first_text =
      std::find_if(segs.begin(), segs.end(), [](const GemSegment& g) { return !g.number; });
  std::vector<GemSegment> numeric(segs.begin(), first_text), rest(first_text, segs.end());
  auto drop_zeros = [](std::vector<GemSegment>& v) {
    while (!v.empty() && v.back().number && v.back().value == "0") v.pop_back();
  };
  drop_zeros(numeric);
  drop_zeros(rest);
  numeric.insert(numeric.end(), rest.begin(), rest.end());
  return numeric;
}

// ---- Packagist: PHP's version_compare, as Composer's own ordering of tags reduces to ----

// php_canonicalize_version: '-', '_' and '+' become '.', and a '.' goes between a digit and a
// non-digit; other punctuation becomes '.'.
std::string php_canonical(std::string_view v) {
  std::string out;
  if (v.empty()) return out;
  auto isdig = [](char c) { return ascii_digit(c); };
  auto isndig = [](char c) { return !ascii_digit(c) && c != '.'; };
  auto special = [](char c) { return c == '-' || c == '_' || c == '+'; };
  out.push_back(v[0]);
  char lp = v[0];
  for (std::size_t i = 1; i < v.size(); ++i) {
    char c = v[i];
    char lq = out.back();
    if (special(c)) {
      if (lq != '.') out.push_back('.');
    } else if ((isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c))) {
      if (lq != '.') out.push_back('.');
      out.push_back(c);
    } else if (!ascii_digit(c) && !ascii_alpha(c)) {
      if (lq != '.') out.push_back('.');
    } else {
      out.push_back(c);
    }
    lp = c;
  }
  return out;
}

// compare_special_version_forms: the first name of the table the form starts with.
int php_special_rank(std::string_view form) {
  static const std::pair<std::string_view, int> table[] = {
      {"dev", 0}, {"alpha", 1}, {"a", 1}, {"beta", 2}, {"b", 2},
      {"RC", 3},  {"rc", 3},    {"#", 4}, {"pl", 5},   {"p", 5}};
  for (const auto& [name, rank] : table)
    if (form.starts_with(name)) return rank;
  return -1;
}

int php_version_compare(std::string_view a, std::string_view b);

// The comparison loop of php_version_compare, over canonical forms: parts between dots, numbers
// by value, words by their special rank, a number as "#N#"; it stops at the first empty part or
// when either side has no further dot, and what is left on the longer side decides.
int php_compare_canonical(const std::string& x, const std::string& y) {
  auto num = [](std::string_view p) {
    std::size_t e = 0;
    while (e < p.size() && ascii_digit(p[e])) ++e;
    return strip_zeros(p.substr(0, e));
  };
  auto digit_first = [](std::string_view p) { return !p.empty() && ascii_digit(p[0]); };
  std::size_t p1 = 0, p2 = 0;
  std::size_t n1 = 0, n2 = 0;  // npos: no dot after the current part
  int c = 0;
  while (p1 < x.size() && p2 < y.size() && n1 != std::string::npos && n2 != std::string::npos) {
    n1 = x.find('.', p1);
    n2 = y.find('.', p2);
    auto a = std::string_view(x).substr(p1, n1 == std::string::npos ? std::string::npos : n1 - p1);
    auto b = std::string_view(y).substr(p2, n2 == std::string::npos ? std::string::npos : n2 - p2);
    bool da = digit_first(a), db = digit_first(b);
    if (da && db)
      c = digits_order(num(a), num(b));
    else if (!da && !db)
      c = sign(php_special_rank(a) - php_special_rank(b));
    else
      c = da ? sign(php_special_rank("#N#") - php_special_rank(b))
             : sign(php_special_rank(a) - php_special_rank("#N#"));
    if (c) return c;
    if (n1 != std::string::npos) p1 = n1 + 1;
    if (n2 != std::string::npos) p2 = n2 + 1;
  }
  if (n1 != std::string::npos) {
    auto rest = std::string_view(x).substr(std::min(p1, x.size()));
    return digit_first(rest) ? 1 : php_version_compare(rest, "#N#");
  }
  if (n2 != std::string::npos) {
    auto rest = std::string_view(y).substr(std::min(p2, y.size()));
    return digit_first(rest) ? -1 : php_version_compare("#N#", rest);
  }
  return 0;
}

int php_version_compare(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return a.empty() == b.empty() ? 0 : a.empty() ? -1 : 1;
  // the "#N#" stand-in for a number is compared as it is, not canonicalised
  return php_compare_canonical(a[0] == '#' ? std::string(a) : php_canonical(a),
                               b[0] == '#' ? std::string(b) : php_canonical(b));
}

}  // namespace

std::optional<int> compare_maven(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty() || a.size() > kMaxAppVersion || b.size() > kMaxAppVersion)
    return std::nullopt;
  auto x = maven_parse(a), y = maven_parse(b);
  return maven_compare(&x, &y);
}

std::optional<int> compare_nuget(std::string_view a, std::string_view b) {
  auto x = parse_nuget(a), y = parse_nuget(b);
  if (!x || !y) return std::nullopt;
  for (std::size_t k = 0; k < 4; ++k)
    if (int c = digits_order(x->numbers[k], y->numbers[k])) return c;
  // a release sorts after its pre-releases; labels compare one by one, fewer first
  if (x->labels.empty() != y->labels.empty()) return x->labels.empty() ? 1 : -1;
  for (std::size_t k = 0; k < std::min(x->labels.size(), y->labels.size()); ++k)
    if (int c = nuget_label_order(x->labels[k], y->labels[k])) return c;
  if (x->labels.size() != y->labels.size()) return x->labels.size() < y->labels.size() ? -1 : 1;
  return 0;
}

std::optional<int> compare_rubygems(std::string_view a, std::string_view b) {
  auto x = parse_gem(a), y = parse_gem(b);
  if (!x || !y) return std::nullopt;
  static const GemSegment zero{true, "0"};
  for (std::size_t k = 0; k < std::max(x->size(), y->size()); ++k) {
    const auto& l = k < x->size() ? (*x)[k] : zero;
    const auto& r = k < y->size() ? (*y)[k] : zero;
    if (l.number == r.number && l.value == r.value) continue;
    if (!l.number && r.number) return -1;
    if (l.number && !r.number) return 1;
    return l.number ? digits_order(l.value, r.value) : sign(l.value.compare(r.value));
  }
  return 0;
}

std::optional<int> compare_composer(std::string_view a, std::string_view b) {
  auto trim_v = [](std::string_view s) {
    while (!s.empty() && (s.front() == 'v' || s.front() == 'V')) s.remove_prefix(1);
    return s;
  };
  a = trim_v(a);
  b = trim_v(b);
  if (a.size() > kMaxAppVersion || b.size() > kMaxAppVersion) return std::nullopt;
  return php_version_compare(a, b);
}

}  // namespace airheal::version
