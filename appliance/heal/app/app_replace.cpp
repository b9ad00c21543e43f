#include "heal/app/app_replace.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "advisory/advisory.hpp"
#include "core/archive_path.hpp"
#include "core/json.hpp"
#include "core/zip.hpp"
#include "heal/attest.hpp"
#include "heal/heal_layer.hpp"
#include "heal/pins.hpp"
#include "scan/java.hpp"
#include "scan/lockfile.hpp"
#include "version/version.hpp"

namespace airheal::heal::app {
using nlohmann::json;

namespace {

constexpr std::uint64_t kMaxArtefactFile = 256ull << 20;  // one file of a package
constexpr std::uint64_t kMaxUnpacked = 1ull << 30;        // all of them
constexpr std::size_t kMaxEntries = 100000;
constexpr std::uint64_t kMaxMetadata = 4u << 20;  // lockfiles, RECORD, package.json

Error bad(const std::string& m) { return make_error(Errc::invalid_argument, m); }

std::string dir_of(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? std::string() : p.substr(0, s);
}
std::string base_of(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}
bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// The regular files (and symbolic links) of an archive in memory: zip (wheels, jars) or a
// gzip-compressed tar (npm tarballs), with normalised paths, bounded.
struct Member {
  std::string path;
  std::string bytes;
  int mode = 0644;
};

Result<std::vector<Member>> read_members(const std::string& bytes, bool zip) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(),
                                                                  &archive_read_free);
  if (zip) {
    archive_read_support_format_zip_seekable(a.get());
  } else {
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    archive_read_support_filter_gzip(a.get());
  }
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
    return bad(std::string("not a readable ") + (zip ? "zip" : "tar") + " archive: " +
               (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?"));
  std::vector<Member> out;
  std::uint64_t total = 0;
  struct archive_entry* e = nullptr;
  while (true) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      return bad(std::string("the archive is corrupt: ") +
                 (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?"));
    if (out.size() >= kMaxEntries) return bad("the archive has too many entries");
    if (archive_entry_filetype(e) != AE_IFREG) continue;  // npm and pip ignore links in packages
    const char* raw = archive_entry_pathname(e);
    auto norm = raw ? normalise_archive_path(raw) : std::nullopt;
    if (!norm || norm->empty())
      return bad(std::string("archive entry leaves its root: ") + (raw ? raw : "?"));
    Member m;
    m.path = *norm;
    m.mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
    const void* buf;
    size_t len;
    la_int64_t off;
    while ((rc = archive_read_data_block(a.get(), &buf, &len, &off)) == ARCHIVE_OK) {
      total += len;
      if (m.bytes.size() + len > kMaxArtefactFile || total > kMaxUnpacked)
        return make_error(Errc::too_large, m.path + " unpacks beyond the size limits");
      m.bytes.append(static_cast<const char*>(buf), len);
    }
    if (rc != ARCHIVE_EOF) return bad("the archive is truncated at " + m.path);
    out.push_back(std::move(m));
  }
  return out;
}

// "sha256=" + urlsafe base64 without padding, as RECORD writes hashes.
std::string record_hash(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  auto b = base64_encode(std::string_view(reinterpret_cast<const char*>(md), len));
  for (auto& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b.empty() && b.back() == '=') b.pop_back();
  return "sha256=" + b;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::vector<std::pair<std::string, std::string>> headers_of(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) continue;  // folded continuation
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    out.emplace_back(std::string(line.substr(0, colon)), std::string(v));
  }
  return out;
}

std::string header(const std::vector<std::pair<std::string, std::string>>& h, std::string_view k) {
  for (const auto& [key, v] : h)
    if (key == k) return v;
  return {};
}

// BASE/REL with "." and ".." resolved (RECORD names console scripts as "../../../bin/x"); nullopt
// when it would leave the image root.
std::optional<std::string> resolve_relative(const std::string& base, const std::string& rel) {
  std::vector<std::string> parts;
  auto push = [&](const std::string& path) {
    std::size_t at = 0;
    while (at <= path.size()) {
      auto k = path.find('/', at);
      auto seg = path.substr(at, k == std::string::npos ? std::string::npos : k - at);
      if (seg == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else if (!seg.empty() && seg != ".") {
        parts.push_back(seg);
      }
      if (k == std::string::npos) break;
      at = k + 1;
    }
    return true;
  };
  if (rel.starts_with("/") || !push(base) || !push(rel) || parts.empty()) return std::nullopt;
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

// ---- zip rewriting (nested jars) ----

// A single archive path inside nested archives: "a.jar!/b.jar" -> {"a.jar", "b.jar"}.
std::vector<std::string> split_nested(const std::string& p) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (true) {
    auto k = p.find("!/", at);
    out.push_back(p.substr(at, k == std::string::npos ? std::string::npos : k - at));
    if (k == std::string::npos) break;
    at = k + 2;
  }
  return out;
}

// ---- npm ----

// Where Node's resolution from folder FROM finds PACKAGE: the nearest FROM/node_modules/PACKAGE
// walking up.
std::string resolve_node(const ImageFiles& image, std::string from, const std::string& package) {
  while (true) {
    auto candidate = (from.empty() ? "" : from + "/") + "node_modules/" + package;
    if (image.has(candidate + "/package.json")) return candidate;
    if (from.empty()) return {};
    from = dir_of(from);
  }
}

Result<std::vector<std::string>> npm_dependents(const ImageFiles& image, const std::string& pkg_dir,
                                                const std::string& package,
                                                const std::string& version) {
  // The folder whose node_modules holds the package, and every package.json below it that
  // resolves PACKAGE to this copy.
  auto nm = pkg_dir.rfind("node_modules/");
  if (nm == std::string::npos) return bad(pkg_dir + " is not inside a node_modules folder");
  std::string project = nm == 0 ? std::string() : pkg_dir.substr(0, nm - 1);
  std::vector<std::string> checked;
  std::size_t seen = 0;
  for (const auto& [path, f] : image.files()) {
    if (!path.ends_with("package.json") || base_of(path) != "package.json") continue;
    if (!project.empty() && !under(path, project)) continue;
    auto dir = dir_of(path);
    if (dir == pkg_dir) continue;
    // the project's own manifest, or an installed package's
    if (dir != project && dir_of(dir).rfind("node_modules") == std::string::npos) continue;
    if (resolve_node(image, dir, package) != pkg_dir) continue;
    if (++seen > 20000)
      return make_error(Errc::too_large, "too many packages depend on " + package);
    auto text = image.read(path, kMaxMetadata);
    if (!text) continue;
    auto j = parse_json(*text, JsonLimits{kMaxMetadata, 64, true}, path);
    if (!j || !j->is_object()) continue;
    for (auto field : {"dependencies", "optionalDependencies", "peerDependencies"}) {
      if (!j->contains(field) || !(*j)[field].is_object() || !(*j)[field].contains(package))
        continue;
      const auto& range = (*j)[field][package];
      if (!range.is_string()) continue;
      auto r = range.get<std::string>();
      auto ok = version::satisfies_npm_range(version, r);
      if (!ok)
        return make_error(Errc::conflict, "/" + path + " asks for " + package + " \"" + r +
                                              "\", which is not a version range airheal can check");
      if (!*ok)
        return make_error(Errc::conflict, "/" + path + " asks for " + package + " \"" + r +
                                              "\", which " + version + " does not satisfy");
      checked.push_back("/" + path + ": " + package + " \"" + r + "\"");
    }
  }
  return checked;
}

Result<Ops> npm_ops(const Replacement& r, const std::string& artefact, const ImageFiles& image) {
  auto pkg_dir = dir_of(r.location);  // .../node_modules/<name>
  auto members = read_members(artefact, false);
  if (!members) return members.error();
  Ops ops;
  std::set<std::string> new_paths;
  for (auto& m : *members) {
    auto slash = m.path.find('/');
    if (slash == std::string::npos) continue;  // npm unpacks the first folder's contents
    auto rel = m.path.substr(slash + 1);
    auto dest = pkg_dir + "/" + rel;
    if (rel.empty() || rel.starts_with("node_modules/"))
      continue;  // bundled deps: not replaced here
    new_paths.insert(dest);
    ops.files.push_back({dest, std::move(m.bytes), m.mode});
  }
  if (!new_paths.count(pkg_dir + "/package.json"))
    return bad(r.name + " has no package/package.json");
  json removed = json::array();
  for (const auto& [path, f] : image.files()) {
    if (!under(path, pkg_dir) || under(path, pkg_dir + "/node_modules") ||
        path == pkg_dir + "/node_modules")
      continue;
    if (f.file.type == 'd' || new_paths.count(path)) continue;
    ops.whiteouts.push_back(path);
    removed.push_back("/" + path);
  }
  // package-lock.json, npm-shrinkwrap.json and the hidden lockfile of each project above
  auto integrity = sri_sha512(artefact);
  json locks = json::array();
  for (std::string project = dir_of(dir_of(pkg_dir));; project = dir_of(project)) {
    // PROJECT's node_modules holds the package (or an ancestor of it)
    auto key_base = project.empty() ? pkg_dir : pkg_dir.substr(project.size() + 1);
    if (key_base.starts_with("node_modules/"))
      for (auto lock_name :
           {"package-lock.json", "npm-shrinkwrap.json", "node_modules/.package-lock.json"}) {
        auto lock = (project.empty() ? std::string() : project + "/") + lock_name;
        if (!image.has(lock)) continue;
        auto text = image.read(lock, kMaxMetadata);
        if (!text) return text.error();
        auto j = nlohmann::ordered_json::parse(*text, nullptr, false);
        if (!j.is_object() || !j.contains("packages") || !j["packages"].is_object() ||
            !j["packages"].contains(key_base) || !j["packages"][key_base].is_object()) {
          if (j.is_object() && j.contains("dependencies") && !j.contains("packages"))
            locks.push_back({{"path", "/" + lock},
                             {"note",
                              "lockfileVersion 1 is not updated; npm rewrites it on the "
                              "next install"}});
          continue;
        }
        auto& entry = j["packages"][key_base];
        json before = {{"version", entry.value("version", "")},
                       {"resolved", entry.value("resolved", "")},
                       {"integrity", entry.value("integrity", "")}};
        std::string resolved = entry.value("resolved", "");
        auto old_file = base_of(r.package) + "-" + r.installed + ".tgz";
        if (auto k = resolved.rfind(old_file);
            k != std::string::npos && k + old_file.size() == resolved.size())
          resolved = resolved.substr(0, k) + base_of(r.package) + "-" + r.version + ".tgz";
        else
          resolved = r.name;
        entry["version"] = r.version;
        entry["resolved"] = resolved;
        entry["integrity"] = integrity;
        ops.files.push_back({lock, j.dump(2) + "\n", 0644});
        locks.push_back(
            {{"path", "/" + lock},
             {"key", key_base},
             {"from", before},
             {"to", {{"version", r.version}, {"resolved", resolved}, {"integrity", integrity}}}});
      }
    if (project.empty()) break;
  }
  ops.changes = {{"folder", "/" + pkg_dir},
                 {"added", new_paths.size()},
                 {"removed", removed},
                 {"lockfiles", locks}};
  return ops;
}

// ---- Python ----

Result<std::vector<std::string>> python_dependents(const ImageFiles& image, const std::string& site,
                                                   const std::string& package,
                                                   const std::string& version) {
  std::vector<std::string> checked;
  for (const auto& [path, f] : image.files()) {
    if (!under(path, site)) continue;
    auto leaf = base_of(path), dir = dir_of(path);
    bool meta = (leaf == "METADATA" && dir.ends_with(".dist-info") && dir_of(dir) == site) ||
                (leaf == "PKG-INFO" && dir.ends_with(".egg-info") && dir_of(dir) == site);
    if (!meta) continue;
    auto text = image.read(path, kMaxMetadata);
    if (!text) continue;
    for (const auto& [k, v] : headers_of(*text)) {
      if (k != "Requires-Dist") continue;
      std::string req = v, marker;
      if (auto semi = req.find(';'); semi != std::string::npos) {
        marker = req.substr(semi + 1);
        req.resize(semi);
      }
      if (marker.find("extra") != std::string::npos) continue;  // only with an optional extra
      std::size_t e = 0;
      while (e < req.size() && (std::isalnum(static_cast<unsigned char>(req[e])) || req[e] == '-' ||
                                req[e] == '_' || req[e] == '.'))
        ++e;
      if (advisory::package_key("PyPI", req.substr(0, e)) != package) continue;
      std::string spec = req.substr(e);
      if (auto b = spec.find('['); b != std::string::npos) spec.erase(b, spec.find(']', b) - b + 1);
      std::erase(spec, '(');
      std::erase(spec, ')');
      std::erase(spec, ' ');
      auto ok = version::satisfies_pep440(version, spec);
      if (!ok || !*ok)
        return make_error(Errc::conflict, "/" + path + " requires " + v +
                                              (ok ? ", which " + version + " does not satisfy"
                                                  : ", which airheal cannot read"));
      checked.push_back("/" + path + ": " + v);
    }
  }
  return checked;
}

Result<Ops> python_ops(const Replacement& r, const std::string& artefact, const ImageFiles& image) {
  // LOCATION: SITE/NAME-V.dist-info/METADATA, SITE/NAME-V.egg-info/PKG-INFO or SITE/NAME-V.egg-info
  std::string meta_dir = dir_of(r.location), site = dir_of(meta_dir);
  if (r.location.ends_with(".egg-info")) {
    return make_error(Errc::unsupported,
                      "/" + r.location +
                          " is a single-file egg-info: the files it installed are "
                          "not recorded, so they cannot be replaced safely");
  }
  // the files the installed distribution owns, inside SITE
  std::set<std::string> old;
  json kept_outside = json::array();
  auto add_old = [&](const std::string& base, const std::string& rel) {
    auto joined = resolve_relative(base, rel);
    if (!joined) return;
    if (under(*joined, site))
      old.insert(*joined);
    else
      kept_outside.push_back("/" + *joined);
  };
  if (image.has(meta_dir + "/RECORD")) {
    auto rec = image.read(meta_dir + "/RECORD", kMaxMetadata);
    if (!rec) return rec.error();
    for (const auto& row : scan::parse_record_rows(*rec))
      if (!row.empty() && !row[0].empty()) add_old(site, row[0]);
  } else if (image.has(meta_dir + "/installed-files.txt")) {
    auto list = image.read(meta_dir + "/installed-files.txt", kMaxMetadata);
    if (!list) return list.error();
    std::size_t at = 0;
    while (at < list->size()) {
      auto nl = list->find('\n', at);
      auto line = list->substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      at = nl == std::string::npos ? list->size() : nl + 1;
      if (!line.empty()) add_old(meta_dir, line);
    }
  } else if (image.has(meta_dir + "/top_level.txt")) {
    // Debian's egg-info: the top-level modules name what the distribution installed
    auto top = image.read(meta_dir + "/top_level.txt", 1 << 20);
    if (!top) return top.error();
    std::set<std::string> names;
    std::size_t at = 0;
    while (at < top->size()) {
      auto nl = top->find('\n', at);
      auto line = top->substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      at = nl == std::string::npos ? top->size() : nl + 1;
      if (!line.empty() && line.find('/') == std::string::npos && line != ".." && line != ".")
        names.insert(line);
    }
    for (const auto& [path, f] : image.files()) {
      if (f.file.type == 'd') continue;
      for (const auto& n : names)
        if (under(path, site + "/" + n) || path == site + "/" + n + ".py") old.insert(path);
      if (under(path, meta_dir)) old.insert(path);
    }
  } else {
    return make_error(Errc::unsupported,
                      "/" + meta_dir +
                          " records no files (no RECORD, installed-files.txt "
                          "or top_level.txt), so they cannot be replaced safely");
  }
  auto members = read_members(artefact, true);
  if (!members) return members.error();
  // the wheel's own dist-info, WHEEL and RECORD
  std::string dist_info;
  for (const auto& m : *members)
    if (m.path.ends_with(".dist-info/WHEEL") && m.path.find('/') == m.path.rfind('/'))
      dist_info = dir_of(m.path);
  if (dist_info.empty()) return bad(r.name + " has no .dist-info/WHEEL: not a wheel");
  auto find = [&](const std::string& p) -> const Member* {
    for (const auto& m : *members)
      if (m.path == p) return &m;
    return nullptr;
  };
  auto wheel = headers_of(find(dist_info + "/WHEEL")->bytes);
  std::vector<std::string> tags;
  for (const auto& [k, v] : wheel)
    if (k == "Tag") tags.push_back(v);
  if (header(wheel, "Root-Is-Purelib") != "true") {
    // a platform wheel only where the installed one was built for the same platform
    std::set<std::string> installed_tags;
    if (image.has(meta_dir + "/WHEEL"))
      if (auto w = image.read(meta_dir + "/WHEEL", 1 << 20))
        for (const auto& [k, v] : headers_of(*w))
          if (k == "Tag") installed_tags.insert(v);
    bool same = false;
    for (const auto& t : tags) same = same || installed_tags.count(t);
    if (!same)
      return make_error(Errc::unsupported, r.name + " is a platform wheel (" +
                                               (tags.empty() ? std::string("no tag") : tags[0]) +
                                               ") not built for the platform of the installed "
                                               "distribution");
  }
  const Member* record = find(dist_info + "/RECORD");
  if (!record) return bad(r.name + " has no RECORD");
  std::map<std::string, std::string> hashes;
  for (const auto& row : scan::parse_record_rows(record->bytes))
    if (row.size() >= 2 && !row[1].empty()) hashes[row[0]] = row[1];
  Ops ops;
  std::set<std::string> new_paths;
  json skipped = json::array();
  auto data_dir = dist_info.substr(0, dist_info.size() - 10) + ".data/";
  for (auto& m : *members) {
    // what the installer writes itself, not the wheel (a repacked wheel may carry them)
    if (m.path == dist_info + "/RECORD" || m.path == dist_info + "/INSTALLER" ||
        m.path == dist_info + "/REQUESTED" || m.path == dist_info + "/direct_url.json")
      continue;
    if (auto h = hashes.find(m.path); h != hashes.end()) {
      if (h->second.rfind("sha256=", 0) == 0 && record_hash(m.bytes) != h->second)
        return make_error(Errc::digest_invalid,
                          r.name + ": " + m.path + " does not match the hash in its RECORD");
    } else {
      return make_error(Errc::digest_invalid, r.name + ": " + m.path + " is not in its RECORD");
    }
    std::string rel = m.path;
    if (rel.starts_with(data_dir)) {
      auto rest = rel.substr(data_dir.size());
      if (rest.starts_with("purelib/") || rest.starts_with("platlib/")) {
        rel = rest.substr(8);
      } else {
        skipped.push_back(m.path);  // scripts, headers, data: outside site-packages
        continue;
      }
    }
    auto dest = site + "/" + rel;
    new_paths.insert(dest);
    ops.files.push_back({dest, std::move(m.bytes), 0644});
  }
  // the dist-info as pip leaves it: INSTALLER, and RECORD listing every file with its hash
  std::string installer = "airheal\n";
  new_paths.insert(site + "/" + dist_info + "/INSTALLER");
  std::string rec_out;
  for (const auto& f : ops.files)
    rec_out += csv_field(f.path.substr(site.size() + 1)) + "," + record_hash(f.bytes) + "," +
               std::to_string(f.bytes.size()) + "\n";
  rec_out += csv_field(dist_info + "/INSTALLER") + "," + record_hash(installer) + "," +
             std::to_string(installer.size()) + "\n";
  rec_out += csv_field(dist_info + "/RECORD") + ",,\n";
  ops.files.push_back({site + "/" + dist_info + "/INSTALLER", installer, 0644});
  ops.files.push_back({site + "/" + dist_info + "/RECORD", rec_out, 0644});
  new_paths.insert(site + "/" + dist_info + "/RECORD");
  json removed = json::array();
  for (const auto& p : old)
    if (!new_paths.count(p) && image.has(p)) {
      ops.whiteouts.push_back(p);
      removed.push_back("/" + p);
    }
  if (site + "/" + dist_info != meta_dir) ops.whiteouts.push_back(meta_dir);
  ops.changes = {{"site_packages", "/" + site},
                 {"metadata", {{"from", "/" + meta_dir}, {"to", "/" + site + "/" + dist_info}}},
                 {"added", new_paths.size()},
                 {"removed", removed}};
  if (!kept_outside.empty()) ops.changes["kept_outside_site_packages"] = kept_outside;
  if (!skipped.empty()) ops.changes["not_installed"] = skipped;
  return ops;
}

// ---- Java ----

Result<Ops> java_ops(const Replacement& r, const std::string& artefact, const ImageFiles& image) {
  auto parts = split_nested(r.location);
  const auto& outer = parts.front();
  if (parts.size() == 1) {
    Ops ops;
    ops.files.push_back({outer, artefact, 0644});
    ops.changes = {{"jar", "/" + outer}, {"bytes", artefact.size()}};
    return ops;
  }
  // nested: rewrite each enclosing archive from the innermost out
  auto bytes = image.read(outer, 2ull << 30);
  if (!bytes) return bytes.error();
  std::vector<std::string> chain{*bytes};
  for (std::size_t k = 1; k + 1 < parts.size(); ++k) {
    auto inner = zip::entry(chain.back(), parts[k], kMaxArtefactFile);
    if (!inner) return inner.error();
    chain.push_back(std::move(*inner));
  }
  std::string replacement = artefact;
  for (std::size_t k = parts.size() - 1; k >= 1; --k) {
    auto rewritten = zip::replace_entry(chain[k - 1], parts[k], replacement);
    if (!rewritten) return rewritten.error();
    replacement = std::move(*rewritten);
  }
  Ops ops;
  auto f = image.files().find(outer);
  ops.files.push_back({outer, replacement, 0644});
  ops.changes = {
      {"jar", "/" + outer},
      {"entry", r.location.substr(outer.size() + 2)},
      {"bytes", artefact.size()},
      {"outer_bytes",
       {{"from", f == image.files().end() ? 0 : f->second.file.size}, {"to", replacement.size()}}}};
  return ops;
}

}  // namespace

json Replacement::to_json() const {
  return {{"ecosystem", ecosystem}, {"package", package}, {"location", location},
          {"from", installed},      {"version", version}, {"artifact", name},
          {"digest", digest},       {"fixes", fixes},     {"changes", changes}};
}

Replacement Replacement::from_json(const json& j) {
  Replacement r;
  r.ecosystem = j.value("ecosystem", "");
  r.package = j.value("package", "");
  r.location = j.value("location", "");
  r.installed = j.value("from", "");
  r.version = j.value("version", "");
  r.name = j.value("artifact", "");
  r.digest = j.value("digest", "");
  r.fixes = j.value("fixes", "");
  r.changes = j.value("changes", json::object());
  return r;
}

Result<Identity> identify(const std::string& bytes, std::string_view file_name) {
  std::string n(file_name);
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n.ends_with(".tgz") || n.ends_with(".tar.gz")) {
    auto members = read_members(bytes, false);
    if (!members) return members.error();
    for (const auto& m : *members) {
      auto slash = m.path.find('/');
      if (slash == std::string::npos || m.path.substr(slash + 1) != "package.json") continue;
      std::vector<std::string> problems;
      auto d = scan::parse_node_package(m.bytes, problems);
      if (!d)
        return bad(std::string(file_name) + ": " +
                   (problems.empty() ? "bad package.json" : problems[0]));
      return Identity{"npm", d->name, d->version, "npm-tarball"};
    }
    return bad(std::string(file_name) + " is not an npm package (no package/package.json)");
  }
  if (n.ends_with(".whl")) {
    auto members = read_members(bytes, true);
    if (!members) return members.error();
    for (const auto& m : *members)
      if (m.path.ends_with(".dist-info/METADATA") && m.path.find('/') == m.path.rfind('/')) {
        std::vector<std::string> problems;
        auto d = scan::parse_python_metadata(m.bytes, problems);
        if (!d)
          return bad(std::string(file_name) + ": " +
                     (problems.empty() ? "bad METADATA" : problems[0]));
        return Identity{"PyPI", advisory::package_key("PyPI", d->name), d->version, "wheel"};
      }
    return bad(std::string(file_name) + " is not a wheel (no .dist-info/METADATA)");
  }
  if (n.ends_with(".jar") || n.ends_with(".war")) {
    std::vector<std::string> problems;
    scan::JavaLimits limits;
    limits.max_depth = 0;
    auto pkgs = scan::parse_java_archive(bytes, file_name, problems, limits);
    for (const auto& p : pkgs)
      if (p.inner.empty() && p.evidence == "pom.properties")
        return Identity{"Maven", p.name(), p.version, "jar"};
    return bad(std::string(file_name) + " names no Maven coordinates in its pom.properties");
  }
  return make_error(Errc::unsupported,
                    std::string(file_name) + " is not an npm tarball, a wheel or a jar");
}

Result<std::vector<std::string>> dependents_allow(const ImageFiles& image,
                                                  const std::string& ecosystem,
                                                  const std::string& location,
                                                  const std::string& package,
                                                  const std::string& version) {
  if (ecosystem == "npm") return npm_dependents(image, dir_of(location), package, version);
  if (ecosystem == "PyPI") {
    auto site = dir_of(location.ends_with(".egg-info") ? location : dir_of(location));
    return python_dependents(image, site, package, version);
  }
  return std::vector<std::string>{};  // a jar declares no version ranges at run time
}

Result<Ops> plan_ops(const Replacement& r, const std::string& artefact, const ImageFiles& image) {
  Result<Ops> ops =
      make_error(Errc::unsupported, "airheal cannot replace " + r.ecosystem + " packages in place");
  if (r.ecosystem == "npm") ops = npm_ops(r, artefact, image);
  if (r.ecosystem == "PyPI") ops = python_ops(r, artefact, image);
  if (r.ecosystem == "Maven") ops = java_ops(r, artefact, image);
  if (!ops) return ops;
  ops->changes["package"] = r.package;
  ops->changes["from"] = r.installed;
  ops->changes["to"] = r.version;
  return ops;
}

Status write_ops(const Ops& ops, LayerWriter& w) {
  // one entry per path: a file written last wins, a whiteout under a whited-out folder or of a
  // path that is written is dropped (a layer must not name a path twice)
  std::map<std::string, const Ops::File*> files;
  for (const auto& f : ops.files) files[f.path] = &f;
  std::set<std::string> outs(ops.whiteouts.begin(), ops.whiteouts.end());
  for (const auto& p : outs) {
    if (files.count(p)) continue;
    bool covered = false;
    for (auto d = dir_of(p); !d.empty() && !covered; d = dir_of(d)) covered = outs.count(d) > 0;
    if (covered) continue;
    if (auto st = w.add_whiteout(p); !st) return st;
  }
  for (const auto& [path, f] : files)
    if (auto st = w.add_bytes(path, f->bytes, f->mode); !st) return st;
  return {};
}

}  // namespace airheal::heal::app
