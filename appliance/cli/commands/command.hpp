// airhealctl's commands, one group per file in this folder. main.cpp reads the global options,
// lets every group declare its subcommands, loads the configuration and runs the group whose
// subcommand was given. Each group opens only the services it needs, through the same
// make_services() airheald uses.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/services.hpp"

namespace airheal::cli {

// What every command sees once the command line is parsed.
struct Context {
  const config::Config& cfg;
  bool json = false;  // --json, before or after the subcommand
};

class CommandGroup {
 public:
  virtual ~CommandGroup() = default;
  // Declares the group's subcommands and their options on `app`.
  virtual void add(CLI::App& app) = 0;
  // True when one of the group's subcommands was given.
  virtual bool given() const = 0;
  // Runs it; returns the exit code (0 done, 1 failed or refused, 2 bad usage or no state, 3 held).
  virtual int run(const Context& ctx) = 0;
};

// Every group, in the order `airhealctl --help` lists them.
std::vector<std::unique_ptr<CommandGroup>> command_groups();

std::unique_ptr<CommandGroup> status_commands();       // status, version
std::unique_ptr<CommandGroup> maintenance_commands();  // store check, registry gc
std::unique_ptr<CommandGroup> user_commands();         // user add/remove/list
std::unique_ptr<CommandGroup> trust_commands();        // trust add/list/remove/revoke
std::unique_ptr<CommandGroup> import_commands();       // import, import-folder, snapshots, journal
std::unique_ptr<CommandGroup> advisory_commands();     // advisories show/package/stats
std::unique_ptr<CommandGroup> scan_commands();         // scan, findings, inventory, sbom
std::unique_ptr<CommandGroup> vex_commands();          // vex add/list/withdraw/export
std::unique_ptr<CommandGroup> heal_commands();  // heals, heal plan/run/show/approve/rollback/hold
std::unique_ptr<CommandGroup> exception_commands();  // exception add/list/revoke/export
std::unique_ptr<CommandGroup> needs_commands();      // needs export/show
std::unique_ptr<CommandGroup> audit_commands();      // audit verify/checkpoint/key, evidence export

// Prints "airhealctl: MSG" on stderr and returns `code`.
int fail(const std::string& msg, int code = 1);
// The Unix user running airhealctl, as the kernel knows it (getuid; never the environment).
std::string operator_name();
// How the journal names this command's actions: "airhealctl:<Unix user>".
std::string actor();
// The airheal user this Unix user acts as (auth.local_users; root is "root"), provided it holds
// ROLE; otherwise an error that says what is missing. What airhealctl records as approver,
// exception granter, VEX author: never free text.
Result<std::string> acting_user(const Context& ctx, const char* role);

// Journals a change already made (the actor is added). A change the journal could not record is
// reported as a failure: returns 1 after saying "<done> but the journal could not record it",
// else 0.
int journal_change(Services& services, nlohmann::json record,
                   const std::string& done = "the change was made");

// Run as root on a state folder that belongs to another user (the packaged airheal user):
// become that user before writing anything there, so that airheald, which runs as it, can still
// use what this command writes. The operator's name (operator_name) is kept from before, and so
// is access to the operator's own files (CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE, in this process
// only: a key on a medium only root may read, an export to /root). False (after saying why) when
// the switch failed.
bool use_state_owner(const Context& ctx);

// The state directory's services. Without `create`, a state directory airheald never ran in is
// refused ("no airheal state in ..."). On failure the reason is printed and the result is empty:
// the command then exits with 2.
std::optional<Services> open_services(const Context& ctx, ServiceOptions options = {},
                                      bool create = false);

}  // namespace airheal::cli
