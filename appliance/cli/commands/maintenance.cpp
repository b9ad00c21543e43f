// airhealctl store check | registry gc
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands/command.hpp"
#include "core/fs.hpp"

namespace airheal::cli {
namespace {

class MaintenanceCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    store_ = app.add_subcommand("store", "content store maintenance");
    store_->require_subcommand(1);
    check_ = store_->add_subcommand("check", "rehash every blob and check every reference");
    registry_ = app.add_subcommand("registry", "registry maintenance");
    registry_->require_subcommand(1);
    gc_ = registry_->add_subcommand(
        "gc", "remove unreferenced blobs and stale uploads (dry run unless --apply)");
    gc_->add_flag("--apply", apply_, "really delete (default: only report)");
    gc_->add_flag("--delete-untagged", delete_untagged_,
                  "also remove manifests no tag, retention or referrer keeps");
    gc_->add_option("--grace", grace_,
                    "keep anything younger than this (default: gc.grace_period)");
  }
  bool given() const override { return store_->parsed() || registry_->parsed(); }
  int run(const Context& ctx) override { return check_->parsed() ? check(ctx) : gc(ctx); }

 private:
  int check(const Context& ctx) {
    auto sv = open_services(ctx);
    if (!sv) return 2;
    auto r = sv->store->check();
    if (ctx.json) {
      nlohmann::json j = {{"blobs", r.blobs_checked}, {"manifests", r.manifests_checked},
                          {"tags", r.tags_checked},   {"bytes_hashed", r.bytes_hashed},
                          {"problems", r.problems},   {"ok", r.ok()}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "checked " << r.blobs_checked << " blobs (" << fs::human_bytes(r.bytes_hashed)
                << " rehashed), " << r.manifests_checked << " manifests, " << r.tags_checked
                << " tags\n";
      for (const auto& p : r.problems) std::cout << "PROBLEM: " << p << "\n";
      std::cout << (r.ok() ? "store is consistent\n"
                           : std::to_string(r.problems.size()) + " problems found\n");
    }
    return r.ok() ? 0 : 1;
  }

  int gc(const Context& ctx) {
    store::GcOptions o;
    o.dry_run = !apply_;
    o.delete_untagged = delete_untagged_;
    o.grace_seconds = ctx.cfg.gc.grace_period.count();
    o.upload_max_age_seconds = ctx.cfg.gc.upload_max_age.count();
    if (!grace_.empty()) {
      auto g = config::parse_duration(grace_);
      if (!g) return fail(g.error().message, 2);
      o.grace_seconds = g->count();
    }
    auto sv = open_services(ctx);
    if (!sv) return 2;
    auto r = sv->store->gc(o);
    if (ctx.json) {
      nlohmann::json j = {{"dry_run", o.dry_run},
                          {"manifests_removed", r.manifests_removed},
                          {"blobs_removed", r.blobs_removed},
                          {"uploads_removed", r.uploads_removed},
                          {"orphan_files_removed", r.orphan_files_removed},
                          {"bytes_freed", r.bytes_freed},
                          {"manifests_kept", r.manifests_kept},
                          {"blobs_kept", r.blobs_kept}};
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    const char* verb = o.dry_run ? "would remove" : "removed";
    for (const auto& m : r.manifests_removed) std::cout << verb << " manifest " << m << "\n";
    for (const auto& b : r.blobs_removed) std::cout << verb << " blob " << b << "\n";
    for (const auto& u : r.uploads_removed) std::cout << verb << " upload " << u << "\n";
    for (const auto& f : r.orphan_files_removed) std::cout << "removed orphan file " << f << "\n";
    std::cout << verb << " " << r.manifests_removed.size() << " manifests, "
              << r.blobs_removed.size() << " blobs (" << fs::human_bytes(r.bytes_freed) << "), "
              << r.uploads_removed.size() << " uploads; kept " << r.manifests_kept
              << " manifests and " << r.blobs_kept << " blobs\n";
    if (o.dry_run) std::cout << "dry run: nothing was deleted; pass --apply to delete\n";
    return 0;
  }

  CLI::App *store_ = nullptr, *check_ = nullptr, *registry_ = nullptr, *gc_ = nullptr;
  bool apply_ = false, delete_untagged_ = false;
  std::string grace_;
};

}  // namespace

std::unique_ptr<CommandGroup> maintenance_commands() {
  return std::make_unique<MaintenanceCommands>();
}

}  // namespace airheal::cli
