// airhealctl: the operator's command line. Works on the state directory directly, so it runs
// whether or not airheald is up (SQLite WAL and the store's locks make that safe). The commands
// live in cli/commands/, one file per group.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "cli/commands/command.hpp"
#include "config/config.hpp"
#include "core/archive_path.hpp"

using namespace airheal;

int main(int argc, char** argv) {
  airheal::use_utf8_ctype();
  spdlog::set_level(spdlog::level::warn);
  CLI::App app{"airhealctl - operate an airheal appliance"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "airhealctl " AIRHEAL_VERSION);
  std::string config_file, state_dir;
  bool json_out = false;
  app.add_option("--config", config_file, "YAML configuration file (as given to airheald)");
  app.add_option("--state-dir", state_dir, "state directory (overrides state_dir)");
  app.add_flag("--json", json_out, "machine-readable output");
  // The options above may also follow the subcommand (`airhealctl findings --json`, as users type
  // them): a subcommand hands an option it does not know to its parent. Subcommands inherit this.
  app.fallthrough();

  auto groups = cli::command_groups();
  for (auto& g : groups) g->add(app);
  CLI11_PARSE(app, argc, argv);

  config::Config cfg;
  // On a packaged host airhealctl reads the same file as the service: --config, else
  // $AIRHEAL_CONFIG, else /etc/airheal/airheal.yaml when it exists and no --state-dir is given.
  if (config_file.empty()) {
    if (const char* env = std::getenv("AIRHEAL_CONFIG"); env && *env)
      config_file = env;
    else if (state_dir.empty() && std::filesystem::exists(config::kSystemConfigFile))
      config_file = config::kSystemConfigFile;
  }
  if (!config_file.empty()) {
    auto loaded = config::load_file(config_file);
    if (!loaded) return cli::fail(loaded.error().message, 2);
    cfg = *loaded;
  }
  if (!state_dir.empty()) cfg.state_dir = state_dir;
  cli::Context ctx{cfg, json_out};
  for (auto& g : groups)
    if (g->given()) return g->run(ctx);
  return 0;
}
