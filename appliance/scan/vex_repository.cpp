#include "scan/vex_repository.hpp"

#include <map>

#include "core/digest.hpp"
#include "scan/inventory_repository.hpp"
#include "store/catalog.hpp"

namespace airheal::scan {
namespace {

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

}  // namespace

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

}  // namespace airheal::scan

namespace airheal::scan {

std::vector<VexImage> vex_images(sqlite::Connection& c) {
  std::vector<VexImage> out;
  std::map<std::string, std::optional<ImageInventory>> inventories;
  for (const auto& t : store::served_tags(c)) {
    VexImage img{t.repository, t.tag, t.digest, {}};
    auto& inv = inventories[t.digest];
    if (!inv) inv = InventoryRepository::load(c, t.digest);
    if (inv)
      for (const auto& comp : inv->components) img.components.emplace_back(comp.name, comp.purl);
    out.push_back(std::move(img));
  }
  return out;
}

}  // namespace airheal::scan
