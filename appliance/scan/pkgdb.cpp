#include "scan/pkgdb.hpp"

#include <cctype>
#include <cstring>
#include <memory>

#include "core/json.hpp"
#include "core/rpm.hpp"

namespace airheal::scan {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <typename F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    f(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string without_leading_slashes(std::string_view p) {
  while (!p.empty() && (p.front() == '/' || p.substr(0, 2) == "./"))
    p.remove_prefix(p.front() == '/' ? 1 : 2);
  return std::string(p);
}

// A Debian package name at the start of S ("libc6" of "libc6:any (>= 2.36)").
std::string deb_name(std::string_view s) {
  s = trim(s);
  std::size_t n = 0;
  while (n < s.size() && (std::isalnum(static_cast<unsigned char>(s[n])) || s[n] == '.' ||
                          s[n] == '+' || s[n] == '-'))
    ++n;
  return std::string(s.substr(0, n));
}

// A dpkg relationship field ("a (>= 1), b | c:any, d [amd64]") as one entry per requirement,
// alternatives joined by '|'.
std::vector<std::string> deb_relations(std::string_view field) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= field.size()) {
    auto comma = field.find(',', start);
    auto group = field.substr(start, comma == std::string_view::npos ? field.npos : comma - start);
    std::string alts;
    std::size_t a = 0;
    while (a <= group.size()) {
      auto bar = group.find('|', a);
      auto name = deb_name(group.substr(a, bar == std::string_view::npos ? group.npos : bar - a));
      if (!name.empty()) alts += (alts.empty() ? "" : "|") + name;
      if (bar == std::string_view::npos) break;
      a = bar + 1;
    }
    if (!alts.empty()) out.push_back(std::move(alts));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// apk's space-separated D:/p: lists: names without their version constraint; conflicts ("!x")
// are not requirements.
std::vector<std::string> apk_names(std::string_view field, bool skip_conflicts) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < field.size()) {
    while (i < field.size() && field[i] == ' ') ++i;
    auto end = field.find(' ', i);
    if (end == std::string_view::npos) end = field.size();
    auto tok = field.substr(i, end - i);
    i = end;
    if (tok.empty() || (skip_conflicts && tok[0] == '!')) continue;
    auto op = tok.find_first_of("<>=~");
    tok = tok.substr(0, op);
    if (!tok.empty()) out.emplace_back(tok);
  }
  return out;
}

}  // namespace

nlohmann::json PackageRecord::to_json() const {
  nlohmann::json j = {{"name", name}, {"version", version}};
  if (!arch.empty()) j["arch"] = arch;
  if (!source.empty()) j["source"] = source;
  if (!source_version.empty()) j["source_version"] = source_version;
  if (!license.empty()) j["license"] = license;
  if (!supplier.empty()) j["supplier"] = supplier;
  if (!depends.empty()) j["depends"] = depends;
  if (!provides.empty()) j["provides"] = provides;
  if (!files.empty()) j["files"] = files;
  return j;
}

PackageRecord PackageRecord::from_json(const nlohmann::json& j) {
  PackageRecord r;
  r.name = j.value("name", "");
  r.version = j.value("version", "");
  r.arch = j.value("arch", "");
  r.source = j.value("source", "");
  r.source_version = j.value("source_version", "");
  r.license = j.value("license", "");
  r.supplier = j.value("supplier", "");
  r.depends = string_list(j, "depends");
  r.provides = string_list(j, "provides");
  r.files = string_list(j, "files");
  return r;
}

std::map<std::string, std::string> parse_os_release(std::string_view text) {
  std::map<std::string, std::string> out;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line[0] == '#') return;
    auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) return;
    auto key = line.substr(0, eq);
    auto v = line.substr(eq + 1);
    std::string value;
    if (!v.empty() && (v[0] == '"' || v[0] == '\'')) {
      char q = v[0];
      for (std::size_t i = 1; i < v.size() && v[i] != q; ++i) {
        if (q == '"' && v[i] == '\\' && i + 1 < v.size()) ++i;
        value += v[i];
      }
    } else {
      value = v;
    }
    out[std::string(key)] = value;
  });
  return out;
}

std::vector<PackageRecord> parse_dpkg_status(std::string_view text, bool require_status) {
  std::vector<PackageRecord> out;
  std::map<std::string, std::string> fields;
  std::string last;
  auto flush = [&] {
    if (fields.empty()) return;
    auto f = [&](const char* k) {
      auto it = fields.find(k);
      return it == fields.end() ? std::string() : it->second;
    };
    auto status = f("Status");
    bool installed = require_status
                         ? status.size() >= 10 && status.substr(status.size() - 10) == " installed"
                         : (status.empty() || status.find(" installed") != std::string::npos);
    if (installed && !f("Package").empty() && !f("Version").empty()) {
      PackageRecord r;
      r.name = f("Package");
      r.version = f("Version");
      r.arch = f("Architecture");
      r.license = f("License");
      r.supplier = f("Maintainer");
      r.depends = deb_relations(f("Pre-Depends"));
      for (auto& d : deb_relations(f("Depends"))) r.depends.push_back(std::move(d));
      for (auto& p : deb_relations(f("Provides")))
        if (p.find('|') == std::string::npos) r.provides.push_back(std::move(p));
      auto src = f("Source");
      // "Source: name (version)" when the source version differs (binNMUs, epochs).
      auto paren = src.find('(');
      if (paren != std::string::npos) {
        auto close = src.find(')', paren);
        r.source_version = std::string(trim(src.substr(
            paren + 1, close == std::string::npos ? std::string::npos : close - paren - 1)));
        src = std::string(trim(src.substr(0, paren)));
      }
      r.source = src.empty() ? r.name : src;
      if (r.source_version.empty()) r.source_version = r.version;
      out.push_back(std::move(r));
    }
    fields.clear();
    last.clear();
  };
  for_each_line(text, [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) {
      flush();
      return;
    }
    if (line[0] == ' ' || line[0] == '\t') return;  // continuation (descriptions, conffiles)
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    last = std::string(line.substr(0, colon));
    fields[last] = std::string(trim(line.substr(colon + 1)));
  });
  flush();
  return out;
}

std::vector<std::string> parse_dpkg_list(std::string_view text) {
  std::vector<std::string> out;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line == "/." || line == "/") return;
    out.push_back(without_leading_slashes(line));
  });
  return out;
}

std::vector<std::string> parse_md5sums(std::string_view text) {
  std::vector<std::string> out;
  for_each_line(text, [&](std::string_view line) {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return;
    auto path = trim(line.substr(sp));
    if (!path.empty() && path[0] == '*') path.remove_prefix(1);  // binary-mode marker
    if (!path.empty()) out.push_back(without_leading_slashes(path));
  });
  return out;
}

std::vector<std::string> parse_debian_copyright(std::string_view text) {
  std::vector<std::string> out;
  auto first_end = text.find('\n');
  auto first = trim(text.substr(0, first_end));
  // DEP-5 begins with its Format: field (Format-Specification: in the 2010 drafts).
  if (!first.starts_with("Format:") && !first.starts_with("Format-Specification:")) return out;
  for_each_line(text, [&](std::string_view line) {
    if (!line.starts_with("License:")) return;
    auto name = std::string(trim(line.substr(8)));
    if (name.empty() || name.size() > 200) return;  // a stand-alone licence text's body follows
    for (const auto& n : out)
      if (n == name) return;
    if (out.size() < 64) out.push_back(std::move(name));
  });
  return out;
}

std::vector<PackageRecord> parse_apk_installed(std::string_view text) {
  std::vector<PackageRecord> out;
  PackageRecord cur;
  std::string dir;
  auto flush = [&] {
    if (!cur.name.empty() && !cur.version.empty()) {
      if (cur.source.empty()) cur.source = cur.name;
      cur.source_version = cur.version;
      out.push_back(std::move(cur));
    }
    cur = {};
    dir.clear();
  };
  for_each_line(text, [&](std::string_view line) {
    if (line.size() < 2 || line[1] != ':') {
      if (trim(line).empty()) flush();
      return;
    }
    auto v = std::string(line.substr(2));
    switch (line[0]) {
      case 'P':
        cur.name = v;
        break;
      case 'V':
        cur.version = v;
        break;
      case 'A':
        cur.arch = v;
        break;
      case 'o':
        cur.source = v;
        break;
      case 'L':
        cur.license = v;
        break;
      case 'm':
        cur.supplier = v;
        break;
      case 'D':
        cur.depends = apk_names(v, true);
        break;
      case 'p':
        cur.provides = apk_names(v, false);
        break;
      case 'F':
        dir = v;
        break;
      case 'R':
        cur.files.push_back(dir.empty() ? v : dir + "/" + v);
        break;
      default:
        break;
    }
  });
  flush();
  return out;
}

namespace {
PackageRecord record_of(const rpm::Header& h) {
  PackageRecord r;
  r.name = h.name;
  r.version = h.evr();
  r.arch = h.arch;
  r.license = h.license;
  r.supplier = h.vendor.empty() ? h.packager : h.vendor;
  for (const auto& d : h.requires_)
    if (!d.rpmlib() && !d.name.empty()) r.depends.push_back(d.name);
  for (const auto& p : h.provides)
    if (!p.name.empty() && p.name != h.name) r.provides.push_back(p.name);
  r.source = h.source_name();  // its EVR is the binary's own
  r.source_version = r.version;
  r.files = h.files;  // what the package owns (installed application packages are left to it)
  return r;
}
}  // namespace

Result<PackageRecord> parse_rpm_header(std::string_view blob) {
  auto h = rpm::parse_header(blob);
  if (!h) return h.error();
  if (h->gpg_pubkey()) return Error{Errc::not_found, "gpg-pubkey pseudo-package"};
  return record_of(*h);
}

Result<std::vector<PackageRecord>> parse_rpmdb_sqlite(std::string_view bytes) {
  auto headers = rpm::read_database_sqlite(bytes);
  if (!headers) return headers.error();
  std::vector<PackageRecord> out;
  for (const auto& h : *headers)
    if (!h.gpg_pubkey()) out.push_back(record_of(h));
  return out;
}

}  // namespace airheal::scan
