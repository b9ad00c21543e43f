#include "scan/sbom.hpp"

#include <algorithm>
#include <map>

#include "core/digest.hpp"
#include "core/time.hpp"

namespace airheal::scan {
namespace {

// RFC 4122 name-based (SHA) UUID: version 5 bits, variant 10.
std::string uuid_from(const std::string& name) {
  auto h = Sha256::of(name).hex();
  std::string u = h.substr(0, 32);
  u[12] = '5';
  u[16] = "89ab"[std::stoi(u.substr(16, 1), nullptr, 16) & 3];
  return u.substr(0, 8) + "-" + u.substr(8, 4) + "-" + u.substr(12, 4) + "-" + u.substr(16, 4) +
         "-" + u.substr(20, 12);
}

std::string image_purl(const SbomSubject& s) {
  auto slash = s.repository.rfind('/');
  auto name = slash == std::string::npos ? s.repository : s.repository.substr(slash + 1);
  std::string purl = "pkg:oci/" + purl_encode(name) + "@" + purl_encode(s.digest);
  purl += "?repository_url=" + purl_encode(s.repository);
  if (!s.tags.empty()) purl += "&tag=" + purl_encode(s.tags.front());
  return purl;
}

std::string spdx_id(std::size_t i) { return "SPDXRef-Package-" + std::to_string(i); }

// CycloneDX's organizationalEntity from "Name <address>" (dpkg Maintainer, apk m:) or a plain
// vendor name (rpm Vendor).
nlohmann::json supplier(const std::string& text) {
  auto lt = text.find('<');
  auto gt = text.find('>', lt == std::string::npos ? 0 : lt);
  if (lt == std::string::npos || gt == std::string::npos) return {{"name", text}};
  auto name = text.substr(0, lt);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  auto email = text.substr(lt + 1, gt - lt - 1);
  nlohmann::json org = {{"name", name.empty() ? email : name}};
  if (email.find('@') != std::string::npos && email.find(' ') == std::string::npos)
    org["contact"] = nlohmann::json::array({{{"email", email}}});
  return org;
}

constexpr std::size_t kNoOwner = static_cast<std::size_t>(-1);

// For each component, the index of the OS package component that owns it (by name, among the
// image's deb, apk and rpm components), or kNoOwner.
std::vector<std::size_t> owners_of(const ImageInventory& inv) {
  std::map<std::string, std::size_t> os;
  for (std::size_t i = 0; i < inv.components.size(); ++i) {
    const auto& c = inv.components[i];
    if (c.type == "deb" || c.type == "apk" || c.type == "rpm") os.emplace(c.name, i);
  }
  std::vector<std::size_t> out(inv.components.size(), kNoOwner);
  for (std::size_t i = 0; i < inv.components.size(); ++i) {
    auto it = inv.components[i].owner.empty() ? os.end() : os.find(inv.components[i].owner);
    if (it != os.end() && it->second != i) out[i] = it->second;
  }
  return out;
}

}  // namespace

std::string rfc3339(std::int64_t t) { return format_time(t); }

nlohmann::json cyclonedx(const ImageInventory& inv, const SbomSubject& s) {
  auto components = nlohmann::json::array();
  if (!inv.os.id.empty()) {
    nlohmann::json os = {{"type", "operating-system"}, {"bom-ref", "os"}, {"name", inv.os.id}};
    if (!inv.os.version_id.empty()) os["version"] = inv.os.version_id;
    if (!inv.os.pretty_name.empty()) os["description"] = inv.os.pretty_name;
    components.push_back(os);
  }
  // An application package whose files an OS package owns is nested in that package's entry
  // (CycloneDX's assembly: it is part of that component), not listed beside it.
  auto owner_index = owners_of(inv);
  std::map<std::size_t, nlohmann::json> nested;
  std::vector<nlohmann::json> entries(inv.components.size());
  for (std::size_t i = 0; i < inv.components.size(); ++i) {
    const auto& c = inv.components[i];
    nlohmann::json j = {
        {"type", c.type == "golang" && c.name == "stdlib" ? "framework" : "library"},
        {"bom-ref", "component-" + std::to_string(i)},
        {"name", c.name},
        {"version", c.version}};
    if (!c.purl.empty()) j["purl"] = c.purl;
    if (!c.supplier.empty()) j["supplier"] = supplier(c.supplier);
    if (!c.licenses.empty()) {
      auto ls = nlohmann::json::array();
      for (const auto& l : c.licenses) ls.push_back({{"license", {{"name", l}}}});
      j["licenses"] = ls;
    }
    auto props = nlohmann::json::array();
    auto prop = [&](const char* k, const std::string& v) {
      if (!v.empty()) props.push_back({{"name", std::string("airheal:") + k}, {"value", v}});
    };
    prop("package:type", c.type);
    prop("package:ecosystem", c.ecosystem);
    if (c.source != c.name || c.source_version != c.version) {
      prop("package:source", c.source);
      prop("package:source-version", c.source_version);
    }
    prop("layer:digest", c.layer);
    prop("location", c.location);
    prop("owned-by", c.owner);
    j["properties"] = props;
    entries[i] = std::move(j);
  }
  for (std::size_t i = inv.components.size(); i-- > 0;)
    if (owner_index[i] != kNoOwner) {
      auto& parent = entries[owner_index[i]];
      if (!parent.contains("components")) parent["components"] = nlohmann::json::array();
      parent["components"].insert(parent["components"].begin(), std::move(entries[i]));
    }
  // The dependency graph: the image depends on what it holds at the top; each OS package on the
  // installed packages it requires; a package nested in an OS package on nothing further.
  auto dependencies = nlohmann::json::array();
  std::map<std::pair<std::string, std::string>, std::string> ref_of;  // (type, name) -> bom-ref
  for (std::size_t i = 0; i < inv.components.size(); ++i)
    ref_of.emplace(std::pair{inv.components[i].type, inv.components[i].name},
                   "component-" + std::to_string(i));
  auto top = nlohmann::json::array();
  if (!inv.os.id.empty()) top.push_back("os");
  for (std::size_t i = 0; i < inv.components.size(); ++i) {
    auto ref = "component-" + std::to_string(i);
    if (owner_index[i] == kNoOwner) top.push_back(ref);
    auto on = nlohmann::json::array();
    for (const auto& d : inv.components[i].depends) {
      auto it = ref_of.find({inv.components[i].type, d});
      if (it != ref_of.end() && it->second != ref &&
          std::find(on.begin(), on.end(), it->second) == on.end())
        on.push_back(it->second);
    }
    dependencies.push_back({{"ref", ref}, {"dependsOn", on}});
  }
  dependencies.insert(dependencies.begin(),
                      nlohmann::json{{"ref", "image"}, {"dependsOn", std::move(top)}});
  for (std::size_t i = 0; i < inv.components.size(); ++i)
    if (owner_index[i] == kNoOwner) components.push_back(std::move(entries[i]));
  nlohmann::json subject = {{"type", "container"},
                            {"bom-ref", "image"},
                            {"name", s.repository},
                            {"version", s.digest},
                            {"purl", image_purl(s)}};
  return {
      {"$schema", "http://cyclonedx.org/schema/bom-1.5.schema.json"},
      {"bomFormat", "CycloneDX"},
      {"specVersion", "1.5"},
      {"serialNumber",
       "urn:uuid:" + uuid_from("cyclonedx " + s.digest + " " + std::to_string(s.created))},
      {"version", 1},
      {"metadata",
       {{"timestamp", rfc3339(s.created)},
        {"tools",
         {{"components",
           nlohmann::json::array(
               {{{"type", "application"}, {"name", "airheal"}, {"version", s.tool_version}}})}}},
        {"component", subject}}},
      {"components", components},
      {"dependencies", dependencies}};
}

nlohmann::json spdx(const ImageInventory& inv, const SbomSubject& s) {
  auto packages = nlohmann::json::array();
  auto rels = nlohmann::json::array();
  packages.push_back(
      {{"name", s.repository},
       {"SPDXID", "SPDXRef-Image"},
       {"versionInfo", s.digest},
       {"downloadLocation", "NOASSERTION"},
       {"filesAnalyzed", false},
       {"primaryPackagePurpose", "CONTAINER"},
       {"externalRefs", nlohmann::json::array({{{"referenceCategory", "PACKAGE-MANAGER"},
                                                {"referenceType", "purl"},
                                                {"referenceLocator", image_purl(s)}}})}});
  rels.push_back({{"spdxElementId", "SPDXRef-DOCUMENT"},
                  {"relationshipType", "DESCRIBES"},
                  {"relatedSpdxElement", "SPDXRef-Image"}});
  if (!inv.os.id.empty()) {
    packages.push_back(
        {{"name", inv.os.id},
         {"SPDXID", "SPDXRef-OperatingSystem"},
         {"versionInfo", inv.os.version_id.empty() ? "NOASSERTION" : inv.os.version_id},
         {"downloadLocation", "NOASSERTION"},
         {"filesAnalyzed", false},
         {"primaryPackagePurpose", "OPERATING_SYSTEM"}});
    rels.push_back({{"spdxElementId", "SPDXRef-Image"},
                    {"relationshipType", "CONTAINS"},
                    {"relatedSpdxElement", "SPDXRef-OperatingSystem"}});
  }
  auto owner_index = owners_of(inv);
  for (std::size_t i = 0; i < inv.components.size(); ++i) {
    const auto& c = inv.components[i];
    nlohmann::json p = {{"name", c.name},
                        {"SPDXID", spdx_id(i)},
                        {"versionInfo", c.version},
                        {"downloadLocation", "NOASSERTION"},
                        {"filesAnalyzed", false},
                        {"licenseConcluded", "NOASSERTION"},
                        {"licenseDeclared", "NOASSERTION"},
                        {"copyrightText", "NOASSERTION"},
                        {"primaryPackagePurpose",
                         c.type == "golang" && c.name == "stdlib" ? "FRAMEWORK" : "LIBRARY"}};
    if (c.source != c.name || c.source_version != c.version)
      p["sourceInfo"] = "built from source package " + c.source + " " + c.source_version;
    std::string comment = "layer " + c.layer + "; found in /" + c.location;
    if (!c.owner.empty())
      comment += "; part of the OS package " + c.owner + ", matched as that package";
    p["comment"] = comment;
    if (!c.supplier.empty()) p["supplier"] = "Organization: " + c.supplier;
    if (!c.purl.empty())
      p["externalRefs"] = nlohmann::json::array({{{"referenceCategory", "PACKAGE-MANAGER"},
                                                  {"referenceType", "purl"},
                                                  {"referenceLocator", c.purl}}});
    packages.push_back(std::move(p));
    rels.push_back(
        {{"spdxElementId", owner_index[i] == kNoOwner ? "SPDXRef-Image" : spdx_id(owner_index[i])},
         {"relationshipType", "CONTAINS"},
         {"relatedSpdxElement", spdx_id(i)}});
  }
  std::map<std::pair<std::string, std::string>, std::size_t> index_of;
  for (std::size_t i = 0; i < inv.components.size(); ++i)
    index_of.emplace(std::pair{inv.components[i].type, inv.components[i].name}, i);
  for (std::size_t i = 0; i < inv.components.size(); ++i)
    for (const auto& d : inv.components[i].depends) {
      auto it = index_of.find({inv.components[i].type, d});
      if (it != index_of.end() && it->second != i)
        rels.push_back({{"spdxElementId", spdx_id(i)},
                        {"relationshipType", "DEPENDS_ON"},
                        {"relatedSpdxElement", spdx_id(it->second)}});
    }
  return {{"spdxVersion", "SPDX-2.3"},
          {"dataLicense", "CC0-1.0"},
          {"SPDXID", "SPDXRef-DOCUMENT"},
          {"name", s.repository + "@" + s.digest},
          {"documentNamespace",
           "https://airheal.invalid/spdx/" + s.digest.substr(s.digest.find(':') + 1) + "/" +
               uuid_from("spdx " + s.digest + " " + std::to_string(s.created))},
          {"creationInfo",
           {{"created", rfc3339(s.created)},
            {"creators", nlohmann::json::array({"Tool: airheal-" + s.tool_version})}}},
          {"packages", packages},
          {"relationships", rels}};
}

nlohmann::json artifact_manifest(const std::string& artifact_type, const std::string& blob_digest,
                                 std::uint64_t blob_size, const std::string& subject_media_type,
                                 const std::string& subject_digest, std::uint64_t subject_size,
                                 const nlohmann::json& annotations) {
  return {{"schemaVersion", 2},
          {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
          {"artifactType", artifact_type},
          {"config",
           {{"mediaType", "application/vnd.oci.empty.v1+json"},
            {"digest", "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
            {"size", 2},
            {"data", "e30="}}},
          {"layers",
           nlohmann::json::array(
               {{{"mediaType", artifact_type}, {"digest", blob_digest}, {"size", blob_size}}})},
          {"subject",
           {{"mediaType", subject_media_type}, {"digest", subject_digest}, {"size", subject_size}}},
          {"annotations", annotations}};
}

}  // namespace airheal::scan
