// airhealctl: the operator's command line. Works on the state directory directly, so it runs
// whether or not airheald is up (SQLite WAL and the store's locks make that safe).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/archive_path.hpp"
#include "cli/daemon_client.hpp"
#include "cli/scan_commands.hpp"
#include "config/config.hpp"
#include "core/fs.hpp"
#include "registry/auth.hpp"
#include "advisory/db.hpp"
#include "audit/journal.hpp"
#include "scan/scanner.hpp"
#include "snapshot/format.hpp"
#include "snapshot/importer.hpp"
#include "snapshot/trust.hpp"
#include "snapshot/watcher.hpp"
#include "store/store.hpp"

using namespace airheal;

namespace {

int fail(const std::string& msg, int code = 1) {
  std::cerr << "airhealctl: " << msg << "\n";
  return code;
}

std::unique_ptr<store::Store> open_store(const config::Config& cfg, bool create = false) {
  if (!create && !std::filesystem::exists(cfg.state_dir / "metadata.db")) {
    fail("no airheal state in " + cfg.state_dir.string() + " (start airheald once, or pass --state-dir)");
    std::exit(2);
  }
  auto s = store::Store::open(cfg.state_dir);
  if (!s) {
    fail(s.error().message);
    std::exit(2);
  }
  return std::move(*s);
}

}  // namespace

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

  auto* status = app.add_subcommand("status", "show whether airheald is serving and what the store holds");
  auto* store_cmd = app.add_subcommand("store", "content store maintenance");
  store_cmd->require_subcommand(1);
  auto* check = store_cmd->add_subcommand("check", "rehash every blob and check every reference");
  auto* reg = app.add_subcommand("registry", "registry maintenance");
  reg->require_subcommand(1);
  auto* gc = reg->add_subcommand("gc", "remove unreferenced blobs and stale uploads (dry run unless --apply)");
  bool apply = false, delete_untagged = false;
  std::string grace;
  gc->add_flag("--apply", apply, "really delete (default: only report)");
  gc->add_flag("--delete-untagged", delete_untagged, "also remove manifests no tag, retention or referrer keeps");
  gc->add_option("--grace", grace, "keep anything younger than this (default: gc.grace_period)");
  auto* user = app.add_subcommand("user", "registry users (HTTP Basic over TLS)");
  user->require_subcommand(1);
  std::string user_name;
  auto* user_add = user->add_subcommand("add", "add a user or change a password and rights; reads the password from stdin");
  user_add->add_option("name", user_name)->required();
  std::vector<std::string> user_pull, user_push, user_delete;
  bool user_api_write = false;
  user_add->add_option("--pull", user_pull, "repository pattern the user may pull from (\"apps/*\", \"*\"); repeatable; default \"*\"");
  user_add->add_option("--push", user_push, "repository pattern the user may push to; repeatable; default: none");
  user_add->add_option("--delete", user_delete, "repository pattern the user may delete in; repeatable; default: none");
  user_add->add_flag("--api-write", user_api_write, "may approve, roll back and hold heals, add exceptions and VEX, export evidence through the API");
  auto* user_rm = user->add_subcommand("remove", "remove a user");
  user_rm->add_option("name", user_name)->required();
  auto* user_ls = user->add_subcommand("list", "list users");
  app.add_subcommand("version", "print the version");

  auto* trust = app.add_subcommand("trust", "OpenPGP keys allowed to sign snapshots, per channel");
  trust->require_subcommand(1);
  std::string trust_file, channel, fingerprint, reason = "revoked by the operator";
  int threshold = 0;
  auto* trust_add = trust->add_subcommand("add", "trust the keys in KEYS.asc for a channel (or import a revocation certificate)");
  trust_add->add_option("keys", trust_file, "armoured public keys")->required();
  trust_add->add_option("--channel", channel, "channel the keys may sign")->required();
  trust_add->add_option("--threshold", threshold, "signatures required from distinct trusted keys");
  trust->add_subcommand("list", "channels, thresholds and keys");
  auto* trust_rm = trust->add_subcommand("remove", "stop trusting a key for a channel");
  trust_rm->add_option("fingerprint", fingerprint)->required();
  trust_rm->add_option("--channel", channel)->required();
  auto* trust_revoke = trust->add_subcommand("revoke", "refuse a key for every channel from now on");
  trust_revoke->add_option("fingerprint", fingerprint)->required();
  trust_revoke->add_option("--reason", reason);

  std::string import_file;
  bool quarantine_refused = false;
  auto* import_cmd = app.add_subcommand("import", "verify and import a snapshot file (exit 0 accepted, 1 refused)");
  import_cmd->add_option("file", import_file)->required();
  import_cmd->add_flag("--quarantine", quarantine_refused, "move a refused file to the quarantine folder");
  bool import_no_scan = false;
  import_cmd->add_flag("--no-scan", import_no_scan, "do not scan imported images and re-match findings now (airheald does it within scan.poll_interval)");
  auto* import_folder_cmd = app.add_subcommand(
      "import-folder", "import every settled snapshot in the drop folder now (what airheal-import.path runs); refused ones are quarantined");
  auto* snapshots_cmd = app.add_subcommand("snapshots", "imported snapshots and the current sequence per channel");
  auto* journal_cmd = app.add_subcommand("journal", "the journal of imports and refusals");
  bool journal_verify = false;
  journal_cmd->add_flag("--verify", journal_verify, "check the hash chain");

  auto* adv = app.add_subcommand("advisories", "the advisory database");
  adv->require_subcommand(1);
  std::string adv_id, adv_eco, adv_pkg;
  auto* adv_show = adv->add_subcommand("show", "an advisory by id or alias");
  adv_show->add_option("id", adv_id)->required();
  auto* adv_pkg_cmd = adv->add_subcommand("package", "advisories naming a package");
  adv_pkg_cmd->add_option("ecosystem", adv_eco, "Go, Debian, Debian:bookworm, Alpine:v3.10, ...")->required();
  adv_pkg_cmd->add_option("package", adv_pkg)->required();
  auto* adv_stats = adv->add_subcommand("stats", "counts per channel and source");
  cli::ScanCommands scan_cmds;
  cli::add_scan_commands(app, scan_cmds);
  CLI11_PARSE(app, argc, argv);

  config::Config cfg;
  // On a packaged host airhealctl reads the same file as the service: --config, else
  // $AIRHEAL_CONFIG, else /etc/airheal/airheal.yaml when it exists and no --state-dir is given.
  if (config_file.empty()) {
    if (const char* env = std::getenv("AIRHEAL_CONFIG"); env && *env) config_file = env;
    else if (state_dir.empty() && std::filesystem::exists(config::kSystemConfigFile)) config_file = config::kSystemConfigFile;
  }
  if (!config_file.empty()) {
    auto loaded = config::load_file(config_file);
    if (!loaded) return fail(loaded.error().message, 2);
    cfg = *loaded;
  }
  if (!state_dir.empty()) cfg.state_dir = state_dir;
  if (auto rc = cli::run_scan_commands(scan_cmds, cfg, json_out)) return *rc;

  if (trust->parsed()) {
    auto s = open_store(cfg, true);
    audit::Journal trust_journal(audit::journal_path(cfg.state_dir));  // key changes are audited
    std::string actor = "airhealctl:" + std::string(std::getenv("SUDO_USER") ? std::getenv("SUDO_USER")
                                                    : std::getenv("USER")    ? std::getenv("USER")
                                                                             : "uid " + std::to_string(::getuid()));
    auto kr = pgp::Keyring::open(snapshot::keyring_home(cfg.state_dir));
    if (!kr) return fail(kr.error().message);
    if (trust_add->parsed()) {
      auto data = fs::read_file(trust_file, 16 << 20);
      if (!data) return fail(data.error().message);
      auto keys = snapshot::trust_add(*s, *kr, *data, channel, threshold > 0 ? std::optional<int>(threshold) : std::nullopt);
      if (!keys) return fail(keys.error().message);
      nlohmann::json fprs = nlohmann::json::array();
      for (const auto& k : *keys) fprs.push_back({{"fingerprint", k.fingerprint}, {"revoked", k.revoked}});
      if (auto st = trust_journal.append({{"type", "trust.added"}, {"actor", actor}, {"channel", channel}, {"keys", fprs},
                                          {"threshold", threshold > 0 ? nlohmann::json(threshold) : nlohmann::json()}});
          !st)
        return fail("the keys were trusted but the journal could not record it: " + st.error().message);
      for (const auto& k : *keys)
        std::cout << (k.revoked ? "revoked " : "trusted ") << k.fingerprint << " " << (k.user_ids.empty() ? "" : k.user_ids[0])
                  << (k.revoked ? "" : " for channel " + channel) << "\n";
      return 0;
    }
    if (trust_rm->parsed()) {
      auto f = snapshot::normalize_fingerprint(fingerprint);
      if (!f) return fail("'" + fingerprint + "' is not a key fingerprint", 2);
      if (auto st = snapshot::trust_remove(*s, channel, *f); !st) return fail(st.error().message);
      if (auto st = trust_journal.append({{"type", "trust.removed"}, {"actor", actor}, {"channel", channel}, {"fingerprint", *f}}); !st)
        return fail("the key was removed but the journal could not record it: " + st.error().message);
      std::cout << "removed " << *f << " from channel " << channel << "\n";
      return 0;
    }
    if (trust_revoke->parsed()) {
      auto f = snapshot::normalize_fingerprint(fingerprint);
      if (!f) return fail("'" + fingerprint + "' is not a key fingerprint", 2);
      if (auto st = snapshot::trust_revoke(*s, *f, reason); !st) return fail(st.error().message);
      if (auto st = trust_journal.append({{"type", "trust.revoked"}, {"actor", actor}, {"fingerprint", *f}, {"reason", reason}}); !st)
        return fail("the key was revoked but the journal could not record it: " + st.error().message);
      std::cout << "revoked " << *f << ": snapshots signed by it are refused\n";
      return 0;
    }
    auto chans = snapshot::channels(*s, &*kr);
    if (json_out) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& c : chans) {
        nlohmann::json keys = nlohmann::json::array();
        for (const auto& k : c.keys)
          keys.push_back({{"fingerprint", k.fingerprint}, {"user_ids", k.user_ids}, {"added_by", k.added_by},
                          {"revoked", k.revoked}, {"expired", k.expired}});
        j.push_back({{"channel", c.name}, {"threshold", c.threshold}, {"keys", keys}});
      }
      std::cout << j.dump(2) << "\n";
    } else {
      if (chans.empty()) std::cout << "no channel is trusted yet (airhealctl trust add KEYS.asc --channel NAME)\n";
      for (const auto& c : chans) {
        std::cout << "channel " << c.name << ": threshold " << c.threshold << " of " << c.keys.size() << "\n";
        for (const auto& k : c.keys)
          std::cout << "  " << k.fingerprint << " " << (k.user_ids.empty() ? "(unknown key)" : k.user_ids[0])
                    << (k.revoked ? " [REVOKED]" : "") << (k.expired ? " [EXPIRED]" : "") << "\n";
      }
    }
    return 0;
  }
  if (import_folder_cmd->parsed()) {
    ::signal(SIGXFSZ, SIG_IGN);
    auto s = open_store(cfg, true);
    auto kr = pgp::Keyring::open(snapshot::keyring_home(cfg.state_dir));
    if (!kr) return fail(kr.error().message);
    audit::Journal journal(audit::journal_path(cfg.state_dir));
    snapshot::Importer importer(*s, *kr, journal);
    auto wo = snapshot::ImportWatcher::from_config(cfg);
    snapshot::ImportWatcher watcher(importer, wo);
    // A file is taken once its size and time stayed the same for one poll interval.
    auto n = watcher.scan_once();
    std::this_thread::sleep_for(wo.interval);
    n += watcher.scan_once();
    std::cout << n << " snapshot file(s) handled from " << wo.directory.string() << " (journal: airhealctl journal)\n";
    return 0;
  }
  if (import_cmd->parsed()) {
    ::signal(SIGXFSZ, SIG_IGN);  // a file-size limit is a write error to report, not a crash
    auto s = open_store(cfg, true);
    auto kr = pgp::Keyring::open(snapshot::keyring_home(cfg.state_dir));
    if (!kr) return fail(kr.error().message);
    audit::Journal journal(audit::journal_path(cfg.state_dir));
    snapshot::Importer importer(*s, *kr, journal);
    snapshot::ImportOptions o;
    o.reserve_bytes = cfg.import.reserve_bytes;
    bool tty = ::isatty(2);
    int last_pct = -1;
    if (tty)
      o.progress = [&](std::uint64_t done, std::uint64_t total) {
        int pct = total ? static_cast<int>(done * 100 / total) : 100;
        if (pct == last_pct) return;
        last_pct = pct;
        std::cerr << "\rimporting: " << pct << "% (" << fs::human_bytes(done) << " of " << fs::human_bytes(total) << ")" << std::flush;
      };
    auto r = importer.import(import_file, o);
    if (tty && last_pct >= 0) std::cerr << "\n";
    if (!r) {
      std::string msg = "REFUSED " + import_file + ": " + r.error().message;
      if (quarantine_refused) {
        auto q = snapshot::quarantine(import_file, cfg.quarantine_directory(), r.error().message);
        msg += q ? " (moved to " + q->string() + ")" : " (could not quarantine: " + q.error().message + ")";
      }
      return fail(msg);
    }
    // Scan what arrived and re-match what the new advisories touch, so findings are current
    // when this command returns (a running airheald would also notice within its poll interval).
    nlohmann::json scanned = {{"images", 0}, {"rematched", 0}};
    if (cfg.scan.enabled && !import_no_scan && !r->already_imported) {
      scan::ScannerOptions so;
      so.sboms = cfg.scan.sboms;
      so.layer.max_binary_bytes = cfg.scan.max_binary_bytes;
      so.actor = "airhealctl";
      scan::Scanner scanner(*s, &journal, so);
      scanned["images"] = scanner.scan_pending().size();
      scanned["rematched"] = scanner.rematch_changed().images;
    }
    if (json_out) {
      nlohmann::json j{{"digest", r->digest.str()}, {"channel", r->channel}, {"sequence", r->sequence},
                       {"already_imported", r->already_imported}, {"signers", r->signers}, {"counts", r->counts},
                       {"scan", scanned}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << r->message << "\n";
      if (!r->signers.empty()) {
        std::cout << "signed by:";
        for (const auto& f : r->signers) std::cout << " " << f;
        std::cout << "\n";
      }
      if (scanned["images"] != 0 || scanned["rematched"] != 0)
        std::cout << "scanned " << scanned["images"] << " new images; re-matched " << scanned["rematched"]
                  << " images against the changed advisories (airhealctl findings)\n";
    }
    return 0;
  }
  if (snapshots_cmd->parsed()) {
    auto s = open_store(cfg);
    nlohmann::json j{{"channels", nlohmann::json::array()}, {"snapshots", nlohmann::json::array()}};
    auto now = s->now_seconds();
    for (const auto& c : snapshot::channels(*s, nullptr)) {
      nlohmann::json cj{{"channel", c.name}, {"threshold", c.threshold}, {"keys", c.keys.size()}};
      if (c.last_sequence) {
        cj["sequence"] = *c.last_sequence;
        cj["digest"] = c.last_digest;
        cj["expires"] = snapshot::format_time(c.last_expires.value_or(0));
        cj["stale"] = c.last_expires.value_or(0) <= now;
      }
      j["channels"].push_back(cj);
    }
    s->read([&](sqlite::Connection& c) {
      auto q = c.prepare("SELECT digest, channel, sequence, created_at, expires_at, previous, imported_at, signers, counts "
                         "FROM snapshots ORDER BY imported_at, channel, sequence");
      while (q.step()) {
        nlohmann::json x{{"digest", q.get_text(0)}, {"channel", q.get_text(1)}, {"sequence", q.get_int(2)},
                         {"created", snapshot::format_time(q.get_int(3))}, {"expires", snapshot::format_time(q.get_int(4))},
                         {"imported", snapshot::format_time(q.get_int(6))},
                         {"signers", nlohmann::json::parse(q.get_text(7))}, {"counts", nlohmann::json::parse(q.get_text(8))}};
        if (!q.is_null(5)) x["previous"] = q.get_text(5);
        j["snapshots"].push_back(x);
      }
    });
    if (json_out) {
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
      std::cout << x["imported"].get<std::string>() << "  " << x["channel"].get<std::string>() << " #" << x["sequence"] << "  "
                << x["digest"].get<std::string>() << (x.contains("previous") ? "  (delta)" : "") << "\n    signed by";
      for (const auto& f : x["signers"]) std::cout << " " << f.get<std::string>();
      const auto& n = x["counts"];
      std::cout << "\n    " << n.value("images", 0) << " images, " << n.value("advisories", 0) << " advisories, "
                << n.value("packages", 0) << " packages, " << n.value("artifacts", 0) << " artefacts, "
                << fs::human_bytes(n.value("bytes", std::uint64_t{0})) << "\n";
    }
    return 0;
  }
  if (journal_cmd->parsed()) {
    audit::Journal journal(audit::journal_path(cfg.state_dir));
    if (journal_verify) {
      auto problem = journal.verify();
      if (!problem.empty()) return fail("journal chain broken: " + problem);
      std::cout << "journal chain intact\n";
      return 0;
    }
    auto recs = journal.read_all();
    if (!recs) return fail(recs.error().message);
    for (const auto& r : *recs) {
      if (json_out) {
        std::cout << r.dump() << "\n";
        continue;
      }
      std::cout << snapshot::format_time(r.value("time", std::int64_t{0})) << "  " << r.value("type", "") << "  "
                << r.value("channel", "-") << " #" << r.value("sequence", std::int64_t{0}) << "  " << r.value("file", "");
      if (r.contains("reason")) std::cout << "\n    " << r["reason"].get<std::string>();
      std::cout << "\n";
    }
    return 0;
  }
  if (adv->parsed()) {
    auto s = open_store(cfg);
    if (adv_stats->parsed()) {
      nlohmann::json j = nlohmann::json::array();
      s->read([&](sqlite::Connection& c) {
        auto q = c.prepare("SELECT channel, source, count(*), sum(withdrawn != '') FROM advisories GROUP BY channel, source ORDER BY 1, 2");
        while (q.step())
          j.push_back({{"channel", q.get_text(0)}, {"source", q.get_text(1)}, {"advisories", q.get_int(2)}, {"withdrawn", q.get_int(3)}});
      });
      if (json_out) std::cout << j.dump(2) << "\n";
      else
        for (const auto& x : j)
          std::cout << x["channel"].get<std::string>() << "  " << x["source"].get<std::string>() << "  " << x["advisories"]
                    << " advisories (" << x["withdrawn"] << " withdrawn)\n";
      return 0;
    }
    std::vector<advisory::StoredAdvisory> found;
    s->read([&](sqlite::Connection& c) {
      found = adv_show->parsed() ? advisory::find(c, adv_id) : advisory::for_package(c, adv_eco, adv_pkg);
    });
    if (found.empty()) return fail(adv_show->parsed() ? "no advisory " + adv_id : "no advisory names " + adv_eco + "/" + adv_pkg);
    if (json_out) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& a : found) j.push_back(advisory::to_json(a));
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    for (const auto& a : found) {
      std::cout << a.id << "  (" << a.source << ", channel " << a.channel << ")" << (a.withdrawn.empty() ? "" : "  WITHDRAWN " + a.withdrawn) << "\n";
      if (!a.aliases.empty()) {
        std::cout << "  aliases:";
        for (const auto& x : a.aliases) std::cout << " " << x;
        std::cout << "\n";
      }
      if (!a.summary.empty()) std::cout << "  summary: " << a.summary.substr(0, 300) << "\n";
      for (const auto& sv : a.severity) std::cout << "  severity: " << sv.value("type", "") << " " << sv.value("score", "") << "\n";
      if (!a.modified.empty()) std::cout << "  modified: " << a.modified << "\n";
      for (const auto& af : a.affected) {
        if (adv_pkg_cmd->parsed() && af.package != adv_pkg) continue;
        std::cout << "  affects " << af.ecosystem << "/" << af.package << ": ";
        const auto& d = af.data;
        if (a.source == "osv") {
          for (const auto& r : d.value("ranges", nlohmann::json::array())) {
            std::cout << "[" << r.value("type", "") << "]";
            for (const auto& e : r["events"]) std::cout << " " << e.begin().key() << " " << e.begin().value().get<std::string>();
            std::cout << "; ";
          }
          if (d.contains("versions")) std::cout << d["versions"].size() << " listed versions";
        } else {
          for (const auto& [k, v] : d.items())
            if (v.is_string() && !v.get<std::string>().empty()) std::cout << k << "=" << v.get<std::string>() << " ";
        }
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (app.got_subcommand("version")) {
    std::cout << "airhealctl " AIRHEAL_VERSION "\n";
    return 0;
  }
  if (status->parsed()) {
    auto s = open_store(cfg);
    auto repos = s->catalog(0, "");
    auto addr = cli::daemon_url(cfg.state_dir);
    bool serving = false;
    if (addr.rfind("http://", 0) == 0) serving = cli::daemon_request(addr.substr(7), "GET", "/v2/").has_value();
    else if (addr.rfind("https://", 0) == 0) serving = true;  // reported by the daemon itself
    // Scanning: images inventoried, layers cached, findings by severity (suppressed ones excluded).
    std::int64_t scanned = 0, layers_cached = 0;
    std::map<std::string, int> by_severity;
    s->read([&](sqlite::Connection& c) {
      auto st = c.prepare("SELECT (SELECT count(*) FROM image_inventory), (SELECT count(*) FROM layer_inventory)");
      if (st.step()) {
        scanned = st.get_int(0);
        layers_cached = st.get_int(1);
      }
      for (const auto& f : scan::list_findings(c, {}, s->now_seconds())) ++by_severity[f["severity"].get<std::string>()];
    });
    std::string findings_line;
    int total_findings = 0;
    for (auto sev : {"critical", "high", "medium", "low", "negligible", "unknown"})
      if (by_severity.count(sev)) {
        findings_line += (findings_line.empty() ? "" : ", ") + std::to_string(by_severity[sev]) + " " + sev;
        total_findings += by_severity[sev];
      }
    // Registry users and their rights (from the users file the daemon reads at start).
    nlohmann::json users_json = nlohmann::json::array();
    if (auto uf = registry::UserFile::load(cfg.users_file()))
      for (const auto& [u, h] : uf->users()) {
        auto r = uf->rights(u);
        users_json.push_back({{"name", u}, {"pull", r.pull}, {"push", r.push}, {"delete", r.del}, {"api_write", r.api_write}, {"rights", r.str()}});
      }
    if (json_out) {
      nlohmann::json j = {{"state_dir", std::filesystem::absolute(cfg.state_dir).lexically_normal().string()},
                          {"daemon", serving ? addr : ""}, {"repositories", repos}, {"users", users_json},
                          {"scan", {{"images", scanned}, {"layers_cached", layers_cached}, {"findings", by_severity}}}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "state:        " << std::filesystem::absolute(cfg.state_dir).lexically_normal().string() << "\n";
      std::cout << "daemon:       " << (serving ? "serving on " + addr : "not running") << "\n";
      std::cout << "repositories: " << repos.size() << "\n";
      for (const auto& r : repos) {
        auto tags = s->list_tags(r, 0, "");
        std::cout << "  " << r;
        if (tags && !tags->empty()) {
          std::cout << " (";
          for (std::size_t i = 0; i < tags->size(); ++i) std::cout << (i ? ", " : "") << (*tags)[i];
          std::cout << ")";
        }
        std::cout << "\n";
      }
      std::cout << "users:        " << users_json.size() << (users_json.empty() ? " (loopback may push; anonymous pull per auth.anonymous_pull)" : "") << "\n";
      for (const auto& u : users_json) std::cout << "  " << u["name"].get<std::string>() << "  " << u["rights"].get<std::string>() << "\n";
      std::cout << "scanned:      " << scanned << " images (" << layers_cached << " layers cached); " << total_findings
                << " findings" << (findings_line.empty() ? "" : " (" + findings_line + ")") << "\n";
    }
    return 0;
  }
  if (check->parsed()) {
    auto s = open_store(cfg);
    auto r = s->check();
    if (json_out) {
      nlohmann::json j = {{"blobs", r.blobs_checked}, {"manifests", r.manifests_checked}, {"tags", r.tags_checked},
                          {"bytes_hashed", r.bytes_hashed}, {"problems", r.problems}, {"ok", r.ok()}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "checked " << r.blobs_checked << " blobs (" << fs::human_bytes(r.bytes_hashed) << " rehashed), "
                << r.manifests_checked << " manifests, " << r.tags_checked << " tags\n";
      for (const auto& p : r.problems) std::cout << "PROBLEM: " << p << "\n";
      std::cout << (r.ok() ? "store is consistent\n" : std::to_string(r.problems.size()) + " problems found\n");
    }
    return r.ok() ? 0 : 1;
  }
  if (gc->parsed()) {
    auto s = open_store(cfg);
    store::GcOptions o;
    o.dry_run = !apply;
    o.delete_untagged = delete_untagged;
    o.grace_seconds = cfg.gc.grace_period.count();
    o.upload_max_age_seconds = cfg.gc.upload_max_age.count();
    if (!grace.empty()) {
      auto g = config::parse_duration(grace);
      if (!g) return fail(g.error().message, 2);
      o.grace_seconds = g->count();
    }
    auto r = s->gc(o);
    if (json_out) {
      nlohmann::json j = {{"dry_run", o.dry_run}, {"manifests_removed", r.manifests_removed},
                          {"blobs_removed", r.blobs_removed}, {"uploads_removed", r.uploads_removed},
                          {"orphan_files_removed", r.orphan_files_removed}, {"bytes_freed", r.bytes_freed},
                          {"manifests_kept", r.manifests_kept}, {"blobs_kept", r.blobs_kept}};
      std::cout << j.dump(2) << "\n";
    } else {
      const char* verb = o.dry_run ? "would remove" : "removed";
      for (const auto& m : r.manifests_removed) std::cout << verb << " manifest " << m << "\n";
      for (const auto& b : r.blobs_removed) std::cout << verb << " blob " << b << "\n";
      for (const auto& u : r.uploads_removed) std::cout << verb << " upload " << u << "\n";
      for (const auto& f : r.orphan_files_removed) std::cout << "removed orphan file " << f << "\n";
      std::cout << verb << " " << r.manifests_removed.size() << " manifests, " << r.blobs_removed.size() << " blobs ("
                << fs::human_bytes(r.bytes_freed) << "), " << r.uploads_removed.size() << " uploads; kept "
                << r.manifests_kept << " manifests and " << r.blobs_kept << " blobs\n";
      if (o.dry_run) std::cout << "dry run: nothing was deleted; pass --apply to delete\n";
    }
    return 0;
  }
  if (user_add->parsed() || user_rm->parsed() || user_ls->parsed()) {
    auto path = cfg.users_file();
    auto users = registry::UserFile::load(path);
    if (!users) return fail(users.error().message, 2);
    if (user_ls->parsed()) {
      if (json_out) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& [u, h] : users->users()) {
          auto r = users->rights(u);
          a.push_back({{"name", u}, {"pull", r.pull}, {"push", r.push}, {"delete", r.del}, {"api_write", r.api_write}});
        }
        std::cout << a.dump(2) << "\n";
      } else {
        for (const auto& [u, h] : users->users()) std::cout << u << "  " << users->rights(u).str() << "\n";
      }
      return 0;
    }
    if (!registry::UserFile::valid_user_name(user_name))
      return fail("user names are 1-64 characters of letters, digits, '.', '_' and '-'", 2);
    if (user_rm->parsed()) {
      if (!users->users().erase(user_name)) return fail("no user '" + user_name + "'", 1);
    } else {
      if (isatty(0)) std::cerr << "password for " << user_name << ": " << std::flush;
      std::string password;
      std::getline(std::cin, password);
      if (password.size() < 8) return fail("passwords must have at least 8 characters", 2);
      registry::Rights rights;
      for (const auto* list : {&user_pull, &user_push, &user_delete})
        for (const auto& p : *list)
          if (!registry::Rights::valid_pattern(p)) return fail("repository pattern '" + p + "' may hold a-z 0-9 . _ - / * ? only", 2);
      rights.pull = user_pull.empty() ? std::vector<std::string>{"*"} : user_pull;  // pull-only by default
      rights.push = user_push;
      rights.del = user_delete;
      rights.api_write = user_api_write;
      users->users()[user_name] = registry::UserFile::hash_password(password);
      users->set_rights(user_name, rights);
    }
    std::filesystem::create_directories(path.parent_path().empty() ? "." : path.parent_path());
    if (auto st = users->save(path); !st) return fail(st.error().message, 1);
    std::cout << (user_rm->parsed() ? "removed " : "saved ") << user_name
              << (user_rm->parsed() ? std::string() : " (" + users->rights(user_name).str() + ")") << " in " << path.string()
              << " (restart airheald to apply)\n";
    return 0;
  }
  return 0;
}
