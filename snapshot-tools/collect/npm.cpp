#include "collect/npm.hpp"

#include <algorithm>
#include <cctype>

#include "version/version.hpp"

namespace airheal::collect {

bool valid_npm_name(const std::string& name) {
  if (name.empty() || name.size() > 214) return false;
  auto part_ok = [](const std::string& p) {
    return !p.empty() && p[0] != '.' && p[0] != '_' &&
           std::all_of(p.begin(), p.end(), [](unsigned char c) {
             return std::islower(c) || std::isdigit(c) || c == '-' || c == '.' || c == '_' ||
                    c == '~';
           });
  };
  if (name[0] == '@') {
    auto slash = name.find('/');
    if (slash == std::string::npos || name.find('/', slash + 1) != std::string::npos) return false;
    return part_ok(name.substr(1, slash - 1)) && part_ok(name.substr(slash + 1));
  }
  return part_ok(name);
}

std::string npm_packument_path(const std::string& name) {
  auto slash = name.find('/');
  return slash == std::string::npos ? name : name.substr(0, slash) + "%2f" + name.substr(slash + 1);
}

Result<NpmRelease> choose_npm_release(const nlohmann::json& doc, const std::string& name,
                                      const std::string& fixed) {
  if (!doc.is_object() || !doc.contains("versions") || !doc["versions"].is_object())
    return make_error(Errc::invalid_argument,
                      "npm " + name + ": the registry's answer lists no versions");
  if (doc.value("name", name) != name)
    return make_error(Errc::invalid_argument, "npm " + name + ": the registry answered for " +
                                                  doc.value("name", "").substr(0, 100));
  std::optional<NpmRelease> best;
  std::string newest;
  for (const auto& [v, meta] : doc["versions"].items()) {
    if (v.size() > 256 || v.find('-') != std::string::npos) continue;  // pre-releases
    auto at_least = version::compare("npm", v, fixed);
    if (!at_least) continue;
    if (newest.empty() || version::compare("npm", v, newest).value_or(0) > 0) newest = v;
    if (*at_least < 0) continue;
    if (!meta.is_object() || !meta.contains("dist") || !meta["dist"].is_object()) continue;
    const auto& dist = meta["dist"];
    auto tarball = dist.value("tarball", ""), integrity = dist.value("integrity", "");
    if ((tarball.rfind("https://", 0) != 0 && tarball.rfind("http://", 0) != 0) ||
        integrity.rfind("sha512-", 0) != 0 || integrity.size() > 200)
      continue;
    if (!best || version::compare("npm", v, best->version).value_or(0) < 0)
      best = NpmRelease{name, v, tarball, integrity};
  }
  if (best) return *best;
  if (newest.empty())
    return make_error(Errc::not_found, "npm " + name + ": the registry lists no release");
  return make_error(Errc::not_found, "npm " + name + ": the newest release is " + newest +
                                         ", older than " + fixed +
                                         " that fixes it (or no release " +
                                         "at or above it has a sha512 integrity)");
}

}  // namespace airheal::collect
