#include "scan/java.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>

namespace airheal::scan {

nlohmann::json JavaPackage::to_json() const {
  return {{"group", group},
          {"artifact", artifact},
          {"version", version},
          {"evidence", evidence},
          {"inner", inner}};
}

JavaPackage JavaPackage::from_json(const nlohmann::json& j) {
  JavaPackage p;
  p.group = j.value("group", "");
  p.artifact = j.value("artifact", "");
  p.version = j.value("version", "");
  p.evidence = j.value("evidence", "");
  p.inner = j.value("inner", "");
  return p;
}

std::string JavaPackage::name() const { return group.empty() ? artifact : group + ":" + artifact; }

bool java_archive_path(std::string_view path) {
  if (path.size() < 5) return false;
  std::string ext(path.substr(path.size() - 4));
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".jar" || ext == ".war" || ext == ".ear";
}

namespace {

std::string trim_ws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  return out;
}

// Maven coordinates and versions are short and printable; anything else is not used.
bool plausible(std::string_view s, bool allow_space = false) {
  if (s.empty() || s.size() > 200) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || (!allow_space && c == ' ') || c == '/' || c == '\\') return false;
  return true;
}

std::string find_value(const std::vector<std::pair<std::string, std::string>>& kv,
                       std::string_view key) {
  for (const auto& [k, v] : kv)
    if (k == key) return v;
  return {};
}

// "guava-31.1-jre.jar" -> {"guava", "31.1-jre"}: the version starts at the first "-" followed by
// a digit.
std::pair<std::string, std::string> split_file_name(std::string_view file_name) {
  auto slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  if (file_name.size() > 4) file_name.remove_suffix(4);
  for (std::size_t i = 0; i + 1 < file_name.size(); ++i)
    if (file_name[i] == '-' && file_name[i + 1] >= '0' && file_name[i + 1] <= '9')
      return {std::string(file_name.substr(0, i)), std::string(file_name.substr(i + 1))};
  return {std::string(file_name), {}};
}

using Archive = std::unique_ptr<struct archive, decltype(&archive_read_free)>;

struct Budget {
  std::uint64_t inflated = 0;
};

// The bytes of the current entry, or false past MAX (or the budget) or on a read error.
bool read_entry(struct archive* a, std::uint64_t max, Budget& budget, const JavaLimits& limits,
                std::string& out) {
  const void* buf;
  size_t len;
  la_int64_t off;
  int rc;
  while ((rc = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
    budget.inflated += len;
    if (out.size() + len > max || budget.inflated > limits.max_inflated_bytes) return false;
    out.append(static_cast<const char*>(buf), len);
  }
  return rc == ARCHIVE_EOF;
}

void read_archive(const std::string& bytes, std::string_view file_name, const std::string& inner,
                  std::size_t depth, Budget& budget, const JavaLimits& limits,
                  std::vector<JavaPackage>& out, std::vector<std::string>& problems) {
  auto where = [&] { return inner.empty() ? std::string() : " (" + inner + ")"; };
  Archive a(archive_read_new(), &archive_read_free);
  archive_read_support_format_zip_seekable(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    problems.push_back("not a readable Java archive" + where() + ": " +
                       (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?"));
    return;
  }
  std::vector<JavaPackage> poms;
  std::vector<std::pair<std::string, std::string>> manifest;
  std::size_t entries = 0;
  struct archive_entry* e = nullptr;
  while (true) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      problems.push_back("Java archive" + where() + " is corrupt: " +
                         (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?"));
      break;
    }
    if (++entries > limits.max_entries) {
      problems.push_back("Java archive" + where() + " has more than " +
                         std::to_string(limits.max_entries) + " entries; the rest not read");
      break;
    }
    const char* raw = archive_entry_pathname(e);
    if (!raw || archive_entry_filetype(e) != AE_IFREG) continue;
    std::string path = raw;
    if (path.starts_with("META-INF/maven/") && path.ends_with("/pom.properties")) {
      std::string text;
      if (!read_entry(a.get(), limits.max_metadata_bytes, budget, limits, text)) {
        problems.push_back(path + where() + " is larger than the limit or unreadable; not read");
        continue;
      }
      auto kv = parse_properties(text);
      JavaPackage p{find_value(kv, "groupId"), find_value(kv, "artifactId"),
                    find_value(kv, "version"), "pom.properties", inner};
      if (plausible(p.group) && plausible(p.artifact) && plausible(p.version))
        poms.push_back(std::move(p));
      else
        problems.push_back(path + where() + " has no plausible groupId, artifactId and version");
    } else if (path == "META-INF/MANIFEST.MF") {
      std::string text;
      if (read_entry(a.get(), limits.max_metadata_bytes, budget, limits, text))
        manifest = parse_manifest(text);
      else
        problems.push_back(path + where() + " is larger than the limit or unreadable; not read");
    } else if (java_archive_path(path)) {
      if (depth + 1 > limits.max_depth) {
        problems.push_back(path + where() + ": archives nested deeper than " +
                           std::to_string(limits.max_depth) + " are not read");
        continue;
      }
      std::string nested;
      if (!read_entry(a.get(), limits.max_nested_bytes, budget, limits, nested)) {
        problems.push_back(path + where() +
                           ": nested archive over the size limits or unreadable; not read");
        if (budget.inflated > limits.max_inflated_bytes) break;
        continue;
      }
      read_archive(nested, path, inner.empty() ? path : inner + "!/" + path, depth + 1, budget,
                   limits, out, problems);
    }
  }
  if (!poms.empty()) {
    out.insert(out.end(), poms.begin(), poms.end());
    return;
  }
  auto [file_artifact, file_version] = split_file_name(file_name);
  std::string version = find_value(manifest, "Implementation-Version");
  if (!plausible(version)) version = find_value(manifest, "Bundle-Version");
  if (plausible(version)) {
    JavaPackage p;
    p.version = version;
    p.evidence = "manifest";
    p.inner = inner;
    auto title = find_value(manifest, "Implementation-Title");
    auto symbolic = find_value(manifest, "Bundle-SymbolicName");
    symbolic = trim_ws(symbolic.substr(0, symbolic.find(';')));
    // Maven's archiver writes the groupId as Implementation-Vendor-Id and the artifactId as the
    // title when the project has no name; a title with spaces is a project name, and then the
    // vendor id is not trusted as the group either.
    auto vendor = find_value(manifest, "Implementation-Vendor-Id");
    if (plausible(title) && plausible(vendor)) p.group = vendor;
    p.artifact = plausible(title) ? title : !file_artifact.empty() ? file_artifact : symbolic;
    if (plausible(p.artifact)) out.push_back(std::move(p));
    return;
  }
  if (plausible(file_artifact) && plausible(file_version))
    out.push_back(JavaPackage{"", file_artifact, file_version, "filename", inner});
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_properties(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  auto lines = lines_of(text.substr(0, 1u << 20));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string line = trim_ws(lines[i]);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    // a line ending in an odd number of backslashes continues on the next
    while (!line.empty() && line.back() == '\\' && i + 1 < lines.size()) {
      line.pop_back();
      line += trim_ws(lines[++i]);
    }
    std::size_t sep = 0;
    while (sep < line.size() && line[sep] != '=' && line[sep] != ':' && line[sep] != ' ') {
      if (line[sep] == '\\') ++sep;
      ++sep;
    }
    std::string key = line.substr(0, std::min(sep, line.size()));
    // the separator: blanks, then at most one '=' or ':', then blanks
    std::size_t at = std::min(sep, line.size());
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    if (at < line.size() && (line[at] == '=' || line[at] == ':')) ++at;
    std::string value = trim_ws(std::string_view(line).substr(at));
    auto unescape = [](const std::string& s) {
      std::string r;
      for (std::size_t k = 0; k < s.size(); ++k) {
        if (s[k] == '\\' && k + 1 < s.size()) {
          char n = s[++k];
          r += n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n;
        } else {
          r += s[k];
        }
      }
      return r;
    };
    out.emplace_back(unescape(key), unescape(value));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_manifest(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto line : lines_of(text.substr(0, 1u << 20))) {
    if (line.empty()) break;  // the main section ends; per-entry sections follow
    if (line[0] == ' ') {
      if (!out.empty()) out.back().second += std::string(line.substr(1));
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out.emplace_back(std::string(line.substr(0, colon)), trim_ws(line.substr(colon + 1)));
  }
  return out;
}

std::vector<JavaPackage> parse_java_archive(const std::string& bytes, std::string_view file_name,
                                            std::vector<std::string>& problems,
                                            const JavaLimits& limits) {
  std::vector<JavaPackage> out;
  Budget budget;
  read_archive(bytes, file_name, "", 0, budget, limits, out, problems);
  return out;
}

}  // namespace airheal::scan
