// The pure half of rpm_repo.hpp: repomd.xml and primary.xml read, and builds chosen (fuzzed).
#include <algorithm>
#include <cctype>

#include "collect/rpm_repo.hpp"
#include "collect/xml.hpp"
#include "version/version.hpp"

namespace airheal::collect {

namespace {

constexpr std::size_t kMaxRepomdBytes = 4u << 20;
constexpr std::size_t kMaxPackages = 500000;

bool safe_location(const std::string& p) {
  if (p.empty() || p.size() > 1024 || p[0] == '/' || p.find("..") != std::string::npos ||
      p.find("://") != std::string::npos)
    return false;
  return std::all_of(p.begin(), p.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '+' ||
           c == '~' || c == '^' || c == '%';
  });
}

bool hex_of(const std::string& s, std::size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool checksum_ok(const std::string& type, const std::string& value) {
  return (type == "sha256" && hex_of(value, 64)) || (type == "sha512" && hex_of(value, 128));
}

}  // namespace

std::string RpmEntry::evr() const {
  return (epoch.empty() || epoch == "0" ? "" : epoch + ":") + version + "-" + release;
}

std::string RpmEntry::source_name() const {
  // name-version-release.src.rpm: the name is what is left after the last two '-'.
  auto s = sourcerpm;
  if (s.size() > 8 && s.ends_with(".src.rpm")) s.resize(s.size() - 8);
  for (int i = 0; i < 2; ++i) {
    auto dash = s.rfind('-');
    if (dash == std::string::npos) return name;
    s.resize(dash);
  }
  return s.empty() ? name : s;
}

Result<RepomdPrimary> parse_repomd(std::string_view xml) {
  if (xml.size() > kMaxRepomdBytes)
    return make_error(Errc::too_large, "repomd.xml is larger than 4 MiB");
  RepomdPrimary out;
  bool found = false;
  auto st = walk_xml(xml, "data", 1, [&](const XmlElement& d) -> Status {
    if (d.attribute("type") != "primary") return {};
    const auto* c = d.child("checksum");
    const auto* l = d.child("location");
    if (!c || !l)
      return make_error(Errc::invalid_argument, "repomd.xml: primary without checksum or location");
    out.checksum_type = c->attribute("type");
    out.checksum = c->text;
    out.location = l->attribute("href");
    auto size = d.child_text("size");
    if (!size.empty() && size.size() < 16 &&
        size.find_first_not_of("0123456789") == std::string::npos)
      out.size = std::stoull(size);
    found = true;
    return {};
  });
  if (!st) return make_error(st.error().code, "repomd.xml: " + st.error().message);
  if (!found) return make_error(Errc::invalid_argument, "repomd.xml names no primary metadata");
  if (!checksum_ok(out.checksum_type, out.checksum))
    return make_error(Errc::invalid_argument, "repomd.xml: the primary metadata's checksum is '" +
                                                  out.checksum_type.substr(0, 20) +
                                                  "', not a sha256 or sha512 (an sha1 or md5 "
                                                  "checksum is not accepted)");
  if (!safe_location(out.location))
    return make_error(Errc::invalid_argument, "repomd.xml: unusable primary location '" +
                                                  out.location.substr(0, 100) + "'");
  return out;
}

Result<std::vector<RpmEntry>> parse_primary(std::string_view xml) {
  std::vector<RpmEntry> out;
  auto st = walk_xml(xml, "package", 1, [&](const XmlElement& p) -> Status {
    if (p.attribute("type") != "rpm") return {};
    if (out.size() >= kMaxPackages)
      return make_error(Errc::too_large, "more than 500,000 packages");
    RpmEntry e;
    e.name = p.child_text("name");
    e.arch = p.child_text("arch");
    if (const auto* v = p.child("version")) {
      e.epoch = v->attribute("epoch");
      e.version = v->attribute("ver");
      e.release = v->attribute("rel");
    }
    if (const auto* c = p.child("checksum")) {
      e.checksum_type = c->attribute("type");
      e.checksum = c->text;
    }
    if (const auto* l = p.child("location")) e.location = l->attribute("href");
    if (const auto* s = p.child("size")) {
      auto v = s->attribute("package");
      if (!v.empty() && v.size() < 16 && v.find_first_not_of("0123456789") == std::string::npos)
        e.size = std::stoull(v);
    }
    if (const auto* f = p.child("format")) e.sourcerpm = f->child_text("rpm:sourcerpm");
    auto id = e.name + " " + e.evr() + " " + e.arch;
    if (e.name.empty() || e.version.empty() || e.release.empty() || e.arch.empty())
      return make_error(Errc::invalid_argument,
                        "primary.xml: a package without name, version, "
                        "release or arch");
    if (!checksum_ok(e.checksum_type, e.checksum))
      return make_error(Errc::invalid_argument,
                        "primary.xml: " + id + " has no sha256 or sha512 checksum");
    if (!safe_location(e.location) || !e.location.ends_with(".rpm"))
      return make_error(
          Errc::invalid_argument,
          "primary.xml: " + id + " has an unusable location '" + e.location.substr(0, 100) + "'");
    out.push_back(std::move(e));
    return {};
  });
  if (!st) return make_error(st.error().code, "primary.xml: " + st.error().message);
  return out;
}

std::vector<RpmChosen> select_rpm(const std::vector<RpmEntry>& index,
                                  const std::vector<RpmWant>& wants,
                                  const std::vector<std::string>& architectures,
                                  std::vector<std::string>& missing) {
  std::vector<RpmChosen> out;
  for (const auto& w : wants) {
    const RpmEntry* best = nullptr;
    std::string newest;
    for (const auto& e : index) {
      if (e.name != w.name || e.arch == "src") continue;
      if (!w.arch.empty() ? (e.arch != w.arch && e.arch != "noarch")
                          : std::find(architectures.begin(), architectures.end(), e.arch) ==
                                architectures.end())
        continue;
      if (!w.source.empty() && e.source_name() != w.source) continue;
      if (newest.empty() || version::compare_rpm(e.evr(), newest) > 0) newest = e.evr();
      if (!w.min_evr.empty() && version::compare_rpm(e.evr(), w.min_evr) < 0) continue;
      if (!best || version::compare_rpm(e.evr(), best->evr()) > 0) best = &e;
    }
    if (best) {
      out.push_back({*best, w.why});
      continue;
    }
    auto what = w.name + (w.arch.empty() ? "" : "." + w.arch);
    missing.push_back(what + (newest.empty() ? ": not in this repository"
                                             : ": the newest build here is " + newest +
                                                   ", older than " + w.min_evr + " that fixes it"));
  }
  return out;
}

}  // namespace airheal::collect
