#include <linux/capability.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands/command.hpp"
#include "core/confine.hpp"
#include "registry/auth.hpp"

namespace airheal::cli {

std::vector<std::unique_ptr<CommandGroup>> command_groups() {
  std::vector<std::unique_ptr<CommandGroup>> g;
  g.push_back(status_commands());
  g.push_back(maintenance_commands());
  g.push_back(user_commands());
  g.push_back(trust_commands());
  g.push_back(import_commands());
  g.push_back(advisory_commands());
  g.push_back(scan_commands());
  g.push_back(vex_commands());
  g.push_back(heal_commands());
  g.push_back(exception_commands());
  g.push_back(needs_commands());
  g.push_back(audit_commands());
  return g;
}

int fail(const std::string& msg, int code) {
  std::cerr << "airhealctl: " << msg << "\n";
  return code;
}

std::string operator_name() {
  // Computed once: the process may later become the state folder's owner (use_state_owner).
  static const std::string name = [] {
    auto n = registry::unix_user_name(::getuid());
    return n.empty() ? "uid " + std::to_string(::getuid()) : n;
  }();
  return name;
}

bool use_state_owner(const Context& ctx) {
  (void)operator_name();
  std::error_code ec;
  if (!std::filesystem::exists(ctx.cfg.state_dir, ec)) return true;
  // (the operator's own files, wherever they are, stay readable and writable)
  auto became =
      confine::become_owner_of(ctx.cfg.state_dir, {CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE});
  if (!became) {
    fail(became.error().message);
    return false;
  }
  return true;
}

Result<std::string> acting_user(const Context& ctx, const char* role) {
  auto unix_name = operator_name();
  auto user = registry::local_user_for(ctx.cfg.auth.local_users, unix_name);
  if (user.empty())
    return make_error(Errc::denied, "Unix user '" + unix_name +
                                        "' is not an airheal user (map it in auth.local_users)");
  auto users = registry::UserFile::load(ctx.cfg.users_file());
  if (!users) return users.error();
  if (!registry::local_rights(*users, user).has_role(role))
    return make_error(Errc::denied, "airheal user " + user + " does not have the " + role +
                                        " role (airhealctl user add " + user +
                                        " --no-password --role " + role + ")");
  return user;
}

std::string actor() { return "airhealctl:" + operator_name(); }

int journal_change(Services& services, nlohmann::json record, const std::string& done) {
  record["actor"] = actor();
  if (auto st = services.journal->append(std::move(record)); !st)
    return fail(done + " but the journal could not record it: " + st.error().message);
  return 0;
}

std::optional<Services> open_services(const Context& ctx, ServiceOptions options, bool create) {
  if (!create && !std::filesystem::exists(ctx.cfg.state_dir / "metadata.db")) {
    fail("no airheal state in " + ctx.cfg.state_dir.string() +
         " (start airheald once, or pass --state-dir)");
    return std::nullopt;
  }
  if (options.actor.empty()) options.actor = actor();
  if (!use_state_owner(ctx)) return std::nullopt;
  if (!options.warn) options.warn = [](const std::string& m) { std::cerr << m << "\n"; };
  auto s = make_services(ctx.cfg, options);
  if (!s) {
    fail(s.error().message);
    return std::nullopt;
  }
  return std::move(*s);
}

}  // namespace airheal::cli
