#include "scan/app_manifest.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "core/json.hpp"

namespace airheal::scan {
namespace {

constexpr std::size_t kMaxText = 16u << 20;

bool plausible_name(std::string_view s) {
  if (s.empty() || s.size() > 214) return false;
  for (unsigned char c : s)
    if (c <= ' ' || c == 0x7f || c == '\\' || c == '"' || c == '\'') return false;
  return true;
}

bool plausible_version(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  for (unsigned char c : s)
    if (c <= ' ' || c == 0x7f) return false;
  return true;
}

void add(std::vector<LockedDependency>& out, std::string name, std::string version) {
  if (plausible_name(name) && plausible_version(version))
    out.push_back(LockedDependency{std::move(name), std::move(version), false});
}

std::string base_name(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// The first string literal after "NAME =" on a gemspec line ("s.name = "x".freeze").
std::string ruby_assignment(std::string_view text, std::string_view attribute) {
  std::size_t at = 0;
  while ((at = text.find(attribute, at)) != std::string_view::npos) {
    auto after = at + attribute.size();
    at = after;
    auto eq = text.find_first_not_of(" \t", after);
    if (eq == std::string_view::npos || text[eq] != '=' ||
        (eq + 1 < text.size() && (text[eq + 1] == '=' || text[eq + 1] == '~')))
      continue;
    auto eol = text.find('\n', eq);
    auto rhs =
        text.substr(eq + 1, eol == std::string_view::npos ? std::string_view::npos : eol - eq - 1);
    auto q = rhs.find_first_of("\"'");
    if (q == std::string_view::npos) continue;
    auto end = rhs.find(rhs[q], q + 1);
    if (end == std::string_view::npos) continue;
    return std::string(rhs.substr(q + 1, end - q - 1));
  }
  return {};
}

// The text of a simple XML element (<version>1.2</version>), first occurrence.
std::string xml_element(std::string_view xml, std::string_view tag) {
  auto open = std::string("<") + std::string(tag) + ">";
  auto close = std::string("</") + std::string(tag) + ">";
  auto a = xml.find(open);
  if (a == std::string_view::npos) return {};
  auto b = xml.find(close, a);
  if (b == std::string_view::npos) return {};
  auto v = xml.substr(a + open.size(), b - a - open.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\n' || v.front() == '\r'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\n' || v.back() == '\r'))
    v.remove_suffix(1);
  return std::string(v);
}

}  // namespace

std::string app_manifest_kind(const std::string& path) {
  auto base = base_name(path);
  auto dir = path.size() > base.size() ? path.substr(0, path.size() - base.size() - 1) : "";
  if (base.ends_with(".gemspec") && base_name(dir) == "specifications") return "gemspec";
  if (base.ends_with(".deps.json") && base.size() > 10) return "dotnet-deps";
  if (base.ends_with(".nupkg") && base.size() > 6) return "nupkg";
  if (path.ends_with("vendor/composer/installed.json") &&
      (path.size() == 30 || path[path.size() - 31] == '/'))
    return "composer-installed";
  if (base == "Cargo.lock") {
    for (std::string_view skip : {"/.cargo/", "/vendor/", "/registry/", "/target/"})
      if (("/" + path).find(skip) != std::string::npos) return {};
    if (path.starts_with("usr/share/cargo/") || path.starts_with("usr/share/doc/")) return {};
    return "cargo-lock";
  }
  return {};
}

std::vector<LockedDependency> parse_gemspec(const std::string& text, std::string_view file_name,
                                            std::vector<std::string>& problems) {
  std::vector<LockedDependency> out;
  if (text.size() > kMaxText) {
    problems.push_back("gemspec larger than 16 MiB; not read");
    return out;
  }
  auto name = ruby_assignment(text, ".name");
  auto version = ruby_assignment(text, ".version");
  if (name.empty() || version.empty()) {
    // NAME-VERSION.gemspec: the version starts after the last "-" followed by a digit
    std::string f(file_name);
    if (f.ends_with(".gemspec")) f.resize(f.size() - 8);
    for (std::size_t i = f.size(); i-- > 1;)
      if (f[i - 1] == '-' && f[i] >= '0' && f[i] <= '9') {
        if (name.empty()) name = f.substr(0, i - 1);
        if (version.empty()) version = f.substr(i);
        break;
      }
  }
  add(out, name, version);
  if (out.empty()) problems.push_back("gemspec without a plausible name and version; not read");
  return out;
}

std::vector<LockedDependency> parse_deps_json(const std::string& text,
                                              std::vector<std::string>& problems) {
  std::vector<LockedDependency> out;
  auto parsed = parse_json(text, JsonLimits{kMaxText, 64, true}, "deps.json");
  if (!parsed) {
    problems.push_back(parsed.error().message + "; not read");
    return out;
  }
  const auto& j = *parsed;
  if (!j.is_object() || !j.contains("libraries") || !j["libraries"].is_object()) return out;
  for (const auto& [key, lib] : j["libraries"].items()) {
    if (!lib.is_object() || lib.value("type", "") != "package") continue;
    auto slash = key.find('/');
    if (slash == std::string::npos) continue;
    add(out, key.substr(0, slash), key.substr(slash + 1));
  }
  return out;
}

std::vector<LockedDependency> parse_nupkg(const std::string& bytes,
                                          std::vector<std::string>& problems) {
  std::vector<LockedDependency> out;
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(),
                                                                  &archive_read_free);
  archive_read_support_format_zip_seekable(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    problems.push_back("not a readable .nupkg (zip)");
    return out;
  }
  struct archive_entry* e = nullptr;
  std::size_t entries = 0;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    if (++entries > 100000) break;
    const char* raw = archive_entry_pathname(e);
    std::string p = raw ? raw : "";
    if (!p.ends_with(".nuspec") || p.find('/') != std::string::npos) continue;
    if (archive_entry_size(e) > static_cast<la_int64_t>(1u << 20)) break;
    std::string xml;
    const void* buf;
    size_t len;
    la_int64_t off;
    while (archive_read_data_block(a.get(), &buf, &len, &off) == ARCHIVE_OK &&
           xml.size() < (1u << 20))
      xml.append(static_cast<const char*>(buf), len);
    add(out, xml_element(xml, "id"), xml_element(xml, "version"));
    break;
  }
  if (out.empty()) problems.push_back(".nupkg without a .nuspec naming its id and version");
  return out;
}

std::vector<LockedDependency> parse_composer_installed(const std::string& text,
                                                       std::vector<std::string>& problems) {
  std::vector<LockedDependency> out;
  auto parsed = parse_json(text, JsonLimits{kMaxText, 64, true}, "installed.json");
  if (!parsed) {
    problems.push_back(parsed.error().message + "; not read");
    return out;
  }
  const auto& j = *parsed;
  const nlohmann::json* list = j.is_array() ? &j : nullptr;
  if (j.is_object() && j.contains("packages") && j["packages"].is_array()) list = &j["packages"];
  if (!list) return out;
  for (const auto& p : *list)
    if (p.is_object() && p.contains("name") && p["name"].is_string() && p.contains("version") &&
        p["version"].is_string())
      add(out, p["name"].get<std::string>(), p["version"].get<std::string>());
  return out;
}

std::vector<LockedDependency> parse_cargo_lock(const std::string& text,
                                               std::vector<std::string>& problems) {
  std::vector<LockedDependency> out;
  if (text.size() > kMaxText) {
    problems.push_back("Cargo.lock larger than 16 MiB; not read");
    return out;
  }
  std::string name, version, source;
  bool in_package = false;
  auto flush = [&] {
    if (in_package && source.starts_with("registry+")) add(out, name, version);
    name.clear();
    version.clear();
    source.clear();
  };
  std::size_t at = 0;
  while (at <= text.size()) {
    auto nl = text.find('\n', at);
    auto line =
        std::string_view(text).substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text.size() + 1 : nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.starts_with("[")) {
      flush();
      in_package = line == "[[package]]";
      continue;
    }
    auto eq = line.find(" = ");
    if (!in_package || eq == std::string_view::npos) continue;
    auto key = line.substr(0, eq);
    auto value = line.substr(eq + 3);
    if (value.size() < 2 || value.front() != '"' || value.back() != '"') continue;
    value = value.substr(1, value.size() - 2);
    if (key == "name") name = value;
    if (key == "version") version = value;
    if (key == "source") source = value;
  }
  flush();
  return out;
}

}  // namespace airheal::scan
