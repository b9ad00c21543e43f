// airhealctl's scanning commands: scan, findings, inventory, sbom, vex, exception, heal, audit and evidence.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace airheal::cli {

struct ScanCommands {
  CLI::App *scan = nullptr, *findings = nullptr, *inventory = nullptr, *sbom = nullptr;
  CLI::App *vex = nullptr, *vex_add = nullptr, *vex_list = nullptr, *vex_withdraw = nullptr, *vex_export = nullptr;
  CLI::App *heals = nullptr, *heal = nullptr, *heal_run = nullptr, *heal_plan = nullptr, *heal_show = nullptr,
           *heal_approve = nullptr, *heal_rollback = nullptr, *heal_hold = nullptr;
  std::string runtime;
  CLI::App *audit = nullptr, *audit_verify = nullptr, *audit_checkpoint = nullptr, *audit_key = nullptr, *evidence = nullptr, *evidence_export = nullptr;
  std::string from, to, images, out, key_export;
  CLI::App *exc = nullptr, *exc_add = nullptr, *exc_list = nullptr, *exc_revoke = nullptr, *exc_export = nullptr;
  std::vector<std::string> refs;
  std::string ref, severity, format = "cyclonedx";
  bool force = false, all = false, include_suppressed = false, files = false;
  std::string vulnerability, product, subcomponent, status, justification, impact, action, author, reason, by, expires;
  std::int64_t id = 0;
};

void add_scan_commands(CLI::App& app, ScanCommands& s);
// The exit code when one of these commands was given, nullopt otherwise.
std::optional<int> run_scan_commands(const ScanCommands& s, const config::Config& cfg, bool json);

}  // namespace airheal::cli
