#include "scan/inventory.hpp"

#include <set>

#include "advisory/advisory.hpp"
#include "core/json.hpp"
#include "scan/binary.hpp"
#include "scan/java.hpp"
#include "scan/pkgdb.hpp"

namespace airheal::scan {
namespace {

template <class Map>
void erase_tree(Map& m, const std::string& path, bool keep_root) {
  if (!keep_root) m.erase(path);
  auto lo = m.lower_bound(path + "/");
  auto hi = m.lower_bound(path + "0");  // '0' follows '/'
  m.erase(lo, hi);
}

const std::map<std::string, std::string>& debian_codenames() {
  static const std::map<std::string, std::string> m = {
      {"8", "jessie"},    {"9", "stretch"}, {"10", "buster"}, {"11", "bullseye"},
      {"12", "bookworm"}, {"13", "trixie"}, {"14", "forky"}};
  return m;
}

std::string qualifiers(const std::vector<std::pair<std::string, std::string>>& q) {
  std::string out;
  for (const auto& [k, v] : q) {
    if (v.empty()) continue;
    out += (out.empty() ? "?" : "&") + k + "=" + purl_encode(v);
  }
  return out;
}

std::string purl_namespace_name(std::string_view full) {
  std::string out;
  std::size_t i = 0;
  while (i <= full.size()) {
    auto slash = full.find('/', i);
    auto seg = full.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    if (!out.empty()) out += '/';
    out += purl_encode(seg);
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  return out;
}

}  // namespace

std::string purl_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '-' || c == '_' || c == '~')
      out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string OsInfo::family() const {
  if (id == "debian") return "Debian";
  if (id == "ubuntu") return "Ubuntu";
  if (id == "alpine") return "Alpine";
  if (id == "wolfi") return "Wolfi";
  if (id == "chainguard") return "Chainguard";
  if (id == "rhel") return "Red Hat";
  if (id == "rocky") return "Rocky Linux";
  if (id == "almalinux") return "AlmaLinux";
  if (id.rfind("opensuse", 0) == 0) return "openSUSE";
  if (id == "sles") return "SUSE";
  if (id == "mageia") return "Mageia";
  if (id == "openEuler") return "openEuler";
  return id;
}

std::vector<std::string> OsInfo::releases() const {
  std::vector<std::string> out;
  if (id == "alpine") {
    auto dot = version_id.find('.');
    auto dot2 = dot == std::string::npos ? std::string::npos : version_id.find('.', dot + 1);
    if (dot != std::string::npos) out.push_back("v" + version_id.substr(0, dot2));
    return out;
  }
  auto major = version_id.substr(0, version_id.find('.'));
  if (!major.empty()) out.push_back(major);
  if (!version_id.empty() && version_id != major) out.push_back(version_id);
  auto code = codename;
  if (code.empty() && id == "debian") {
    auto it = debian_codenames().find(major);
    if (it != debian_codenames().end()) code = it->second;
  }
  if (!code.empty()) out.push_back(code);
  return out;
}

nlohmann::json Component::to_json() const {
  return {{"type", type},       {"ecosystem", ecosystem}, {"name", name},
          {"version", version}, {"source", source},       {"source_version", source_version},
          {"arch", arch},       {"licenses", licenses},   {"purl", purl},
          {"layer", layer},     {"location", location},   {"files", files},
          {"owner", owner},     {"supplier", supplier},   {"depends", depends}};
}

Component Component::from_json(const nlohmann::json& j) {
  Component c;
  c.type = j.value("type", "");
  c.ecosystem = j.value("ecosystem", "");
  c.name = j.value("name", "");
  c.version = j.value("version", "");
  c.source = j.value("source", "");
  c.source_version = j.value("source_version", "");
  c.arch = j.value("arch", "");
  c.licenses = string_list(j, "licenses");
  c.supplier = j.value("supplier", "");
  c.depends = string_list(j, "depends");
  c.purl = j.value("purl", "");
  c.layer = j.value("layer", "");
  c.location = j.value("location", "");
  c.files = j.value("files", std::size_t{0});
  c.owner = j.value("owner", "");
  return c;
}

nlohmann::json ImageInventory::to_json() const {
  auto comps = nlohmann::json::array();
  for (const auto& c : components) comps.push_back(c.to_json());
  return {{"os",
           {{"id", os.id},
            {"version_id", os.version_id},
            {"codename", os.codename},
            {"pretty_name", os.pretty_name}}},
          {"layers", layers},
          {"files", files},
          {"components", comps},
          {"problems", problems}};
}

std::map<std::string, FinalFile> merge_files(const std::vector<const LayerInventory*>& layers) {
  std::map<std::string, FinalFile> fs;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    for (const auto& d : layers[i]->opaque) erase_tree(fs, d, true);
    for (const auto& w : layers[i]->whiteouts) erase_tree(fs, w, false);
    for (const auto& f : layers[i]->files) fs[f.path] = {i, f};
  }
  return fs;
}

namespace {

struct PackageRelations {
  std::size_t component;
  std::vector<std::string> depends, provides;
};

// Each OS package's requirements as the installed packages that satisfy them: by name, by what a
// package provides (Debian virtual packages, apk so:/cmd:, rpm sonames and capabilities) or by the
// file path a package owns (rpm and apk "/bin/sh"). Of alternatives, the first satisfied counts.
void resolve_depends(ImageInventory& inv, const std::vector<PackageRelations>& relations,
                     const std::map<std::string, std::string>& owned) {
  std::map<std::pair<std::string, std::string>, std::string> provider;  // (type, name) -> package
  for (const auto& r : relations) {
    const auto& c = inv.components[r.component];
    provider.insert_or_assign({c.type, c.name}, c.name);
  }
  for (const auto& r : relations)
    for (const auto& p : r.provides)
      provider.emplace(std::pair{inv.components[r.component].type, p},
                       inv.components[r.component].name);
  for (const auto& r : relations) {
    auto& c = inv.components[r.component];
    std::set<std::string> seen;
    for (const auto& group : r.depends) {
      std::size_t start = 0;
      while (start <= group.size()) {
        auto bar = group.find('|', start);
        auto alt = group.substr(start, bar == std::string::npos ? bar : bar - start);
        std::string found;
        if (auto it = provider.find({c.type, alt}); it != provider.end()) {
          found = it->second;
        } else if (auto path = alt.find_first_not_of('/');
                   alt.starts_with("/") && path != std::string::npos) {
          auto o = owned.find(alt.substr(path));
          if (o != owned.end()) found = o->second;
        }
        if (!found.empty()) {
          if (found != c.name && seen.insert(found).second) c.depends.push_back(found);
          break;
        }
        if (bar == std::string::npos) break;
        start = bar + 1;
      }
    }
  }
}

}  // namespace

ImageInventory merge(const std::vector<std::string>& digests,
                     const std::vector<const LayerInventory*>& layers) {
  ImageInventory inv;
  inv.layers = digests;
  struct Placed {
    std::size_t layer;
    const LayerRecord* record;
  };
  std::map<std::string, Placed> records;
  std::size_t files = 0;
  {
    auto fs = merge_files(layers);
    files = fs.size();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      for (const auto& d : layers[i]->opaque) erase_tree(records, d, true);
      for (const auto& w : layers[i]->whiteouts) erase_tree(records, w, false);
      for (const auto& [path, rec] : layers[i]->records) records[path] = {i, &rec};
      // A later layer may replace a database with a file that is not one (or a symlink).
      for (const auto& f : layers[i]->files)
        if (!layers[i]->records.count(f.path)) records.erase(f.path);
      for (const auto& p : layers[i]->problems) inv.problems.push_back(p);
    }
  }
  inv.files = files;
  auto layer_of = [&](std::size_t i) { return i < digests.size() ? digests[i] : std::string(); };

  // OS identity.
  for (const auto* p : {"etc/os-release", "usr/lib/os-release"}) {
    auto it = records.find(p);
    if (it == records.end()) continue;
    const auto& d = it->second.record->data;
    inv.os.id = d.value("ID", "");
    inv.os.version_id = d.value("VERSION_ID", "");
    inv.os.codename = d.value("VERSION_CODENAME", "");
    inv.os.pretty_name = d.value("PRETTY_NAME", "");
    break;
  }
  std::string distro = inv.os.family();

  auto list_count = [&](const std::vector<std::string>& paths) -> std::size_t {
    for (const auto& p : paths) {
      auto it = records.find(p);
      if (it != records.end() && it->second.record->data.is_array())
        return it->second.record->data.size();
    }
    return 0;
  };

  std::vector<PackageRelations> relations;  // of each OS package, resolved once all are known
  auto add_os_package = [&](const PackageRecord& r, const std::string& type, std::size_t layer,
                            const std::string& location) {
    Component c;
    c.type = type;
    c.name = r.name;
    c.version = r.version;
    c.source = r.source.empty() ? r.name : r.source;
    c.source_version = r.source_version.empty() ? r.version : r.source_version;
    c.arch = r.arch;
    if (!r.license.empty()) c.licenses.push_back(r.license);
    c.supplier = r.supplier;
    if (type == "deb" && c.licenses.empty()) {
      auto it = records.find("usr/share/doc/" + r.name + "/copyright");
      if (it != records.end() && it->second.record->data.is_array())
        for (const auto& l : it->second.record->data)
          if (l.is_string()) c.licenses.push_back(l.get<std::string>());
    }
    c.layer = layer_of(layer);
    c.location = location;
    relations.push_back({inv.components.size(), r.depends, r.provides});
    auto rels = inv.os.releases();
    if (type == "deb") {
      c.ecosystem =
          distro.empty() || (distro != "Debian" && distro != "Ubuntu") ? "Debian" : distro;
      std::string d = inv.os.id.empty() ? "debian" : inv.os.id;
      c.purl =
          "pkg:deb/" + purl_encode(d) + "/" + purl_encode(c.name) + "@" + purl_encode(c.version) +
          qualifiers({{"arch", c.arch},
                      {"distro", inv.os.version_id.empty() ? "" : d + "-" + inv.os.version_id}});
      c.files = list_count({"var/lib/dpkg/info/" + r.name + ".list",
                            "var/lib/dpkg/info/" + r.name + ":" + r.arch + ".list",
                            "var/lib/dpkg/status.d/" + r.name + ".md5sums",
                            "var/lib/dpkg/status.d/" + r.name + "/md5sums"});
    } else if (type == "apk") {
      c.ecosystem = distro.empty() ? "Alpine" : distro;
      c.purl = "pkg:apk/" + purl_encode(inv.os.id.empty() ? "alpine" : inv.os.id) + "/" +
               purl_encode(c.name) + "@" + purl_encode(c.version) + qualifiers({{"arch", c.arch}});
      c.files = r.files.size();
    } else {
      c.ecosystem = distro;
      auto colon = c.version.find(':');
      auto epoch = colon == std::string::npos ? std::string() : c.version.substr(0, colon);
      auto evr = colon == std::string::npos ? c.version : c.version.substr(colon + 1);
      c.purl = "pkg:rpm/" + purl_encode(inv.os.id.empty() ? "rpm" : inv.os.id) + "/" +
               purl_encode(c.name) + "@" + purl_encode(evr) +
               qualifiers({{"arch", c.arch}, {"epoch", epoch}});
      c.files = r.files.size();
    }
    inv.components.push_back(std::move(c));
  };

  // What the OS packages own (dpkg file lists and md5sums, apk R: lines, rpm file lists): an
  // application package among those files is part of the OS package (a Debian node-* package
  // bundles modules, often with backported fixes) and is matched as that package, not again by
  // its upstream version.
  std::map<std::string, std::string> owned;  // path -> the OS package that owns it
  for (const auto& [path, placed] : records) {
    const auto& rec = *placed.record;
    if (!rec.data.is_array()) continue;
    if (rec.kind == "dpkg-list" || rec.kind == "md5sums") {
      // var/lib/dpkg/info/NAME[:ARCH].list, status.d/NAME.md5sums, status.d/NAME/md5sums
      std::string name = path.substr(path.rfind('/') + 1);
      if (name == "md5sums") {
        auto dir = path.substr(0, path.rfind('/'));
        name = dir.substr(dir.rfind('/') + 1);
      }
      name = name.substr(0, name.find_first_of(".:"));
      for (const auto& f : rec.data)
        if (f.is_string()) owned.emplace(f.get<std::string>(), name);
    } else if (rec.kind == "apk" || rec.kind == "rpm") {
      for (const auto& pj : rec.data)
        if (pj.is_object() && pj.contains("files") && pj["files"].is_array())
          for (const auto& f : pj["files"])
            if (f.is_string()) owned.emplace(f.get<std::string>(), pj.value("name", ""));
    }
  }
  auto owner_of = [&](const std::string& path) {
    auto it = owned.find(path);
    return it == owned.end() ? std::string() : it->second;
  };

  for (const auto& [path, placed] : records) {
    const auto& rec = *placed.record;
    if (rec.kind == "dpkg-status" || rec.kind == "dpkg-statusd" || rec.kind == "apk" ||
        rec.kind == "rpm") {
      std::string type = rec.kind == "apk" ? "apk" : rec.kind == "rpm" ? "rpm" : "deb";
      for (const auto& pj : rec.data) {
        auto r = PackageRecord::from_json(pj);
        // The layer that installed this version: walk down while lower copies of the same
        // database still list the package at the same version.
        std::size_t layer = placed.layer;
        if (rec.kind != "dpkg-statusd") {
          for (std::size_t i = placed.layer; i-- > 0;) {
            auto it = layers[i]->records.find(path);
            if (it == layers[i]->records.end()) continue;
            bool same = false;
            for (const auto& q : it->second.data)
              if (q.value("name", "") == r.name && q.value("version", "") == r.version &&
                  q.value("arch", "") == r.arch)
                same = true;
            if (!same) break;
            layer = i;
          }
        }
        add_os_package(r, type, layer, path);
      }
    } else if (rec.kind == "go-mod" || rec.kind == "npm-lock") {
      // A lockfile pins what the application is built from; its findings are fixed by a pin.
      for (const auto& d : rec.data) {
        Component c;
        bool go = rec.kind == "go-mod";
        c.type = go ? "go-module" : "npm";
        c.ecosystem = go ? "Go" : "npm";
        c.name = c.source = d.value("name", "");
        c.version = c.source_version = d.value("version", "");
        c.layer = layer_of(placed.layer);
        c.location = path;
        if (go) {
          c.purl = "pkg:golang/" + purl_namespace_name(c.name) + "@" + purl_encode(c.version);
        } else {
          // pkg:npm/%40scope/name@version
          auto slash = c.name.find('/');
          c.purl = c.name[0] == '@' && slash != std::string::npos
                       ? "pkg:npm/" + purl_encode(c.name.substr(0, slash)) + "/" +
                             purl_encode(c.name.substr(slash + 1))
                       : "pkg:npm/" + purl_encode(c.name);
          c.purl += "@" + purl_encode(c.version);
        }
        if (!c.name.empty() && !c.version.empty()) inv.components.push_back(std::move(c));
      }
    } else if (rec.kind == "node-package" || rec.kind == "python-package") {
      // An installed npm package (node_modules/NAME/package.json) or Python distribution
      // (site-packages/NAME-VERSION.dist-info/METADATA, .egg-info), unless an OS package owns it.
      if (!rec.data.is_array()) continue;
      bool npm = rec.kind == "node-package";
      for (const auto& d : rec.data) {
        Component c;
        c.type = rec.kind;
        c.ecosystem = npm ? "npm" : "PyPI";
        c.name = c.source = advisory::package_key(c.ecosystem, d.value("name", ""));
        c.version = c.source_version = d.value("version", "");
        c.layer = layer_of(placed.layer);
        c.location = path;
        auto slash = c.name.find('/');
        c.purl = !npm ? "pkg:pypi/" + purl_encode(c.name)
                 : !c.name.empty() && c.name[0] == '@' && slash != std::string::npos
                     ? "pkg:npm/" + purl_encode(c.name.substr(0, slash)) + "/" +
                           purl_encode(c.name.substr(slash + 1))
                     : "pkg:npm/" + purl_encode(c.name);
        c.purl += "@" + purl_encode(c.version);
        c.owner = owner_of(path);
        if (!npm && path.ends_with(".dist-info/METADATA")) {
          // the files it owns, per its RECORD
          auto record = records.find(path.substr(0, path.size() - 8) + "RECORD");
          if (record != records.end() && record->second.record->data.is_array())
            c.files = record->second.record->data.size();
        }
        if (!c.name.empty() && !c.version.empty()) inv.components.push_back(std::move(c));
      }
    } else if (rec.kind == "gemspec" || rec.kind == "dotnet-deps" || rec.kind == "nupkg" ||
               rec.kind == "composer-installed" || rec.kind == "cargo-lock") {
      // Ruby gems, .NET packages, Composer packages and Rust crates an application carries
      if (!rec.data.is_array()) continue;
      bool ruby = rec.kind == "gemspec", php = rec.kind == "composer-installed",
           rust = rec.kind == "cargo-lock";
      for (const auto& d : rec.data) {
        Component c;
        c.type = ruby ? "gem" : php ? "composer" : rust ? "cargo-lock" : "nuget";
        c.ecosystem = ruby ? "RubyGems" : php ? "Packagist" : rust ? "crates.io" : "NuGet";
        c.name = c.source = advisory::package_key(c.ecosystem, d.value("name", ""));
        c.version = c.source_version = d.value("version", "");
        c.layer = layer_of(placed.layer);
        c.location = path;
        if (ruby) {
          c.purl = "pkg:gem/" + purl_encode(c.name);
        } else if (php) {
          auto slash = c.name.find('/');
          c.purl = "pkg:composer/" + (slash == std::string::npos
                                          ? purl_encode(c.name)
                                          : purl_encode(c.name.substr(0, slash)) + "/" +
                                                purl_encode(c.name.substr(slash + 1)));
        } else if (rust) {
          c.purl = "pkg:cargo/" + purl_encode(c.name);
        } else {
          c.purl = "pkg:nuget/" + purl_encode(d.value("name", ""));
        }
        c.purl += "@" + purl_encode(c.version);
        c.owner = owner_of(path);
        if (!c.name.empty() && !c.version.empty()) inv.components.push_back(std::move(c));
      }
    } else if (rec.kind == "java-archive") {
      // Maven components of a .jar/.war/.ear, nested archives included ("app.jar!/BOOT-INF/...")
      if (!rec.data.is_array()) continue;
      for (const auto& d : rec.data) {
        auto p = JavaPackage::from_json(d);
        Component c;
        c.type = "maven";
        c.ecosystem = "Maven";
        c.name = c.source = p.name();
        c.version = c.source_version = p.version;
        c.layer = layer_of(placed.layer);
        c.location = p.inner.empty() ? path : path + "!/" + p.inner;
        c.purl = "pkg:maven/" + (p.group.empty() ? "" : purl_encode(p.group) + "/") +
                 purl_encode(p.artifact) + "@" + purl_encode(p.version);
        c.owner = owner_of(path);
        if (!p.artifact.empty() && !p.version.empty()) inv.components.push_back(std::move(c));
      }
    } else if (rec.kind == "binary") {
      const auto& b = rec.data;
      if (b.contains("go")) {
        const auto& g = b["go"];
        auto add_go = [&](const std::string& name, const std::string& version) {
          Component c;
          c.type = "golang";
          c.ecosystem = "Go";
          c.name = c.source = name;
          c.version = c.source_version = version;
          c.layer = layer_of(placed.layer);
          c.location = path;
          if (name == "stdlib")
            c.purl = "pkg:golang/stdlib@" + purl_encode(version);
          else
            c.purl = "pkg:golang/" + purl_namespace_name(name) +
                     (version.empty() || version == "(devel)" ? "" : "@" + purl_encode(version));
          inv.components.push_back(std::move(c));
        };
        if (auto v = go_version_to_semver(g.value("go_version", ""))) add_go("stdlib", *v);
        const auto& m = g["main"];
        if (!m.value("path", "").empty()) add_go(m.value("path", ""), m.value("version", ""));
        for (const auto& d : g["deps"])
          if (!d.value("path", "").empty()) add_go(d.value("path", ""), d.value("version", ""));
      }
      if (b.contains("package_note")) {
        const auto& n = b["package_note"];
        Component c;
        c.type = n.value("type", "generic");
        c.name = c.source = n.value("name", "");
        c.version = c.source_version = n.value("version", "");
        c.arch = n.value("architecture", "");
        auto os = n.value("os", "");
        c.ecosystem = os == "debian"   ? "Debian"
                      : os == "ubuntu" ? "Ubuntu"
                      : os == "fedora" ? "Fedora"
                                       : os;
        c.layer = layer_of(placed.layer);
        c.location = path;
        c.purl = "pkg:" + purl_encode(c.type) + "/" + purl_encode(os.empty() ? "unknown" : os) +
                 "/" + purl_encode(c.name) + "@" + purl_encode(c.version) +
                 qualifiers({{"arch", c.arch}});
        if (!c.name.empty() && !c.version.empty()) inv.components.push_back(std::move(c));
      }
      if (b.contains("rust")) {
        for (const auto& r : b["rust"]) {
          Component c;
          c.type = "cargo";
          c.ecosystem = "crates.io";
          c.name = c.source = r.value("name", "");
          c.version = c.source_version = r.value("version", "");
          c.layer = layer_of(placed.layer);
          c.location = path;
          c.purl = "pkg:cargo/" + purl_encode(c.name) + "@" + purl_encode(c.version);
          inv.components.push_back(std::move(c));
        }
      }
    }
  }
  // A .note.package naming a package its database already lists (systemd's libraries carry one)
  // is the same component: keep the database's record, which has the file list and layer.
  std::vector<Component> kept;
  resolve_depends(inv, relations, owned);
  for (auto& c : inv.components) {
    static const std::set<std::string> not_notes = {
        "golang", "cargo", "go-module", "npm",        "node-package", "python-package",
        "maven",  "gem",   "composer",  "cargo-lock", "nuget"};
    bool from_note = !not_notes.count(c.type) && c.location.find("/dpkg/") == std::string::npos &&
                     c.location.find("apk/db") == std::string::npos &&
                     c.location.find("rpmdb") == std::string::npos;
    if (from_note) {
      bool dup = false;
      for (const auto& d : inv.components)
        if (&d != &c && d.type == c.type && (d.source == c.name || d.name == c.name) &&
            (d.source_version == c.version || d.version == c.version) && d.location != c.location)
          dup = true;
      if (dup) continue;
    }
    kept.push_back(c);
  }
  inv.components = std::move(kept);
  return inv;
}

}  // namespace airheal::scan
