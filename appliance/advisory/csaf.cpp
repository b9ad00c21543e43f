// CSAF 2.0 (OASIS Common Security Advisory Framework) documents, the security advisory and VEX
// profiles Red Hat, SUSE and others publish: each vulnerability becomes an advisory, and each
// product its status names becomes an OSV-shaped affected[] element keyed by (ecosystem, package),
// so matching and version ordering are the ones OSV records get.
//
// A product id is resolved through the product tree: a relationship ("default_component_of")
// joins a component (the package) to a platform (the distribution release). The package comes from
// the component's purl (pkg:rpm/redhat/openssl@1.1.1k-7.el8_6?arch=x86_64&epoch=1), else, for rpm
// vendors, from an RPM NEVRA product name ("openssl-1:1.1.1k-7.el8_6.x86_64"); the release from the
// platform's CPE (cpe:/o:redhat:enterprise_linux:8::baseos -> "Red Hat:8"). Statuses:
//   fixed, first_fixed         -> affected below that version: {"introduced": "0"}, {"fixed": V}
//   known_affected, first_affected, last_affected -> that version: "versions": [V] (and, with a
//                                 vendor_fix remediation naming no version, no fix is known)
//   known_not_affected         -> no affected element (kept in the document, which is stored)
//   under_investigation        -> no affected element
// Products that name no package (a whole platform, a container image by name) are left out.
#include <map>
#include <set>

#include "advisory/advisory.hpp"
#include "core/json.hpp"
#include "version/version.hpp"

namespace airheal::advisory {
namespace {

using nlohmann::json;

Error csaf_bad(std::string_view name, const std::string& what) {
  return make_error(Errc::invalid_argument, std::string(name) + ": " + what);
}

struct Product {
  std::string name, purl, cpe, vendor;
};

struct Package {
  std::string ecosystem, name, version;
};

std::string purl_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto h = std::string(s.substr(i + 1, 2));
      char* end = nullptr;
      auto v = std::strtol(h.c_str(), &end, 16);
      if (end == h.c_str() + 2) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// The OSV ecosystem of a purl type and namespace; "" when airheal matches none.
std::string ecosystem_of(const std::string& type, const std::string& ns) {
  if (type == "rpm") {
    if (ns == "redhat") return "Red Hat";
    if (ns == "rocky" || ns == "rocky-linux" || ns == "rockylinux") return "Rocky Linux";
    if (ns == "almalinux" || ns == "alma") return "AlmaLinux";
    if (ns == "opensuse") return "openSUSE";
    if (ns == "suse" || ns == "sles") return "SUSE";
    return "";
  }
  if (type == "apk") {
    if (ns == "alpine") return "Alpine";
    if (ns == "wolfi") return "Wolfi";
    if (ns == "chainguard") return "Chainguard";
    return "";
  }
  if (type == "deb") return ns == "ubuntu" ? "Ubuntu" : ns == "debian" ? "Debian" : "";
  static const std::map<std::string, std::string> lang = {
      {"npm", "npm"},      {"pypi", "PyPI"},   {"maven", "Maven"},     {"golang", "Go"},
      {"gem", "RubyGems"}, {"nuget", "NuGet"}, {"cargo", "crates.io"}, {"composer", "Packagist"}};
  auto it = lang.find(type);
  return it == lang.end() ? "" : it->second;
}

// pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH
std::optional<Package> from_purl(const std::string& purl) {
  if (!purl.starts_with("pkg:")) return std::nullopt;
  auto rest = std::string_view(purl).substr(4);
  if (auto h = rest.find('#'); h != std::string_view::npos) rest = rest.substr(0, h);
  std::string_view quals;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    quals = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  auto at = rest.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;  // no version: not one build
  auto version = purl_decode(rest.substr(at + 1));
  rest = rest.substr(0, at);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string type(rest.substr(0, slash));
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto path = rest.substr(slash + 1);
  std::string ns, name;
  if (auto last = path.rfind('/'); last != std::string_view::npos) {
    ns = purl_decode(path.substr(0, last));
    name = purl_decode(path.substr(last + 1));
  } else {
    name = purl_decode(path);
  }
  auto lower_ns = ns;
  for (auto& c : lower_ns) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Package p;
  p.ecosystem = ecosystem_of(type, lower_ns);
  if (p.ecosystem.empty() || name.empty() || version.empty()) return std::nullopt;
  p.name = type == "maven"                                    ? ns + ":" + name
           : type == "golang" || type == "npm" && !ns.empty() ? ns + "/" + name
                                                              : name;
  // rpm: the epoch is a qualifier.
  std::size_t i = 0;
  while (i < quals.size()) {
    auto amp = quals.find('&', i);
    auto kv = quals.substr(i, amp == std::string_view::npos ? std::string_view::npos : amp - i);
    if (kv.starts_with("epoch=") && type == "rpm") {
      auto e = purl_decode(kv.substr(6));
      if (!e.empty() && e != "0") version = e + ":" + version;
    }
    if (amp == std::string_view::npos) break;
    i = amp + 1;
  }
  p.version = version;
  return p;
}

// NAME-[EPOCH:]VERSION-RELEASE[.ARCH], as Red Hat names rpm products without purls.
std::optional<Package> from_nevra(const std::string& s, const std::string& ecosystem) {
  static const std::set<std::string> arches = {"x86_64", "aarch64", "ppc64le", "s390x", "noarch",
                                               "i686",   "src",     "ppc64",   "s390"};
  auto n = s;
  if (auto dot = n.rfind('.'); dot != std::string::npos && arches.count(n.substr(dot + 1)))
    n = n.substr(0, dot);
  auto r = n.rfind('-');
  if (r == std::string::npos || r == 0) return std::nullopt;
  auto v = n.rfind('-', r - 1);
  if (v == std::string::npos || v == 0) return std::nullopt;
  Package p{ecosystem, n.substr(0, v), n.substr(v + 1)};
  if (p.version.empty() || !std::isdigit(static_cast<unsigned char>(p.version[0])))
    return std::nullopt;
  if (p.version.starts_with("0:")) p.version = p.version.substr(2);
  return p;
}

// The release a platform CPE names: cpe:/o:redhat:enterprise_linux:8::baseos -> "8";
// cpe:2.3:o:suse:sles:15:sp5:... -> "15".
std::string cpe_release(const std::string& cpe) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= cpe.size()) {
    auto c = cpe.find(':', i);
    parts.push_back(cpe.substr(i, c == std::string::npos ? std::string::npos : c - i));
    if (c == std::string::npos) break;
    i = c + 1;
  }
  // cpe:/o:vendor:product:version or cpe:2.3:o:vendor:product:version
  std::size_t at = cpe.starts_with("cpe:2.3:") ? 5 : 4;
  if (parts.size() <= at) return {};
  auto v = parts[at];
  if (v == "*" || v == "-") return {};
  return v;
}

void collect(const json& branches, std::map<std::string, Product>& out, const std::string& vendor,
             int depth, std::size_t& count) {
  if (!branches.is_array() || depth > 30) return;
  for (const auto& b : branches) {
    if (!b.is_object() || ++count > 500000) return;
    auto v = b.value("category", "") == "vendor" ? b.value("name", "") : vendor;
    if (b.contains("product") && b["product"].is_object()) {
      const auto& p = b["product"];
      Product x;
      x.name = p.value("name", "");
      x.vendor = v;
      if (auto h = p.find("product_identification_helper"); h != p.end() && h->is_object()) {
        x.purl = h->value("purl", "");
        x.cpe = h->value("cpe", "");
      }
      auto id = p.value("product_id", "");
      if (!id.empty()) out[id] = x;
    }
    if (b.contains("branches")) collect(b["branches"], out, v, depth + 1, count);
  }
}

}  // namespace

Result<std::vector<Advisory>> parse_csaf(std::string_view bytes, std::string_view name) {
  JsonLimits limits;
  limits.max_bytes = 256u << 20;
  limits.max_depth = 64;
  auto parsed = parse_json(bytes, limits, std::string("CSAF document ") + std::string(name));
  if (!parsed) return parsed.error();
  const auto& d = *parsed;
  if (!d.is_object() || !d.contains("document") || !d["document"].is_object())
    return csaf_bad(name, "a CSAF document is a JSON object with a 'document' object");
  const auto& doc = d["document"];
  if (doc.value("csaf_version", "") != "2.0")
    return csaf_bad(name, "document.csaf_version must be \"2.0\"");
  if (!doc.contains("tracking") || !doc["tracking"].is_object() ||
      !doc["tracking"].contains("id") || !doc["tracking"]["id"].is_string())
    return csaf_bad(name, "document.tracking.id must be a string");
  const auto& tracking = doc["tracking"];
  std::string doc_id = tracking["id"];
  if (doc_id.empty() || doc_id.size() > 256) return csaf_bad(name, "bad document.tracking.id");
  // Products by id.
  std::map<std::string, Product> products;
  std::size_t count = 0;
  std::map<std::string, std::pair<std::string, std::string>> relationships;  // id -> (comp, plat)
  if (d.contains("product_tree")) {
    const auto& tree = d["product_tree"];
    if (!tree.is_object()) return csaf_bad(name, "product_tree must be an object");
    if (tree.contains("branches")) collect(tree["branches"], products, "", 0, count);
    if (auto f = tree.find("full_product_names"); f != tree.end() && f->is_array())
      for (const auto& p : *f)
        if (p.is_object() && p.contains("product_id")) {
          Product x;
          x.name = p.value("name", "");
          if (auto h = p.find("product_identification_helper"); h != p.end() && h->is_object()) {
            x.purl = h->value("purl", "");
            x.cpe = h->value("cpe", "");
          }
          products[p.value("product_id", "")] = x;
        }
    if (auto r = tree.find("relationships"); r != tree.end() && r->is_array())
      for (const auto& rel : *r) {
        if (!rel.is_object() || !rel.contains("full_product_name")) continue;
        auto id = rel["full_product_name"].value("product_id", "");
        relationships[id] = {rel.value("product_reference", ""),
                             rel.value("relates_to_product_reference", "")};
      }
  }
  if (count > 500000) return csaf_bad(name, "the product tree has more than 500000 branches");
  auto package_of = [&](const std::string& id) -> std::optional<Package> {
    std::string comp = id, plat;
    if (auto r = relationships.find(id); r != relationships.end()) {
      comp = r->second.first;
      plat = r->second.second;
    }
    auto c = products.find(comp);
    if (c == products.end()) return std::nullopt;
    std::optional<Package> p;
    if (!c->second.purl.empty()) p = from_purl(c->second.purl);
    if (!p && !c->second.vendor.empty()) {
      auto eco = ecosystem_of("rpm", c->second.vendor == "Red Hat" ? "redhat"
                                     : c->second.vendor == "SUSE"  ? "suse"
                                                                   : c->second.vendor);
      if (!eco.empty()) p = from_nevra(c->second.name, eco);
    }
    if (!p) return std::nullopt;
    if (auto pl = products.find(plat); pl != products.end() && !pl->second.cpe.empty()) {
      auto rel = cpe_release(pl->second.cpe);
      bool os = p->ecosystem != "npm" && p->ecosystem != "PyPI" && p->ecosystem != "Maven" &&
                p->ecosystem != "Go" && p->ecosystem != "RubyGems" && p->ecosystem != "NuGet" &&
                p->ecosystem != "crates.io" && p->ecosystem != "Packagist";
      if (!rel.empty() && os) p->ecosystem += ":" + rel;
    }
    return p;
  };
  json severity_doc = json::array();
  std::vector<Advisory> out;
  if (!d.contains("vulnerabilities")) return out;  // a document with no vulnerability section
  if (!d["vulnerabilities"].is_array()) return csaf_bad(name, "vulnerabilities must be an array");
  std::size_t index = 0;
  for (const auto& v : d["vulnerabilities"]) {
    ++index;
    if (!v.is_object()) return csaf_bad(name, "vulnerabilities[] must be objects");
    Advisory a;
    a.source = Format::csaf;
    a.id = v.value("cve", "");
    if (a.id.empty() && v.contains("ids") && v["ids"].is_array() && !v["ids"].empty())
      a.id = v["ids"][0].value("text", "");
    if (a.id.empty()) a.id = doc_id + "#" + std::to_string(index);
    if (a.id.size() > 256) return csaf_bad(name, "a vulnerability id is longer than 256 bytes");
    a.aliases.push_back(doc_id);
    a.summary = v.value("title", doc.value("title", ""));
    a.published = tracking.value("initial_release_date", "");
    a.modified = tracking.value("current_release_date", "");
    if (auto s = v.find("scores"); s != v.end() && s->is_array())
      for (const auto& sc : *s)
        if (sc.is_object())
          for (auto [key, type] :
               {std::pair{"cvss_v3", "CVSS_V3"}, std::pair{"cvss_v2", "CVSS_V2"}})
            if (sc.contains(key) && sc[key].is_object() && sc[key].contains("vectorString")) {
              json entry = {{"type", type}, {"score", sc[key].value("vectorString", "")}};
              bool seen = false;
              for (const auto& e : a.severity) seen = seen || e == entry;
              if (!seen) a.severity.push_back(entry);
            }
    a.document = {{"csaf", doc_id}, {"vulnerability", v}};
    if (auto t = v.find("threats"); t != v.end() && t->is_array())
      for (const auto& th : *t)
        if (th.is_object() && th.value("category", "") == "impact")
          a.document["impact"] = th.value("details", "");
    if (auto ps = v.find("product_status"); ps != v.end()) {
      if (!ps->is_object()) return csaf_bad(name, "product_status must be an object");
      // One affected element per (ecosystem, package): fixed versions become range events,
      // affected versions exact entries.
      std::map<std::pair<std::string, std::string>, json> by_package;
      auto element = [&](const Package& p) -> json& {
        auto& e = by_package[{p.ecosystem, p.name}];
        if (e.is_null())
          e = {{"package", {{"ecosystem", p.ecosystem}, {"name", p.name}}},
               {"database_specific", {{"csaf", doc_id}}}};
        return e;
      };
      for (auto status :
           {"fixed", "first_fixed", "known_affected", "first_affected", "last_affected"}) {
        if (!ps->contains(status)) continue;
        if (!(*ps)[status].is_array())
          return csaf_bad(name, std::string(status) + " must be an array");
        for (const auto& id : (*ps)[status]) {
          if (!id.is_string()) return csaf_bad(name, "product ids must be strings");
          auto p = package_of(id.get<std::string>());
          if (!p) continue;
          auto& e = element(*p);
          if (std::string_view(status).find("fixed") != std::string_view::npos) {
            if (e.contains("ranges")) {
              // Several fixed builds of one package for one release: the lowest fix holds.
              auto have = e["ranges"][0]["events"][1]["fixed"].get<std::string>();
              auto base = p->ecosystem.substr(0, p->ecosystem.find(':'));
              auto cmp = version::compare(base, p->version, have);
              if (!cmp || *cmp >= 0) continue;
            }
            e["ranges"] = json::array(
                {{{"type", "ECOSYSTEM"},
                  {"events", json::array({{{"introduced", "0"}}, {{"fixed", p->version}}})}}});
          } else {
            e["versions"].push_back(p->version);
          }
        }
      }
      for (auto& [key, e] : by_package) {
        // Several fixed builds of one package in one release (several streams): the lowest fix
        // stays; OSV's ECOSYSTEM range then covers every version below it.
        a.affected.push_back({key.first, key.second, std::move(e)});
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace airheal::advisory
