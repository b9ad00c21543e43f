#include "scan/vex.hpp"

#include <fnmatch.h>

#include <set>

#include "core/digest.hpp"
#include "scan/sbom.hpp"

namespace airheal::scan {
namespace {

bool names_digest(const std::string& p) {
  return p.rfind("sha256:", 0) == 0 || p.rfind("sha512:", 0) == 0;
}

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

VexStatement vex_row(sqlite::Statement& st) {
  VexStatement s;
  s.id = st.get_int(0);
  s.vulnerability = st.get_text(1);
  s.product = st.get_text(2);
  s.subcomponent = st.get_text(3);
  s.status = st.get_text(4);
  s.justification = st.get_text(5);
  s.impact_statement = st.get_text(6);
  s.action_statement = st.get_text(7);
  s.author = st.get_text(8);
  s.created_at = st.get_int(9);
  if (!st.is_null(10)) s.withdrawn_at = st.get_int(10);
  return s;
}

Exception exception_row(sqlite::Statement& st) {
  Exception e;
  e.id = st.get_int(0);
  e.vulnerability = st.get_text(1);
  e.product = st.get_text(2);
  e.subcomponent = st.get_text(3);
  e.reason = st.get_text(4);
  e.created_by = st.get_text(5);
  e.created_at = st.get_int(6);
  e.expires_at = st.get_int(7);
  if (!st.is_null(8)) e.revoked_at = st.get_int(8);
  e.revoked_by = st.get_optional_text(9).value_or("");
  return e;
}

Status check_common(const std::string& vuln, const std::string& product) {
  if (vuln.empty()) return make_error(Errc::invalid_argument, "a vulnerability id is required");
  if (vuln.size() > 200)
    return make_error(
        Errc::invalid_argument,
        "the vulnerability id is " + std::to_string(vuln.size()) + " bytes; at most 200");
  if (product.empty())
    return make_error(Errc::invalid_argument,
                      "a product (repository pattern or digest) is required");
  if (product.size() > 512)
    return make_error(Errc::invalid_argument,
                      "the product is " + std::to_string(product.size()) + " bytes; at most 512");
  if (names_digest(product))
    if (auto d = Digest::parse(product); !d)
      return make_error(Errc::invalid_argument, "product: " + d.error().message);
  return {};
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

bool valid_vex_justification(const std::string& j) {
  static const std::set<std::string> ok = {
      "component_not_present", "vulnerable_code_not_present", "vulnerable_code_not_in_execute_path",
      "vulnerable_code_cannot_be_controlled_by_adversary", "inline_mitigations_already_exist"};
  return ok.count(j) > 0;
}

bool valid_vex_status(const std::string& s) {
  return s == "not_affected" || s == "affected" || s == "fixed" || s == "under_investigation";
}

Result<VexStatement> add_vex(sqlite::Connection& c, VexStatement s, std::int64_t now) {
  if (auto st = check_common(s.vulnerability, s.product); !st) return st.error();
  if (!valid_vex_status(s.status))
    return make_error(Errc::invalid_argument,
                      "status must be not_affected, affected, fixed or under_investigation");
  if (s.author.empty()) return make_error(Errc::invalid_argument, "a statement needs an author");
  if (!s.justification.empty() && !valid_vex_justification(s.justification))
    return make_error(Errc::invalid_argument,
                      "justification '" + s.justification +
                          "' is not an OpenVEX justification (component_not_present, "
                          "vulnerable_code_not_present, vulnerable_code_not_in_execute_path, "
                          "vulnerable_code_cannot_be_controlled_by_adversary, "
                          "inline_mitigations_already_exist)");
  if (s.status == "not_affected" && s.justification.empty() && s.impact_statement.empty())
    return make_error(Errc::invalid_argument,
                      "not_affected needs a justification or an impact statement (OpenVEX)");
  if (s.status != "not_affected" && !s.justification.empty())
    return make_error(Errc::invalid_argument,
                      "a justification is only for not_affected statements");
  if (s.status == "affected" && s.action_statement.empty())
    return make_error(Errc::invalid_argument, "affected needs an action statement (OpenVEX)");
  s.created_at = now;
  c.prepare(
       "INSERT INTO vex_statements (vulnerability, product, subcomponent, status, justification, "
       "impact_statement, "
       "action_statement, author, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, s.vulnerability)
      .bind(2, s.product)
      .bind(3, s.subcomponent)
      .bind(4, s.status)
      .bind(5, s.justification)
      .bind(6, s.impact_statement)
      .bind(7, s.action_statement)
      .bind(8, s.author)
      .bind(9, now)
      .run();
  s.id = c.last_insert_rowid();
  return s;
}

Status withdraw_vex(sqlite::Connection& c, std::int64_t id, std::int64_t now) {
  c.prepare("UPDATE vex_statements SET withdrawn_at = ? WHERE id = ? AND withdrawn_at IS NULL")
      .bind(1, now)
      .bind(2, id)
      .run();
  if (c.changes() == 0)
    return make_error(Errc::not_found, "no active VEX statement " + std::to_string(id));
  return {};
}

std::vector<VexStatement> list_vex(sqlite::Connection& c, bool include_withdrawn) {
  std::vector<VexStatement> out;
  auto st = c.prepare(
      std::string("SELECT id, vulnerability, product, subcomponent, status, justification, "
                  "impact_statement, "
                  "action_statement, author, created_at, withdrawn_at FROM vex_statements") +
      (include_withdrawn ? "" : " WHERE withdrawn_at IS NULL") + " ORDER BY id");
  while (st.step()) out.push_back(vex_row(st));
  return out;
}

Result<Exception> add_exception(sqlite::Connection& c, Exception e, std::int64_t now) {
  if (auto st = check_common(e.vulnerability, e.product); !st) return st.error();
  if (e.reason.empty()) return make_error(Errc::invalid_argument, "an exception needs a reason");
  if (e.created_by.empty())
    return make_error(Errc::invalid_argument, "an exception needs the name of who grants it");
  if (e.expires_at <= now)
    return make_error(Errc::invalid_argument, "an exception must expire in the future");
  if (e.expires_at - now > 366LL * 86400)
    return make_error(Errc::invalid_argument,
                      "an exception may last at most a year; renew it when it expires");
  e.created_at = now;
  c.prepare(
       "INSERT INTO exceptions (vulnerability, product, subcomponent, reason, created_by, "
       "created_at, expires_at) "
       "VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind(1, e.vulnerability)
      .bind(2, e.product)
      .bind(3, e.subcomponent)
      .bind(4, e.reason)
      .bind(5, e.created_by)
      .bind(6, now)
      .bind(7, e.expires_at)
      .run();
  e.id = c.last_insert_rowid();
  return e;
}

Status revoke_exception(sqlite::Connection& c, std::int64_t id, const std::string& by,
                        std::int64_t now) {
  c.prepare(
       "UPDATE exceptions SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL")
      .bind(1, now)
      .bind(2, by)
      .bind(3, id)
      .run();
  if (c.changes() == 0)
    return make_error(Errc::not_found, "no unrevoked exception " + std::to_string(id));
  return {};
}

std::vector<Exception> list_exceptions(sqlite::Connection& c, bool include_inactive,
                                       std::int64_t now) {
  std::vector<Exception> out;
  auto st = c.prepare(
      "SELECT id, vulnerability, product, subcomponent, reason, created_by, created_at, "
      "expires_at, "
      "revoked_at, revoked_by FROM exceptions ORDER BY id");
  while (st.step()) {
    auto e = exception_row(st);
    if (include_inactive || e.active(now)) out.push_back(std::move(e));
  }
  return out;
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
                                std::int64_t now) {
  auto statements = nlohmann::json::array();
  std::string ids;
  for (const auto& s : vex) {
    if (s.withdrawn_at) continue;
    ids += std::to_string(s.id) + ",";
    nlohmann::json product = {{"@id", product_iri(s.product)}};
    if (!s.subcomponent.empty())
      product["subcomponents"] = nlohmann::json::array(
          {{{"@id", s.subcomponent.rfind("pkg:", 0) == 0
                        ? s.subcomponent
                        : "urn:airheal:package:" + purl_encode(s.subcomponent)}}});
    nlohmann::json st = {{"vulnerability", {{"name", s.vulnerability}}},
                         {"timestamp", rfc3339(s.created_at)},
                         {"products", nlohmann::json::array({product})},
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
