#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands/command.hpp"

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
  if (const char* u = std::getenv("SUDO_USER"); u && *u) return u;
  if (const char* u = std::getenv("USER"); u && *u) return u;
  return "uid " + std::to_string(::getuid());
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
  if (!options.warn) options.warn = [](const std::string& m) { std::cerr << m << "\n"; };
  auto s = make_services(ctx.cfg, options);
  if (!s) {
    fail(s.error().message);
    return std::nullopt;
  }
  return std::move(*s);
}

}  // namespace airheal::cli
