// airhealctl import | import-folder | snapshots | journal: snapshots carried across the air gap.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands/command.hpp"
#include "core/fs.hpp"
#include "core/time.hpp"
#include "snapshot/snapshot_repository.hpp"
#include "snapshot/trust.hpp"
#include "snapshot/watcher.hpp"

namespace airheal::cli {
namespace {

class ImportCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    import_ = app.add_subcommand("import",
                                 "verify and import a snapshot file (exit 0 accepted, 1 refused)");
    import_->add_option("file", file_)->required();
    import_->add_flag("--quarantine", quarantine_, "move a refused file to the quarantine folder");
    import_->add_flag("--no-scan", no_scan_,
                      "do not scan imported images and re-match findings now (airheald does it "
                      "within scan.poll_interval)");
    folder_ = app.add_subcommand("import-folder",
                                 "import every settled snapshot in the drop folder now (what "
                                 "airheal-import.path runs); refused ones "
                                 "are quarantined");
    snapshots_ =
        app.add_subcommand("snapshots", "imported snapshots and the current sequence per channel");
    journal_ = app.add_subcommand("journal", "the journal of imports and refusals");
    journal_->add_flag("--verify", verify_, "check the hash chain");
  }
  bool given() const override {
    return import_->parsed() || folder_->parsed() || snapshots_->parsed() || journal_->parsed();
  }
  int run(const Context& ctx) override {
    if (import_->parsed()) return import(ctx);
    if (folder_->parsed()) return import_folder(ctx);
    if (snapshots_->parsed()) return snapshots(ctx);
    return journal(ctx);
  }

 private:
  int import(const Context& ctx) {
    ::signal(SIGXFSZ, SIG_IGN);  // a file-size limit is a write error to report, not a crash
    ServiceOptions so;
    so.keyring = true;
    so.scanner = ctx.cfg.scan.enabled && !no_scan_;
    auto sv = open_services(ctx, so, true);
    if (!sv) return 2;
    snapshot::ImportOptions o;
    o.reserve_bytes = ctx.cfg.import.reserve_bytes;
    bool tty = ::isatty(2);
    int last_pct = -1;
    if (tty)
      o.progress = [&](std::uint64_t done, std::uint64_t total) {
        int pct = total ? static_cast<int>(done * 100 / total) : 100;
        if (pct == last_pct) return;
        last_pct = pct;
        std::cerr << "\rimporting: " << pct << "% (" << fs::human_bytes(done) << " of "
                  << fs::human_bytes(total) << ")" << std::flush;
      };
    auto r = sv->importer->import(file_, o);
    if (tty && last_pct >= 0) std::cerr << "\n";
    if (!r) {
      std::string msg = "REFUSED " + file_ + ": " + r.error().message;
      if (quarantine_) {
        auto q = snapshot::quarantine(file_, ctx.cfg.quarantine_directory(), r.error().message);
        msg += q ? " (moved to " + q->string() + ")"
                 : " (could not quarantine: " + q.error().message + ")";
      }
      return fail(msg);
    }
    // Scan what arrived and re-match what the new advisories touch, so findings are current
    // when this command returns (a running airheald would also notice within its poll interval).
    nlohmann::json scanned = {{"images", 0}, {"rematched", 0}};
    if (sv->scanner && !r->already_imported) {
      scanned["images"] = sv->scanner->scan_pending().size();
      scanned["rematched"] = sv->scanner->rematch_changed().images;
    }
    if (ctx.json) {
      nlohmann::json j{{"digest", r->digest.str()},
                       {"channel", r->channel},
                       {"sequence", r->sequence},
                       {"already_imported", r->already_imported},
                       {"signers", r->signers},
                       {"counts", r->counts},
                       {"scan", scanned}};
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << r->message << "\n";
    if (!r->signers.empty()) {
      std::cout << "signed by:";
      for (const auto& f : r->signers) std::cout << " " << f;
      std::cout << "\n";
    }
    if (scanned["images"] != 0 || scanned["rematched"] != 0)
      std::cout << "scanned " << scanned["images"] << " new images; re-matched "
                << scanned["rematched"]
                << " images against the changed advisories (airhealctl findings)\n";
    return 0;
  }

  static int import_folder(const Context& ctx) {
    ::signal(SIGXFSZ, SIG_IGN);
    ServiceOptions so;
    so.keyring = true;
    auto sv = open_services(ctx, so, true);
    if (!sv) return 2;
    auto wo = snapshot::ImportWatcher::from_config(ctx.cfg);
    snapshot::ImportWatcher watcher(*sv->importer, wo);
    // A file is taken once its size and time stayed the same for one poll interval.
    auto n = watcher.scan_once();
    std::this_thread::sleep_for(wo.interval);
    n += watcher.scan_once();
    std::cout << n << " snapshot file(s) handled from " << wo.directory.string()
              << " (journal: airhealctl journal)\n";
    return 0;
  }

  static int snapshots(const Context& ctx) {
    auto sv = open_services(ctx);
    if (!sv) return 2;
    auto& s = *sv->store;
    nlohmann::json j{{"channels", nlohmann::json::array()}, {"snapshots", nlohmann::json::array()}};
    auto now = s.now_seconds();
    for (const auto& c : snapshot::channels(s, nullptr)) {
      nlohmann::json cj{{"channel", c.name}, {"threshold", c.threshold}, {"keys", c.keys.size()}};
      if (c.last_sequence) {
        cj["sequence"] = *c.last_sequence;
        cj["digest"] = c.last_digest;
        cj["expires"] = format_time(c.last_expires.value_or(0));
        cj["stale"] = c.last_expires.value_or(0) <= now;
      }
      j["channels"].push_back(cj);
    }
    for (const auto& r : snapshot::SnapshotRepository(s).list())
      j["snapshots"].push_back(snapshot::to_json(r));
    if (ctx.json) {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    for (const auto& c : j["channels"]) {
      std::cout << "channel " << c["channel"].get<std::string>() << ": ";
      if (c.contains("sequence"))
        std::cout << "sequence " << c["sequence"] << ", expires " << c["expires"].get<std::string>()
                  << (c["stale"].get<bool>() ? " (STALE: expired, import a fresh snapshot)" : "");
      else
        std::cout << "nothing imported yet";
      std::cout << " (threshold " << c["threshold"] << " of " << c["keys"] << " keys)\n";
    }
    for (const auto& x : j["snapshots"]) {
      std::cout << x["imported"].get<std::string>() << "  " << x["channel"].get<std::string>()
                << " #" << x["sequence"] << "  " << x["digest"].get<std::string>()
                << (x.contains("previous") ? "  (delta)" : "") << "\n    signed by";
      for (const auto& f : x["signers"]) std::cout << " " << f.get<std::string>();
      const auto& n = x["counts"];
      std::cout << "\n    " << n.value("images", 0) << " images, " << n.value("advisories", 0)
                << " advisories, " << n.value("packages", 0) << " packages, "
                << n.value("artifacts", 0) << " artefacts, "
                << fs::human_bytes(n.value("bytes", std::uint64_t{0})) << "\n";
    }
    return 0;
  }

  int journal(const Context& ctx) const {
    audit::Journal journal(audit::journal_path(ctx.cfg.state_dir));
    if (verify_) {
      auto problem = journal.verify();
      if (!problem.empty()) return fail("journal chain broken: " + problem);
      std::cout << "journal chain intact\n";
      return 0;
    }
    auto recs = journal.read_all();
    if (!recs) return fail(recs.error().message);
    for (const auto& r : *recs) {
      if (ctx.json) {
        std::cout << r.dump() << "\n";
        continue;
      }
      std::cout << format_time(r.value("time", std::int64_t{0})) << "  " << r.value("type", "")
                << "  " << r.value("channel", "-") << " #" << r.value("sequence", std::int64_t{0})
                << "  " << r.value("file", "");
      if (r.contains("reason")) std::cout << "\n    " << r["reason"].get<std::string>();
      std::cout << "\n";
    }
    return 0;
  }

  CLI::App *import_ = nullptr, *folder_ = nullptr, *snapshots_ = nullptr, *journal_ = nullptr;
  std::string file_;
  bool quarantine_ = false, no_scan_ = false, verify_ = false;
};

}  // namespace

std::unique_ptr<CommandGroup> import_commands() { return std::make_unique<ImportCommands>(); }

}  // namespace airheal::cli
