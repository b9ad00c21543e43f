#include "collect/apt_index.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

#include "version/version.hpp"

namespace airheal::collect {
namespace {

constexpr std::size_t kMaxReleaseBytes = 16u << 20;
constexpr std::size_t kMaxReleaseEntries = 100000;
constexpr std::size_t kMaxIndexBytes = 512u << 20;  // a decompressed Packages file
constexpr std::size_t kMaxClosure = 10000;

// "Sat, 29 Nov 2026 12:00:00 UTC" (RFC 2822 as Debian's archive writes it).
std::optional<std::int64_t> release_time(std::string_view text) {
  std::string s(text.substr(0, 64));
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!end) return std::nullopt;
  std::string_view zone(end);
  while (!zone.empty() && zone.front() == ' ') zone.remove_prefix(1);
  if (!zone.empty() && zone != "UTC" && zone != "GMT" && zone != "+0000" && zone != "Z")
    return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm));
}

bool safe_relative(const std::string& p) {
  if (p.empty() || p.size() > 1024 || p[0] == '/') return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    auto slash = p.find('/', start);
    auto part = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return std::all_of(p.begin(), p.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '+' ||
           c == '~' || c == '%' || c == ':';
  });
}

bool hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

Result<ReleaseFile> parse_release(std::string_view text) {
  if (text.size() > kMaxReleaseBytes)
    return make_error(Errc::too_large, "the Release file is larger than 16 MiB");
  auto paras = heal::deb::parse_paragraphs(text, kMaxReleaseBytes);
  if (!paras) return make_error(Errc::invalid_argument, "Release: " + paras.error().message);
  if (paras->empty()) return make_error(Errc::invalid_argument, "Release: empty");
  const auto& p = paras->front();
  ReleaseFile r;
  r.suite = std::string(p.field("Suite"));
  r.codename = std::string(p.field("Codename"));
  r.date = std::string(p.field("Date"));
  r.by_hash = p.field("Acquire-By-Hash") == "yes";
  {
    std::string arches = " " + std::string(p.field("Architectures")) + " ";
    r.read_binary_all = arches.find(" all ") != std::string::npos &&
                        p.field("No-Support-for-Architecture-all") != "Packages";
  }
  if (p.has("Valid-Until")) {
    r.valid_until = release_time(p.field("Valid-Until"));
    if (!r.valid_until)
      return make_error(
          Errc::invalid_argument,
          "Release: Valid-Until '" + std::string(p.field("Valid-Until")) + "' is not a date");
  }
  std::string_view lines = p.field("SHA256");
  std::size_t start = 0;
  while (start < lines.size()) {
    auto nl = lines.find('\n', start);
    auto line =
        lines.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? lines.size() : nl + 1;
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      auto j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      if (j > i) parts.emplace_back(line.substr(i, j - i));
      i = j;
    }
    if (parts.empty()) continue;
    if (parts.size() != 3 || !hex64(parts[0]) || parts[1].empty() || parts[1].size() > 15 ||
        parts[1].find_first_not_of("0123456789") != std::string::npos)
      return make_error(Errc::invalid_argument, "Release: malformed SHA256 line '" +
                                                    std::string(line.substr(0, 200)) + "'");
    if (r.sha256.size() >= kMaxReleaseEntries)
      return make_error(Errc::too_large, "Release: more than 100,000 SHA256 entries");
    r.sha256[parts[2]] = {std::stoull(parts[1]), parts[0]};
  }
  if (r.sha256.empty())
    return make_error(Errc::invalid_argument,
                      "Release: no SHA256 entries (an index it does not hash cannot be trusted)");
  return r;
}

Result<std::vector<IndexEntry>> parse_index(std::string_view text) {
  auto paras = heal::deb::parse_paragraphs(text, kMaxIndexBytes);
  if (!paras) return make_error(Errc::invalid_argument, "Packages: " + paras.error().message);
  std::vector<IndexEntry> out;
  out.reserve(paras->size());
  for (const auto& p : *paras) {
    auto pkg = heal::deb::package_from(p);
    if (!pkg) return make_error(Errc::invalid_argument, "Packages: " + pkg.error().message);
    IndexEntry e;
    e.package = std::move(*pkg);
    e.filename = std::string(p.field("Filename"));
    e.sha256 = std::string(p.field("SHA256"));
    auto size = std::string(p.field("Size"));
    if (!safe_relative(e.filename) || e.filename.size() < 5 ||
        e.filename.compare(e.filename.size() - 4, 4, ".deb") != 0)
      return make_error(Errc::invalid_argument, "Packages: " + e.package.id() +
                                                    " has an unusable Filename '" +
                                                    e.filename.substr(0, 200) + "'");
    if (!hex64(e.sha256))
      return make_error(Errc::invalid_argument,
                        "Packages: " + e.package.id() + " has no SHA256 (it cannot be checked)");
    if (size.empty() || size.size() > 15 ||
        size.find_first_not_of("0123456789") != std::string::npos)
      return make_error(Errc::invalid_argument, "Packages: " + e.package.id() + " has no Size");
    e.size = std::stoull(size);
    out.push_back(std::move(e));
  }
  return out;
}

AptSelection select_packages(const std::vector<IndexEntry>& index,
                             const std::vector<AptWant>& wants,
                             const std::vector<std::string>& architectures) {
  AptSelection sel;
  std::multimap<std::string, const IndexEntry*> by_name;
  for (const auto& e : index) by_name.emplace(e.package.name, &e);
  auto arch_ok = [&](const std::string& a, const std::string& wanted) {
    if (a == "all") return true;
    if (!wanted.empty()) return a == wanted;
    return std::find(architectures.begin(), architectures.end(), a) != architectures.end();
  };
  auto newer = [](const IndexEntry* a, const IndexEntry* b) {
    auto c = version::compare_dpkg(a->package.version, b->package.version);
    return c && *c > 0;
  };
  std::set<std::string> chosen_ids;
  auto choose = [&](const IndexEntry* e, const std::string& why) {
    if (!chosen_ids.insert(e->package.id() + " " + e->package.architecture).second) return false;
    sel.chosen.push_back({*e, why});
    return true;
  };
  for (const auto& w : wants) {
    const IndexEntry* best = nullptr;
    std::string newest_seen;
    auto [lo, hi] = by_name.equal_range(w.name);
    for (auto it = lo; it != hi; ++it) {
      const auto* e = it->second;
      if (!arch_ok(e->package.architecture, w.architecture)) continue;
      if (!w.source.empty() && e->package.source != w.source) continue;
      if (newest_seen.empty() ||
          version::compare_dpkg(e->package.version, newest_seen).value_or(0) > 0)
        newest_seen = e->package.version;
      if (!w.exact_version.empty() && e->package.version != w.exact_version) continue;
      if (!w.min_source_version.empty()) {
        auto c = version::compare_dpkg(e->package.source_version, w.min_source_version);
        if (!c || *c < 0) continue;
      }
      if (!best || newer(e, best)) best = e;
    }
    if (best) {
      choose(best, w.why);
      continue;
    }
    std::string what = w.name + (w.architecture.empty() ? "" : ":" + w.architecture);
    if (newest_seen.empty())
      sel.missing.push_back(what + ": not in this repository" +
                            (w.source.empty() ? "" : " (as a binary of " + w.source + ")"));
    else if (!w.exact_version.empty())
      sel.missing.push_back(what + "=" + w.exact_version + ": the repository has " + newest_seen +
                            " but not this version");
    else
      sel.missing.push_back(what + ": the newest build here is " + newest_seen + ", older than " +
                            w.source + " " + w.min_source_version + " that fixes it");
  }
  // The closure: versioned dependencies this repository satisfies and nothing chosen does.
  for (std::size_t i = 0; i < sel.chosen.size() && sel.chosen.size() < kMaxClosure; ++i) {
    const auto pkg = sel.chosen[i].entry.package;
    for (const auto* field : {&pkg.pre_depends, &pkg.depends}) {
      for (const auto& group : *field) {
        bool satisfied = false, versioned = false;
        for (const auto& r : group) {
          versioned = versioned || r.op != heal::deb::Op::none;
          for (const auto& c : sel.chosen)
            satisfied = satisfied || heal::deb::satisfies(r, c.entry.package);
        }
        if (satisfied || !versioned) continue;
        for (const auto& r : group) {
          if (r.op == heal::deb::Op::none) continue;
          const IndexEntry* best = nullptr;
          auto [lo, hi] = by_name.equal_range(r.name);
          for (auto it = lo; it != hi; ++it)
            if (arch_ok(it->second->package.architecture,
                        pkg.architecture == "all" ? "" : pkg.architecture) &&
                heal::deb::satisfies(r, it->second->package) && (!best || newer(it->second, best)))
              best = it->second;
          if (best) {
            choose(best, pkg.name + " " + pkg.version + " depends on " + heal::deb::text(group));
            break;
          }
        }
      }
    }
  }
  return sel;
}

}  // namespace airheal::collect
