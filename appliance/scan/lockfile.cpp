#include "scan/lockfile.hpp"

#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "core/json.hpp"

namespace airheal::scan {
namespace {

// One go.mod line split into tokens (quoted strings unquoted) and its trailing comment.
struct GoLine {
  std::vector<std::string> tokens;
  std::string comment;
  bool bad = false;
};

GoLine split_go_line(const std::string& line) {
  GoLine out;
  std::size_t i = 0;
  while (i < line.size()) {
    char ch = line[i];
    if (ch == ' ' || ch == '\t' || ch == '\r') {
      ++i;
    } else if (ch == '/' && i + 1 < line.size() && line[i + 1] == '/') {
      out.comment = line.substr(i + 2);
      break;
    } else if (ch == '"' || ch == '`') {
      auto end = line.find(ch, i + 1);
      if (end == std::string::npos) {
        out.bad = true;
        break;
      }
      out.tokens.push_back(line.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (ch == '(' || ch == ')') {
      out.tokens.emplace_back(1, ch);
      ++i;
    } else {
      auto j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' &&
             line[j] != '(' && line[j] != ')' &&
             !(line[j] == '/' && j + 1 < line.size() && line[j + 1] == '/'))
        ++j;
      out.tokens.push_back(line.substr(i, j - i));
      i = j;
    }
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

bool plausible_module(const std::string& m) {
  if (m.empty() || m.size() > 500) return false;
  for (unsigned char ch : m)
    if (ch <= ' ' || ch == 0x7f || ch == '\\') return false;
  return true;
}

bool plausible_version(const std::string& v) {
  return v.size() >= 2 && v.size() <= 200 && v[0] == 'v';
}

bool is_local_path(const std::string& p) {
  return p.rfind("./", 0) == 0 || p.rfind("../", 0) == 0 || p.rfind("/", 0) == 0;
}

// Visits each directive of a go.mod: verb ("require", "replace", ...), its arguments, the
// comment, and the line index, with blocks ("require ( ... )") flattened.
template <typename F>
bool each_directive(const std::vector<std::string>& lines, F&& f) {
  std::string block;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    auto l = split_go_line(lines[n]);
    if (l.bad) return false;
    if (l.tokens.empty()) continue;
    if (!block.empty()) {
      if (l.tokens.size() == 1 && l.tokens[0] == ")") {
        block.clear();
        continue;
      }
      f(block, l.tokens, l.comment, n);
      continue;
    }
    if (l.tokens.size() == 2 && l.tokens[1] == "(") {
      block = l.tokens[0];
      continue;
    }
    std::vector<std::string> args(l.tokens.begin() + 1, l.tokens.end());
    f(l.tokens[0], args, l.comment, n);
  }
  return true;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) {
      if (pos < text.size()) lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

}  // namespace

nlohmann::json LockedDependency::to_json() const {
  nlohmann::json j = {{"name", name}, {"version", version}};
  if (indirect) j["indirect"] = true;
  return j;
}

std::string lockfile_kind(const std::string& path) {
  auto slash = path.rfind('/');
  auto base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base != "go.mod" && base != "package-lock.json") return {};
  auto wrapped = "/" + path;
  for (std::string_view skip :
       {"/node_modules/", "/vendor/", "/pkg/mod/", "/testdata/", "/.cache/"})
    if (wrapped.find(skip) != std::string::npos) return {};
  for (std::string_view toolchain :
       {"usr/lib/go", "usr/local/go/", "usr/share/go", "usr/share/gocode/", "usr/share/nodejs/",
        "usr/lib/node_modules/", "usr/share/doc/"})
    if (path.compare(0, toolchain.size(), toolchain) == 0) return {};
  return base == "go.mod" ? "go-mod" : "npm-lock";
}

bool node_package_path(const std::string& path) {
  if (!path.ends_with("/package.json")) return false;
  auto dir = std::string_view(path).substr(0, path.size() - 13);  // .../node_modules/[@s/]name
  auto slash = dir.rfind('/');
  if (slash == std::string_view::npos) return false;
  auto name = dir.substr(slash + 1);
  auto parent = dir.substr(0, slash);
  if (name.empty() || name[0] == '.' || name[0] == '@') return false;
  auto ps = parent.rfind('/');
  auto last = ps == std::string_view::npos ? parent : parent.substr(ps + 1);
  if (last == "node_modules") return true;
  if (last.size() < 2 || last[0] != '@' || ps == std::string_view::npos) return false;
  auto above = parent.substr(0, ps);  // .../node_modules
  auto as = above.rfind('/');
  return (as == std::string_view::npos ? above : above.substr(as + 1)) == "node_modules";
}

std::optional<LockedDependency> parse_node_package(const std::string& text,
                                                   std::vector<std::string>& problems) {
  auto parsed = parse_json(text, JsonLimits{1u << 20, 64, true}, "package.json");
  if (!parsed) {
    problems.push_back(parsed.error().message + "; not read");
    return std::nullopt;
  }
  const auto& j = *parsed;
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("version") ||
      !j["version"].is_string()) {
    problems.push_back("package.json without a name and version; not read");
    return std::nullopt;
  }
  auto name = j["name"].get<std::string>(), version = j["version"].get<std::string>();
  // npm's rules: at most 214 characters, no spaces or control characters; versions are semver.
  bool ok = !name.empty() && name.size() <= 214 && !version.empty() && version.size() <= 200;
  for (unsigned char c : name + version)
    if (c <= ' ' || c == 0x7f || c == '\\' || c == ':') ok = false;
  if (!ok) {
    problems.push_back("package.json has an implausible name or version; not read");
    return std::nullopt;
  }
  return LockedDependency{name, version, false};
}

bool python_package_path(const std::string& path) {
  auto in_packages = [](std::string_view dir) {
    auto slash = dir.rfind('/');
    auto last = slash == std::string_view::npos ? dir : dir.substr(slash + 1);
    return last == "site-packages" || last == "dist-packages";
  };
  std::string_view p = path;
  auto slash = p.rfind('/');
  if (slash == std::string_view::npos) return false;
  auto leaf = p.substr(slash + 1), dir = p.substr(0, slash);
  if (leaf.size() > 9 && leaf.ends_with(".egg-info")) return in_packages(dir);  // file form
  auto ds = dir.rfind('/');
  if (ds == std::string_view::npos) return false;
  auto meta_dir = dir.substr(ds + 1);
  if (!in_packages(dir.substr(0, ds))) return false;
  return (leaf == "METADATA" && meta_dir.size() > 10 && meta_dir.ends_with(".dist-info")) ||
         (leaf == "PKG-INFO" && meta_dir.size() > 9 && meta_dir.ends_with(".egg-info"));
}

bool python_record_path(const std::string& path) {
  if (!path.ends_with(".dist-info/RECORD")) return false;
  auto dir = path.substr(0, path.size() - 7);  // SITE/NAME.dist-info
  auto slash = dir.rfind('/');
  if (slash == std::string::npos) return false;
  auto site = dir.substr(0, slash);
  auto ss = site.rfind('/');
  auto last = ss == std::string::npos ? site : site.substr(ss + 1);
  return last == "site-packages" || last == "dist-packages";
}

std::vector<std::vector<std::string>> parse_record_rows(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  if (text.size() > (16u << 20)) return rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i <= text.size() && rows.size() < 200000; ++i) {
    char c = i < text.size() ? text[i] : '\n';
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      if (!field.empty() && field.back() == '\r') field.pop_back();
      row.push_back(field);
      field.clear();
      if (!(row.size() == 1 && row[0].empty())) rows.push_back(row);
      row.clear();
    } else {
      field += c;
    }
  }
  return rows;
}

std::optional<LockedDependency> parse_python_metadata(const std::string& text,
                                                      std::vector<std::string>& problems) {
  if (text.size() > (1u << 20)) {
    problems.push_back("metadata larger than 1 MiB; not read");
    return std::nullopt;
  }
  std::string name, version;
  std::size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line =
        std::string_view(text).substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the headers end; the description follows
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto key = line.substr(0, colon);
    auto value = trim(std::string(line.substr(colon + 1)));
    if (key == "Name" && name.empty()) name = value;
    if (key == "Version" && version.empty()) version = value;
  }
  bool ok = !name.empty() && name.size() <= 200 && !version.empty() && version.size() <= 200;
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') ok = false;
  for (unsigned char c : version)
    if (c <= ' ' || c == 0x7f) ok = false;
  if (!ok) {
    problems.push_back("Python metadata without a plausible Name and Version; not read");
    return std::nullopt;
  }
  return LockedDependency{name, version, false};
}

std::vector<LockedDependency> parse_go_mod(const std::string& text,
                                           std::vector<std::string>& problems) {
  auto lines = split_lines(text);
  std::vector<LockedDependency> required;
  struct Replacement {
    std::string from_version, to, to_version;
  };
  std::multimap<std::string, Replacement> replaces;
  bool ok = each_directive(lines, [&](const std::string& verb, const std::vector<std::string>& a,
                                      const std::string& comment, std::size_t) {
    if (verb == "require") {
      if (a.size() != 2 || !plausible_module(a[0]) || !plausible_version(a[1])) return;
      required.push_back(
          {a[0], a[1], trim(comment) == "indirect" || trim(comment).rfind("indirect;", 0) == 0});
    } else if (verb == "replace") {
      // old [v] => new [v]
      std::size_t arrow = 0;
      while (arrow < a.size() && a[arrow] != "=>") ++arrow;
      if (arrow == 0 || arrow > 2 || arrow + 1 >= a.size() || a.size() - arrow - 1 > 2) return;
      Replacement r;
      if (arrow == 2) r.from_version = a[1];
      r.to = a[arrow + 1];
      if (arrow + 2 < a.size()) r.to_version = a[arrow + 2];
      replaces.emplace(a[0], r);
    }
  });
  if (!ok) {
    problems.push_back("go.mod has an unterminated quoted string; not read");
    return {};
  }
  std::vector<LockedDependency> out;
  for (auto& d : required) {
    const Replacement* rep = nullptr;
    auto [lo, hi] = replaces.equal_range(d.name);
    for (auto it = lo; it != hi; ++it)
      if (it->second.from_version.empty() || it->second.from_version == d.version)
        if (!rep || !it->second.from_version.empty()) rep = &it->second;
    if (rep) {
      if (is_local_path(rep->to) || rep->to_version.empty())
        continue;  // source in the tree, no version to match
      if (!plausible_module(rep->to) || !plausible_version(rep->to_version)) continue;
      d.name = rep->to;
      d.version = rep->to_version;
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<LockedDependency> parse_package_lock(const std::string& text,
                                                 std::vector<std::string>& problems) {
  std::vector<LockedDependency> out;
  auto parsed = parse_json(text, JsonLimits{256u << 20, 64, true}, "package-lock.json");
  if (!parsed) {
    problems.push_back(parsed.error().message + "; not read");
    return out;
  }
  auto& j = *parsed;
  if (!j.is_object()) {
    problems.push_back("package-lock.json is not a JSON object; not read");
    return out;
  }
  std::set<std::pair<std::string, std::string>> seen;
  auto add = [&](const std::string& name, const nlohmann::json& entry, bool direct) {
    if (!entry.is_object() || !entry.contains("version") || !entry["version"].is_string()) return;
    auto version = entry["version"].get<std::string>();
    // Links and aliases to local folders carry no registry version.
    if (entry.value("link", false) || version.empty() || version.size() > 200 || name.empty() ||
        name.size() > 214)
      return;
    if (version.find(':') != std::string::npos || version.find('/') != std::string::npos) return;
    if (!seen.insert({name, version}).second) return;
    out.push_back({name, version, !direct});
  };
  std::set<std::string> direct;
  if (j.contains("packages") && j["packages"].is_object()) {
    const auto& pk = j["packages"];
    if (pk.contains("") && pk[""].is_object())
      for (auto key : {"dependencies", "devDependencies", "optionalDependencies"})
        if (pk[""].contains(key) && pk[""][key].is_object())
          for (auto it = pk[""][key].begin(); it != pk[""][key].end(); ++it)
            direct.insert(it.key());
    for (auto it = pk.begin(); it != pk.end(); ++it) {
      const auto& key = it.key();
      auto at = key.rfind("node_modules/");
      if (at == std::string::npos) continue;  // the root or a workspace folder
      auto name = key.substr(at + 13);
      if (!it.value().is_object()) continue;
      auto real =
          it.value().value("name", name);  // npm aliases ("x": "npm:y@1") record the real name
      add(real, it.value(), direct.count(name) && key == "node_modules/" + name);
    }
    return out;
  }
  // lockfileVersion 1: nested "dependencies".
  std::function<void(const nlohmann::json&, int)> walk = [&](const nlohmann::json& deps,
                                                             int depth) {
    if (!deps.is_object() || depth > 64) return;
    for (auto it = deps.begin(); it != deps.end(); ++it) {
      add(it.key(), it.value(), depth == 0);
      if (it.value().is_object() && it.value().contains("dependencies"))
        walk(it.value()["dependencies"], depth + 1);
    }
  };
  if (j.contains("dependencies")) walk(j["dependencies"], 0);
  return out;
}

std::optional<std::string> pin_go_mod(const std::string& text, const std::string& module,
                                      const std::string& version) {
  auto lines = split_lines(text);
  std::set<std::size_t> hits;
  each_directive(lines, [&](const std::string& verb, const std::vector<std::string>& a,
                            const std::string&, std::size_t n) {
    if (verb == "require" && a.size() == 2 && a[0] == module) hits.insert(n);
  });
  if (hits.empty()) return std::nullopt;
  std::string out;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    auto line = lines[n];
    if (hits.count(n)) {
      // Replace the version token (the first "v..." token after the module path), keeping
      // indentation, quoting style of the path and any comment.
      auto at = line.find(module);
      if (at != std::string::npos) {
        auto v = line.find_first_not_of(" \t\"`", at + module.size());
        if (v != std::string::npos) {
          auto e = line.find_first_of(" \t\r/", v);
          if (e == std::string::npos) e = line.size();
          line = line.substr(0, v) + version + line.substr(e);
        }
      }
    }
    out += line;
    if (n + 1 < lines.size() || (!text.empty() && text.back() == '\n')) out += '\n';
  }
  return out;
}

std::optional<std::string> pin_package_lock(const std::string& text, const std::string& package,
                                            const std::string& version, const std::string& resolved,
                                            const std::string& integrity) {
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  bool hit = false;
  auto set = [&](nlohmann::ordered_json& e) {
    e["version"] = version;
    e["resolved"] = resolved;
    e["integrity"] = integrity;
    hit = true;
  };
  if (j.contains("packages") && j["packages"].is_object())
    for (auto it = j["packages"].begin(); it != j["packages"].end(); ++it)
      if (it.key().ends_with("node_modules/" + package) && it.value().is_object() &&
          it.value().contains("version"))
        set(it.value());
  std::function<void(nlohmann::ordered_json&, int)> walk = [&](nlohmann::ordered_json& deps,
                                                               int depth) {
    if (!deps.is_object() || depth > 64) return;
    for (auto it = deps.begin(); it != deps.end(); ++it) {
      if (it.key() == package && it.value().is_object() && it.value().contains("version"))
        set(it.value());
      if (it.value().is_object() && it.value().contains("dependencies"))
        walk(it.value()["dependencies"], depth + 1);
    }
  };
  if (j.contains("dependencies")) walk(j["dependencies"], 0);
  if (!hit) return std::nullopt;
  return j.dump(2) + "\n";
}

std::string go_escape_path(const std::string& module) {
  std::string out;
  for (char ch : module) {
    if (ch >= 'A' && ch <= 'Z') {
      out += '!';
      out += static_cast<char>(ch - 'A' + 'a');
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace airheal::scan
