#include "scan/vex.hpp"

#include <fnmatch.h>

#include <set>

#include "core/digest.hpp"
#include "scan/sbom.hpp"

namespace airheal::scan {
namespace {

bool product_matches(const std::string& pattern, const FindingSubject& f) {
  if (pattern == f.manifest) return true;
  if (names_digest(pattern)) return false;
  for (const auto& p : f.products)
    if (fnmatch(pattern.c_str(), p.c_str(), 0) == 0) return true;
  return false;
}

bool component_matches(const std::string& sub, const FindingSubject& f) {
  if (sub.empty()) return true;
  for (const auto& c : f.components) {
    if (c == sub) return true;
    // A purl without version matches every version of that package.
    if (sub.rfind("pkg:", 0) == 0 && sub.find('@') == std::string::npos &&
        c.rfind(sub + "@", 0) == 0)
      return true;
  }
  return false;
}

bool id_matches(const std::string& v, const FindingSubject& f) {
  for (const auto& id : f.ids)
    if (id == v) return true;
  return false;
}

std::string product_iri(const std::string& p) {
  if (names_digest(p)) return "pkg:oci/image@" + purl_encode(p);
  if (p.find_first_of("*?[") == std::string::npos) {
    auto slash = p.rfind('/');
    return "pkg:oci/" + purl_encode(slash == std::string::npos ? p : p.substr(slash + 1)) +
           "?repository_url=" + purl_encode(p);
  }
  return "urn:airheal:image-pattern:" + purl_encode(p);
}

}  // namespace

bool names_digest(const std::string& p) {
  return p.rfind("sha256:", 0) == 0 || p.rfind("sha512:", 0) == 0;
}

bool valid_vex_justification(const std::string& j) {
  static const std::set<std::string> ok = {
      "component_not_present", "vulnerable_code_not_present", "vulnerable_code_not_in_execute_path",
      "vulnerable_code_cannot_be_controlled_by_adversary", "inline_mitigations_already_exist"};
  return ok.count(j) > 0;
}

bool valid_vex_status(const std::string& s) {
  return s == "not_affected" || s == "affected" || s == "fixed" || s == "under_investigation";
}

std::optional<Suppression> suppression(const std::vector<VexStatement>& vex,
                                       const std::vector<Exception>& exceptions,
                                       const FindingSubject& f, std::int64_t now) {
  for (const auto& s : vex) {
    if (s.withdrawn_at || (s.status != "not_affected" && s.status != "fixed")) continue;
    if (id_matches(s.vulnerability, f) && product_matches(s.product, f) &&
        component_matches(s.subcomponent, f))
      return Suppression{"vex", s.id,
                         s.status + (s.justification.empty() ? "" : " (" + s.justification + ")") +
                             " by " + s.author};
  }
  for (const auto& e : exceptions) {
    if (!e.active(now)) continue;
    if (id_matches(e.vulnerability, f) && product_matches(e.product, f) &&
        component_matches(e.subcomponent, f))
      return Suppression{
          "exception", e.id,
          "excepted by " + e.created_by + " until " + rfc3339(e.expires_at) + ": " + e.reason};
  }
  return std::nullopt;
}

std::vector<const VexStatement*> annotations(const std::vector<VexStatement>& vex,
                                             const FindingSubject& f) {
  std::vector<const VexStatement*> out;
  for (const auto& s : vex)
    if (!s.withdrawn_at && (s.status == "under_investigation" || s.status == "affected") &&
        id_matches(s.vulnerability, f) && product_matches(s.product, f) &&
        component_matches(s.subcomponent, f))
      out.push_back(&s);
  return out;
}

nlohmann::json to_json(const VexStatement& s) {
  nlohmann::json j = {{"id", s.id},           {"vulnerability", s.vulnerability},
                      {"product", s.product}, {"status", s.status},
                      {"author", s.author},   {"created", rfc3339(s.created_at)}};
  if (!s.subcomponent.empty()) j["subcomponent"] = s.subcomponent;
  if (!s.justification.empty()) j["justification"] = s.justification;
  if (!s.impact_statement.empty()) j["impact_statement"] = s.impact_statement;
  if (!s.action_statement.empty()) j["action_statement"] = s.action_statement;
  if (s.withdrawn_at) j["withdrawn"] = rfc3339(*s.withdrawn_at);
  return j;
}

nlohmann::json to_json(const Exception& e, std::int64_t now) {
  nlohmann::json j = {{"id", e.id},
                      {"vulnerability", e.vulnerability},
                      {"product", e.product},
                      {"reason", e.reason},
                      {"created_by", e.created_by},
                      {"created", rfc3339(e.created_at)},
                      {"expires", rfc3339(e.expires_at)},
                      {"active", e.active(now)},
                      {"state", e.revoked_at    ? "revoked"
                                : e.active(now) ? "active"
                                                : "expired"}};
  if (!e.subcomponent.empty()) j["subcomponent"] = e.subcomponent;
  if (e.revoked_at) {
    j["revoked"] = rfc3339(*e.revoked_at);
    j["revoked_by"] = e.revoked_by;
  }
  return j;
}

nlohmann::json openvex_document(const std::vector<VexStatement>& vex, const std::string& author,
                                std::int64_t now, const std::vector<VexImage>& images,
                                const std::string& registry) {
  auto statements = nlohmann::json::array();
  std::string ids;
  for (const auto& s : vex) {
    if (s.withdrawn_at) continue;
    ids += std::to_string(s.id) + ",";
    auto products = nlohmann::json::array();
    std::set<std::string> seen;
    for (const auto& img : images) {
      FindingSubject subject;
      subject.manifest = img.digest;
      subject.products = {img.repository, img.repository + ":" + img.tag};
      if (!product_matches(s.product, subject) || !seen.insert(img.digest).second) continue;
      auto slash = img.repository.rfind('/');
      std::string iri =
          "pkg:oci/" +
          purl_encode(slash == std::string::npos ? img.repository
                                                 : img.repository.substr(slash + 1)) +
          "@" + purl_encode(img.digest) +
          (registry.empty() ? ""
                            : "?repository_url=" + purl_encode(registry + "/" + img.repository));
      nlohmann::json product = {{"@id", iri}};
      if (!s.subcomponent.empty()) {
        auto subs = nlohmann::json::array();
        std::set<std::string> purls;
        for (const auto& [name, purl] : img.components) {
          bool named =
              s.subcomponent.rfind("pkg:", 0) == 0
                  ? purl == s.subcomponent || (s.subcomponent.find('@') == std::string::npos &&
                                               purl.rfind(s.subcomponent + "@", 0) == 0)
                  : name == s.subcomponent;
          if (named && !purl.empty() && purls.insert(purl).second) subs.push_back({{"@id", purl}});
        }
        if (subs.empty()) continue;  // the package is not in this image: nothing to state
        product["subcomponents"] = subs;
      }
      products.push_back(std::move(product));
    }
    if (products.empty()) {
      nlohmann::json product = {{"@id", product_iri(s.product)}};
      if (!s.subcomponent.empty())
        product["subcomponents"] = nlohmann::json::array(
            {{{"@id", s.subcomponent.rfind("pkg:", 0) == 0
                          ? s.subcomponent
                          : "urn:airheal:package:" + purl_encode(s.subcomponent)}}});
      products.push_back(std::move(product));
    }
    nlohmann::json st = {{"vulnerability", {{"name", s.vulnerability}}},
                         {"timestamp", rfc3339(s.created_at)},
                         {"products", products},
                         {"status", s.status}};
    if (!s.justification.empty()) st["justification"] = s.justification;
    if (!s.impact_statement.empty()) st["impact_statement"] = s.impact_statement;
    if (!s.action_statement.empty()) st["action_statement"] = s.action_statement;
    statements.push_back(std::move(st));
  }
  return {
      {"@context", "https://openvex.dev/ns/v0.2.0"},
      {"@id", "https://openvex.dev/docs/airheal/" + Sha256::of(ids + author).hex().substr(0, 32)},
      {"author", author},
      {"timestamp", rfc3339(now)},
      {"version", 1},
      {"statements", statements}};
}

}  // namespace airheal::scan
