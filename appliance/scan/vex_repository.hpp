// The vex_statements and exceptions tables: operator statements and time-boxed exceptions are
// validated as they are stored, listed, withdrawn or revoked; nothing is ever deleted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/sqlite.hpp"
#include "scan/vex.hpp"

namespace airheal::scan {

// Validates per OpenVEX (status, justification or impact statement for not_affected, action
// statement for affected) and stores it.
Result<VexStatement> add_vex(sqlite::Connection& c, VexStatement s, std::int64_t now);
Status withdraw_vex(sqlite::Connection& c, std::int64_t id, std::int64_t now);
std::vector<VexStatement> list_vex(sqlite::Connection& c, bool include_withdrawn);
// Every served image with its components' purls (from its scanned inventory), for OpenVEX.
std::vector<VexImage> vex_images(sqlite::Connection& c);

Result<Exception> add_exception(sqlite::Connection& c, Exception e, std::int64_t now);
Status revoke_exception(sqlite::Connection& c, std::int64_t id, const std::string& by,
                        std::int64_t now);
std::vector<Exception> list_exceptions(sqlite::Connection& c, bool include_inactive,
                                       std::int64_t now);

}  // namespace airheal::scan
