// Operator statements about findings: OpenVEX statements (not_affected with a justification,
// affected, fixed, under_investigation) and time-boxed exceptions (who, why, until when). A
// not_affected or fixed statement suppresses matching findings; an exception suppresses them
// until it expires or is revoked. Both are kept, listed and exported; nothing is ever deleted.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/sqlite.hpp"

namespace airheal::scan {

// OpenVEX v0.2.0 justifications for not_affected.
bool valid_vex_justification(const std::string& j);
bool valid_vex_status(const std::string& s);
// A product that names one image by digest (sha256:... or sha512:...), not a repository pattern.
bool names_digest(const std::string& product);

struct VexStatement {
  std::int64_t id = 0;
  std::string vulnerability, product, subcomponent, status, justification, impact_statement,
      action_statement, author;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> withdrawn_at;
};

struct Exception {
  std::int64_t id = 0;
  std::string vulnerability, product, subcomponent, reason, created_by;
  std::int64_t created_at = 0, expires_at = 0;
  std::optional<std::int64_t> revoked_at;
  std::string revoked_by;
  bool active(std::int64_t now) const { return !revoked_at && now < expires_at; }
};

// What a finding is checked against: its ids, the image's repositories/tags/digest and the
// component's names.
struct FindingSubject {
  std::vector<std::string> ids;         // advisory id and aliases
  std::string manifest;                 // sha256:...
  std::vector<std::string> products;    // "repo", "repo:tag" forms the image is known by
  std::vector<std::string> components;  // name, source, purl
};

struct Suppression {
  std::string kind;  // vex or exception
  std::int64_t id = 0;
  std::string detail;
};
std::optional<Suppression> suppression(const std::vector<VexStatement>& vex,
                                       const std::vector<Exception>& exceptions,
                                       const FindingSubject& f, std::int64_t now);
// under_investigation / affected statements that annotate (not suppress) a finding.
std::vector<const VexStatement*> annotations(const std::vector<VexStatement>& vex,
                                             const FindingSubject& f);

nlohmann::json to_json(const VexStatement& s);
nlohmann::json to_json(const Exception& e, std::int64_t now);
// A served image as OpenVEX names it: its digest, where it is served, and its components' purls.
struct VexImage {
  std::string repository, tag, digest;
  std::vector<std::pair<std::string, std::string>> components;  // (name, purl)
};
// An OpenVEX v0.2.0 document of the active statements. Products are the served images a
// statement's product names or matches, as pkg:oci/NAME@DIGEST purls (with
// repository_url=REGISTRY/REPO when REGISTRY is given), and subcomponents the purls of the
// packages it names in each (Trivy and Grype match both); a statement matching no served image
// keeps its product as written.
nlohmann::json openvex_document(const std::vector<VexStatement>& vex, const std::string& author,
                                std::int64_t now, const std::vector<VexImage>& images = {},
                                const std::string& registry = "");

}  // namespace airheal::scan
