#include "cli/scan_commands.hpp"

#include "cli/daemon_client.hpp"

#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <map>
#include <thread>

#include "audit/checkpoint.hpp"
#include "evidence/evidence.hpp"
#include "audit/journal.hpp"
#include "heal/attest.hpp"
#include "core/fs.hpp"
#include "heal/engine.hpp"
#include "heal/webhooks.hpp"
#include "scan/sbom.hpp"
#include "scan/scanner.hpp"
#include "scan/vex.hpp"
#include "snapshot/format.hpp"
#include "store/store.hpp"

namespace airheal::cli {
namespace {

int fail(const std::string& msg, int code = 1) {
  std::cerr << "airhealctl: " << msg << "\n";
  return code;
}

std::string operator_name() {
  if (const char* u = std::getenv("SUDO_USER")) return u;
  if (const char* u = std::getenv("USER")) return u;
  return "uid " + std::to_string(::getuid());
}

std::optional<std::int64_t> parse_expiry(const std::string& text, std::int64_t now) {
  if (auto d = config::parse_duration(text)) return now + d->count();
  if (auto t = snapshot::parse_time(text)) return *t;
  if (text.size() == 10) return snapshot::parse_time(text + "T00:00:00Z");
  return std::nullopt;
}

void print_report(const scan::ScanReport& r) {
  std::cout << r.manifest << ": " << r.components << " components, " << r.findings << " findings; layers "
            << r.layers_read << " read, " << r.layers_cached << " cached"
            << (r.inventory_cached ? " (inventory cached)" : "") << (r.sboms.empty() ? "" : ", SBOMs attached") << " in "
            << std::fixed << std::setprecision(2) << r.seconds << "s\n";
}

void print_findings(const nlohmann::json& fs) {
  if (fs.empty()) {
    std::cout << "no findings\n";
    return;
  }
  std::map<std::string, int> by_sev;
  for (const auto& f : fs) {
    // The image by its tags (repo:tag), else its repositories, else its digest.
    std::string name;
    for (const auto& n : f["names"])
      if (n.get<std::string>().find(':') != std::string::npos) name += (name.empty() ? "" : ",") + n.get<std::string>();
    if (name.empty() && !f["names"].empty()) name = f["names"][0].get<std::string>();
    if (name.empty()) name = f["image"].get<std::string>().substr(0, 19);
    std::string ids = f["advisory"];
    std::string alias;
    for (const auto& a : f["aliases"]) {
      alias += (alias.empty() ? "" : ",") + a.get<std::string>();
    }
    std::string fix = f["fixed"].get<std::string>().empty() ? "(no fix)" : f["fixed"].get<std::string>();
    std::string avail = f["fix_available"] == "package" ? " [fix imported]" : "";
    std::string status = f["vendor_status"] == "fixed" ? "" : " {" + f["vendor_status"].get<std::string>() + "}";
    std::string sup = f.contains("suppressed") ? " SUPPRESSED: " + f["suppressed"]["detail"].get<std::string>() : "";
    std::cout << std::left << std::setw(10) << f["severity"].get<std::string>() << " " << name << "  "
              << f["package"].get<std::string>()
              << (f["source"] != f["package"] ? " (" + f["source"].get<std::string>() + ")" : "") << " "
              << f["installed"].get<std::string>() << " -> " << fix << "  " << ids
              << (alias.empty() ? "" : " (" + alias + ")") << status << avail << sup << "\n";
    ++by_sev[f["severity"]];
  }
  std::cout << fs.size() << " findings:";
  for (auto s : {"critical", "high", "medium", "low", "negligible", "unknown"})
    if (by_sev.count(s)) std::cout << " " << by_sev[s] << " " << s;
  std::cout << "\n";
}

}  // namespace

void add_scan_commands(CLI::App& app, ScanCommands& s) {
  s.scan = app.add_subcommand("scan", "inventory and match an image now (REPO:TAG, REPO@DIGEST or a digest)");
  s.scan->add_option("image", s.refs, "images to scan (none with --all)");
  s.scan->add_flag("--all", s.all, "scan every image not scanned yet and re-match after advisory changes");
  s.scan->add_flag("--force", s.force, "re-read every layer instead of using the layer cache");

  s.findings = app.add_subcommand("findings", "vulnerable components in the registry's images");
  s.findings->add_option("--image", s.refs, "only these images (REPO:TAG, REPO@DIGEST or a digest)");
  s.findings->add_option("--severity", s.severity, "only this severity and above (critical, high, medium, low)");
  s.findings->add_flag("--all", s.include_suppressed, "include findings suppressed by VEX statements or exceptions");

  s.inventory = app.add_subcommand("inventory", "the components found in an image, with the layer providing each");
  s.inventory->add_option("image", s.ref)->required();
  s.inventory->add_flag("--files", s.files, "list the final filesystem instead: each path with the layer that provides it");
  s.sbom = app.add_subcommand("sbom", "print an image's SBOM (also attached to the image as an OCI referrer)");
  s.sbom->add_option("image", s.ref)->required();
  s.sbom->add_option("--format", s.format, "cyclonedx (1.5) or spdx (2.3)")->check(CLI::IsMember({"cyclonedx", "spdx"}));

  s.vex = app.add_subcommand("vex", "OpenVEX statements about vulnerabilities in images");
  s.vex->require_subcommand(1);
  s.vex_add = s.vex->add_subcommand("add", "record a statement");
  s.vex_add->add_option("--vulnerability", s.vulnerability, "CVE, GHSA, GO-... id (aliases match too)")->required();
  s.vex_add->add_option("--product", s.product, "repository pattern (glob, e.g. 'apps/*') or manifest digest")->required();
  s.vex_add->add_option("--subcomponent", s.subcomponent, "package name or purl (default: any)");
  s.vex_add->add_option("--status", s.status, "not_affected, affected, fixed or under_investigation")->required();
  s.vex_add->add_option("--justification", s.justification, "for not_affected: component_not_present, vulnerable_code_not_present, ...");
  s.vex_add->add_option("--impact", s.impact, "impact statement");
  s.vex_add->add_option("--action", s.action, "action statement (required for affected)");
  s.vex_add->add_option("--author", s.author, "who makes the statement (default: the login name)");
  s.vex_list = s.vex->add_subcommand("list", "statements in force");
  s.vex_list->add_flag("--all", s.all, "include withdrawn statements");
  s.vex_withdraw = s.vex->add_subcommand("withdraw", "withdraw a statement");
  s.vex_withdraw->add_option("id", s.id)->required();
  s.vex_export = s.vex->add_subcommand("export", "print the statements in force as one OpenVEX document");
  s.vex_export->add_option("--author", s.author, "document author (default: the login name)");

  s.heals = app.add_subcommand("heals", "heals and their states (detected, planned, building, verifying, staged, promoted, held, failed, rolled_back)");
  s.heal = app.add_subcommand("heal", "plan, run, explain, approve and roll back heals");
  s.heal->require_subcommand(1);
  s.heal_plan = s.heal->add_subcommand("plan", "what a heal of the image would do (no side effects)");
  s.heal_plan->add_option("image", s.ref)->required();
  s.heal_run = s.heal->add_subcommand("run", "heal REPO:TAG now: plan, rebuild with no network, verify, stage");
  s.heal_run->add_option("image", s.ref)->required();
  s.heal_run->add_option("--runtime", s.runtime, "OCI runtime buildah runs steps with (default runc)");
  s.heal_show = s.heal->add_subcommand("show", "explain a heal in plain words");
  s.heal_show->add_option("id", s.id)->required();
  s.heal_approve = s.heal->add_subcommand("approve", "promote a staged heal: the original tag then serves the healed image");
  s.heal_approve->add_option("id", s.id)->required();
  s.heal_approve->add_option("--by", s.by, "who approves (default: the login name)");
  s.heal_rollback = s.heal->add_subcommand("rollback", "point REPO:TAG back at the digest it had before its latest promoted heal");
  s.heal_rollback->add_option("image", s.ref)->required();
  s.heal_rollback->add_option("--by", s.by, "who rolls back (default: the login name)");
  s.heal_hold = s.heal->add_subcommand("hold", "keep a staged heal from being promoted, with a reason");
  s.heal_hold->add_option("id", s.id)->required();
  s.heal_hold->add_option("--reason", s.reason, "why (shown in heals, the dashboard and the evidence)");
  s.heal_hold->add_option("--by", s.by, "who holds it (default: the login name)");

  s.exc = app.add_subcommand("exception", "time-boxed exceptions that suppress a finding until they expire");
  s.exc->require_subcommand(1);
  s.exc_add = s.exc->add_subcommand("add", "grant an exception");
  s.exc_add->add_option("--vulnerability", s.vulnerability)->required();
  s.exc_add->add_option("--product", s.product, "repository pattern (glob) or manifest digest")->required();
  s.exc_add->add_option("--subcomponent", s.subcomponent, "package name or purl (default: any)");
  s.exc_add->add_option("--reason", s.reason, "why the risk is accepted")->required();
  s.exc_add->add_option("--expires", s.expires, "duration (30d, 12h) or date (2027-01-31, RFC 3339)")->required();
  s.exc_add->add_option("--by", s.by, "who grants it (default: the login name)");
  s.exc_list = s.exc->add_subcommand("list", "exceptions in force");
  s.exc_list->add_flag("--all", s.all, "include expired and revoked ones");
  s.exc_revoke = s.exc->add_subcommand("revoke", "end an exception now");
  s.exc_revoke->add_option("id", s.id)->required();
  s.exc_revoke->add_option("--by", s.by, "who revokes it (default: the login name)");
  s.exc_export = s.exc->add_subcommand("export", "print every exception (active, expired, revoked) as JSON");

  s.audit = app.add_subcommand("audit", "the tamper-evident audit journal");
  s.audit->require_subcommand(1);
  s.audit_verify = s.audit->add_subcommand("verify", "prove the whole journal intact and its signed checkpoints valid, or name the first break");
  s.audit_checkpoint = s.audit->add_subcommand("checkpoint", "sign a checkpoint of the journal now (airheald does it every audit.checkpoint_interval)");
  s.audit_key = s.audit->add_subcommand("key", "the appliance's signing key: print its fingerprint (give it to auditors out of band)");
  s.audit_key->add_option("--export", s.key_export, "also write the armoured public key to this file");
  s.evidence = app.add_subcommand("evidence", "signed evidence bundles for auditors");
  s.evidence->require_subcommand(1);
  s.evidence_export = s.evidence->add_subcommand("export", "write one signed bundle covering a period (airheal-evidence verify checks it)");
  s.evidence_export->add_option("--from", s.from, "start date (2026-11-01 or RFC 3339)")->required();
  s.evidence_export->add_option("--to", s.to, "end date, inclusive (a date alone means the whole day)")->required();
  s.evidence_export->add_option("--image", s.images, "only images matching this glob (repository or repository:tag)");
  s.evidence_export->add_option("--out", s.out, "the bundle file to write")->required();
}

int audit_command(const ScanCommands& s, const config::Config& cfg, store::Store& store, audit::Journal& journal, bool json_out) {
  if (s.audit_key->parsed()) {
    auto key = heal::ApplianceKey::open(cfg.state_dir);  // made (and journalled) on first use
    if (!key) return fail(key.error().message);
    if (!s.key_export.empty()) {
      auto pub = key->public_key();
      if (!pub) return fail(pub.error().message);
      if (auto st = fs::write_file_atomic(s.key_export, *pub); !st) return fail(st.error().message);
    }
    if (json_out) std::cout << nlohmann::json{{"fingerprint", key->fingerprint()}}.dump() << "\n";
    else std::cout << key->fingerprint() << "\n";
    return 0;
  }
  if (s.audit_checkpoint->parsed()) {
    auto key = heal::ApplianceKey::open(cfg.state_dir);
    if (!key) return fail(key.error().message);
    auto c = audit::make_checkpoint(cfg.state_dir, journal, key->fingerprint(), [&](const std::string& d) { return key->sign(d); },
                                    &store);
    if (!c) return fail(c.error().message);
    std::cout << "checkpoint " << c->seq << " signed by " << c->key << ": record " << c->seq << " has hash " << c->head << "\n";
    return 0;
  }
  // verify: the chain, each checkpoint (signature, record, own record), the anchor in the database.
  auto r = audit::verify_journal(cfg.state_dir, journal, &store, true);
  nlohmann::json report = {{"records", r.records}, {"intact", r.intact()}, {"checkpoints", r.checkpoints.size()},
                           {"uncovered_records", r.uncovered}, {"problems", r.problems}};
  if (!r.checkpoints.empty()) {
    report["last_checkpoint"] = r.checkpoints.back().seq;
    report["last_checkpoint_time"] = scan::rfc3339(r.checkpoints.back().time);
    report["records_since_checkpoint"] = r.records - r.checkpoints.back().seq;
  }
  if (json_out) std::cout << report.dump(2) << "\n";
  else if (r.intact()) {
    std::cout << "audit journal intact: " << r.records << " records, hash chain unbroken";
    if (!r.checkpoints.empty())
      std::cout << "; " << r.checkpoints.size() << " signed checkpoint(s) valid, the last at record " << r.checkpoints.back().seq
                << " (" << scan::rfc3339(r.checkpoints.back().time) << "); " << r.uncovered
                << " record(s) after it not yet covered by a signed checkpoint";
    else
      std::cout << "; no signed checkpoint yet: all " << r.uncovered
                << " record(s) not yet covered by a signed checkpoint (airhealctl audit checkpoint)";
    std::cout << "\n";
  } else {
    std::cerr << "audit journal NOT intact:\n";
    for (const auto& p : r.problems) std::cerr << "  " << p << "\n";
  }
  return r.intact() ? 0 : 1;
}

std::optional<int> run_scan_commands(const ScanCommands& s, const config::Config& cfg, bool json) {
  bool any = s.scan->parsed() || s.findings->parsed() || s.inventory->parsed() || s.sbom->parsed() || s.vex->parsed() ||
             s.exc->parsed() || s.heals->parsed() || s.heal->parsed() || s.audit->parsed() || s.evidence->parsed();
  if (!any) return std::nullopt;
  if (!std::filesystem::exists(cfg.state_dir / "metadata.db"))
    return fail("no airheal state in " + cfg.state_dir.string() + " (start airheald once, or pass --state-dir)", 2);
  auto opened = store::Store::open(cfg.state_dir);
  if (!opened) return fail(opened.error().message, 2);
  auto& st = **opened;
  audit::Journal journal(audit::journal_path(cfg.state_dir));
  scan::ScannerOptions so;
  so.sboms = cfg.scan.sboms;
  so.layer.max_binary_bytes = cfg.scan.max_binary_bytes;
  so.actor = "airhealctl:" + operator_name();
  scan::Scanner scanner(st, &journal, so);
  auto now = st.now_seconds();

  auto resolve_all = [&](std::vector<std::string>& out) -> std::optional<int> {
    for (const auto& r : s.refs) {
      auto d = scanner.resolve(r);
      if (!d) return fail(d.error().message, 2);
      out.push_back(d->str());
    }
    return std::nullopt;
  };

  if (s.scan->parsed()) {
    if (s.refs.empty() && !s.all) return fail("name an image to scan, or pass --all", 2);
    nlohmann::json out = nlohmann::json::array();
    auto emit = [&](const scan::ScanReport& r) {
      if (json)
        out.push_back({{"manifest", r.manifest}, {"components", r.components}, {"findings", r.findings},
                       {"layers", r.layers}, {"layers_read", r.layers_read}, {"layers_cached", r.layers_cached},
                       {"inventory_cached", r.inventory_cached}, {"sboms", r.sboms}, {"seconds", r.seconds}});
      else
        print_report(r);
    };
    if (s.all) {
      for (const auto& r : scanner.scan_pending()) emit(r);
      auto rm = scanner.rematch_changed();
      if (!json) std::cout << "re-matched " << rm.images << " images after " << rm.keys_changed << " advisory key changes\n";
    }
    for (const auto& ref : s.refs) {
      auto d = scanner.resolve(ref);
      if (!d) return fail(d.error().message, 2);
      auto r = scanner.scan(*d, s.force);
      if (!r) return fail(ref + ": " + r.error().message);
      for (const auto& x : *r) emit(x);
    }
    if (json) std::cout << out.dump(2) << "\n";
    if (!s.refs.empty() && !json) {
      std::vector<std::string> ms;
      for (const auto& ref : s.refs) ms.push_back(scanner.resolve(ref)->str());
      nlohmann::json fs;
      st.read([&](sqlite::Connection& c) {
        scan::FindingsQuery q;
        q.manifests = ms;
        // An index stands for its images.
        for (const auto& m : ms) {
          auto kids = c.prepare("SELECT child FROM manifest_refs r JOIN image_inventory i ON i.manifest = r.child WHERE r.manifest = ? AND r.kind = 'manifest'");
          kids.bind(1, m);
          while (kids.step()) q.manifests.push_back(kids.get_text(0));
        }
        fs = scan::list_findings(c, q, now);
      });
      print_findings(fs);
    }
    return 0;
  }

  if (s.findings->parsed()) {
    scan::FindingsQuery q;
    std::vector<std::string> ms;
    if (auto rc = resolve_all(ms)) return rc;
    if (!s.severity.empty() && scan::severity_rank(s.severity) == 0 && s.severity != "unknown")
      return fail("--severity must be critical, high, medium, low or negligible", 2);
    nlohmann::json fs;
    st.read([&](sqlite::Connection& c) {
      for (const auto& m : ms) {
        q.manifests.push_back(m);
        auto kids = c.prepare("SELECT child FROM manifest_refs WHERE manifest = ? AND kind = 'manifest'");
        kids.bind(1, m);
        while (kids.step()) q.manifests.push_back(kids.get_text(0));
      }
      if (!ms.empty() && q.manifests.empty()) q.manifests = ms;
      q.min_severity = s.severity;
      q.include_suppressed = s.include_suppressed;
      fs = scan::list_findings(c, q, now);
    });
    if (json)
      std::cout << fs.dump(2) << "\n";
    else
      print_findings(fs);
    return 0;
  }

  if (s.inventory->parsed() || s.sbom->parsed()) {
    auto d = scanner.resolve(s.ref);
    if (!d) return fail(d.error().message, 2);
    std::optional<scan::ImageInventory> inv;
    std::int64_t created = now;
    std::vector<std::string> names;
    st.read([&](sqlite::Connection& c) {
      inv = scan::load_inventory(c, d->str());
      auto q = c.prepare("SELECT scanned_at FROM image_inventory WHERE manifest = ?");
      q.bind(1, d->str());
      if (q.step()) created = q.get_int(0);
      names = scan::image_names(c, d->str());
    });
    if (!inv) {
      auto r = scanner.scan(*d);
      if (!r) return fail(r.error().message);
      st.read([&](sqlite::Connection& c) { inv = scan::load_inventory(c, d->str()); });
      if (!inv) return fail(s.ref + " is an index: name one of its images by digest");
    }
    if (s.files) {
      auto files = scanner.image_files(*d);
      if (!files) return fail(files.error().message);
      if (json) {
        auto a = nlohmann::json::array();
        for (const auto& [path, f] : *files)
          a.push_back({{"path", path}, {"type", std::string(1, f.file.type)}, {"size", f.file.size},
                       {"layer", f.layer < inv->layers.size() ? inv->layers[f.layer] : ""}, {"layer_index", f.layer}});
        std::cout << a.dump(2) << "\n";
      } else {
        for (const auto& [path, f] : *files)
          std::cout << f.layer << "  " << f.file.type << "  " << std::setw(10) << f.file.size << "  /" << path
                    << (f.file.link.empty() ? "" : " -> " + f.file.link) << "\n";
      }
      return 0;
    }
    if (s.sbom->parsed()) {
      std::string repo = s.ref.substr(0, s.ref.find_first_of("@"));
      if (repo.rfind("sha256:", 0) == 0 || repo.empty()) repo = names.empty() ? "image" : names.front();
      auto colon = repo.rfind(':');
      if (colon != std::string::npos && repo.find('/', colon) == std::string::npos) repo = repo.substr(0, colon);
      std::vector<std::string> tags;
      for (const auto& n : names)
        if (n.rfind(repo + ":", 0) == 0) tags.push_back(n.substr(repo.size() + 1));
      scan::SbomSubject subj{repo, d->str(), tags, created, AIRHEAL_VERSION};
      auto doc = s.format == "spdx" ? scan::spdx(*inv, subj) : scan::cyclonedx(*inv, subj);
      std::cout << doc.dump(2) << "\n";
      return 0;
    }
    if (json) {
      auto j = inv->to_json();
      j["manifest"] = d->str();
      j["names"] = names;
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << d->str() << " " << (inv->os.pretty_name.empty() ? "(no os-release)" : inv->os.pretty_name) << ", "
              << inv->components.size() << " components, " << inv->files << " files in " << inv->layers.size() << " layers\n";
    for (const auto& c : inv->components) {
      auto layer = std::find(inv->layers.begin(), inv->layers.end(), c.layer) - inv->layers.begin();
      std::cout << "  " << std::left << std::setw(7) << c.type << " " << c.name << " " << c.version
                << (c.source != c.name || c.source_version != c.version ? " (source " + c.source + " " + c.source_version + ")" : "")
                << "  layer " << layer << "  /" << c.location << "\n";
    }
    for (const auto& p : inv->problems) std::cout << "  problem: " << p << "\n";
    return 0;
  }

  if (s.audit->parsed()) return audit_command(s, cfg, st, journal, json);
  if (s.evidence_export->parsed()) {
    auto from = evidence::period_bound(s.from, false), to = evidence::period_bound(s.to, true);  // a date alone: the whole day
    if (!from) return fail("--from '" + s.from + "' is not a date (2026-11-01 or RFC 3339)", 2);
    if (!to) return fail("--to '" + s.to + "' is not a date (2026-11-30 or RFC 3339)", 2);
    auto eo = heal::engine_options(cfg);
    heal::Engine engine(st, scanner, &journal, eo);
    evidence::EvidenceOptions o;
    o.from = *from;
    o.to = *to;
    o.images = s.images;
    o.out = s.out;
    bool tty = ::isatty(2);
    o.progress = [tty](const std::string& step) {
      if (tty) std::cerr << "\r\033[K" << step << std::flush;
      else std::cerr << step << "\n";
    };
    auto r = evidence::export_evidence(st, engine, cfg.state_dir, o);
    if (tty) std::cerr << "\r\033[K";
    if (!r) return fail("no bundle written: " + r.error().message);
    std::cout << "wrote " << s.out << " (" << fs::human_bytes(r->bytes) << ", " << r->files << " files): " << r->images << " image(s), "
              << r->heals << " heal(s), " << r->snapshots << " snapshot(s), " << r->records << " audit record(s); signed by "
              << r->key << "\nverify it with: airheal-evidence verify " << s.out << " --key " << r->key << "\n";
    return 0;
  }
  auto who = [&](const std::string& given) { return given.empty() ? operator_name() : given; };
  if (s.heals->parsed() || s.heal->parsed()) {
    auto eo = heal::engine_options(cfg);
    if (!s.runtime.empty()) eo.runtime = s.runtime;
    eo.actor = "airhealctl:" + operator_name();
    // Heals run or approved here notify like the daemon's: the digest-pinned promotions list, and
    // the webhooks (delivered before this command exits, up to 30 s).
    std::unique_ptr<heal::Webhooks> hooks;
    if (!cfg.heal.webhooks.empty()) {
      std::string secret;
      if (!cfg.heal.webhook_secret_file.empty()) {
        auto sb = heal::read_webhook_secret(cfg.heal.webhook_secret_file);
        if (!sb) return fail(sb.error().message, 2);
        secret = *sb;
      }
      hooks = std::make_unique<heal::Webhooks>(cfg.heal.webhooks, secret);
    }
    struct Flush {
      heal::Webhooks* h;
      ~Flush() {
        if (h) h->flush(std::chrono::seconds(30));
      }
    } flush{hooks.get()};
    auto promotions = cfg.outbox_directory() / "promotions";
    eo.notify = [&st, h = hooks.get(), promotions](const nlohmann::json& e) {
      if (auto w = heal::write_promotions(st, promotions, e); !w) std::cerr << "promotions: " << w.error().message << "\n";
      if (h) h->post(e);
    };
    heal::Engine engine(st, scanner, &journal, eo);
    auto print = [&](const heal::HealRecord& h) {
      std::cout << "heal " << h.id << "  " << h.repository << ":" << h.tag << "  " << h.state
                << (h.strategy.empty() ? "" : "  (" + h.strategy + ")")
                << (h.staged_tag.empty() ? "" : "  staged as " + h.repository + ":" + h.staged_tag)
                << (h.reason.empty() ? "" : "\n  " + h.reason) << "\n";
    };
    auto split = [&](const std::string& ref) -> std::optional<std::pair<std::string, std::string>> {
      auto slash = ref.rfind('/');
      auto colon = ref.rfind(':');
      if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return std::pair{ref, std::string("latest")};
      return std::pair{ref.substr(0, colon), ref.substr(colon + 1)};
    };
    if (s.heals->parsed()) {
      auto all = engine.list();
      if (json) {
        auto a = nlohmann::json::array();
        for (const auto& h : all) a.push_back(h.to_json());
        std::cout << a.dump(2) << "\n";
      } else {
        if (all.empty()) std::cout << "no heals yet\n";
        for (const auto& h : all) print(h);
      }
      return 0;
    }
    if (s.heal_plan->parsed()) {
      auto d = scanner.resolve(s.ref);
      if (!d) return fail(d.error().message, 2);
      if (auto r = scanner.scan(*d); !r) return fail(r.error().message);
      auto p = engine.plan(d->str(), split(s.ref)->first);
      if (!p) return fail(p.error().message);
      if (json) std::cout << p->to_json().dump(2) << "\n";
      else std::cout << p->strategy << ": " << p->explanation << "\n";
      return 0;
    }
    if (s.heal_run->parsed()) {
      auto ref = split(s.ref);
      auto r = engine.heal(ref->first, ref->second, true);
      if (!r) return fail(r.error().message);
      if (json) std::cout << r->to_json().dump(2) << "\n";
      else print(*r);
      return r->state == "staged" || r->state == "promoted" ? 0 : r->state == "held" ? 3 : 1;
    }
    if (s.heal_show->parsed()) {
      auto h = engine.get(s.id);
      if (!h) return fail("no heal " + std::to_string(s.id), 2);
      if (json) {
        auto j = h->to_json();
        j["events"] = engine.events(s.id);
        j["log"] = h->log;
        std::cout << j.dump(2) << "\n";
        return 0;
      }
      print(*h);
      std::cout << "  image:    " << h->repository << ":" << h->tag << " at " << h->original << "\n";
      if (!h->staged.empty()) std::cout << "  healed:   " << h->staged << "\n";
      std::cout << "  why:      " << h->plan.value("explanation", std::string("(not planned)")) << "\n";
      if (!h->failure.empty()) {
        // The package manager's (or test's) own words, as it printed them.
        std::cout << "  failure:  " << heal::to_string(heal::failure_class_from_slug(h->failure)) << "\n";
        std::size_t pos = 0;
        while (pos < h->failure_lines.size()) {
          auto eol = h->failure_lines.find('\n', pos);
          std::cout << "            " << h->failure_lines.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos) << "\n";
          if (eol == std::string::npos) break;
          pos = eol + 1;
        }
      }
      auto j = h->to_json();
      if (h->heal_layer_size)
        std::cout << "  size:     heal layer " << fs::human_bytes(static_cast<std::uint64_t>(h->heal_layer_size)) << " over a "
                  << fs::human_bytes(static_cast<std::uint64_t>(h->image_size)) << " image ("
                  << (h->image_size ? 100.0 * static_cast<double>(h->heal_layer_size) / static_cast<double>(h->image_size) : 0.0)
                  << "%)\n";
      if (j.contains("time_to_stage_seconds"))
        std::cout << "  time:     " << j["time_to_stage_seconds"].get<std::int64_t>() << " s from the fix's import to staged"
                  << (j.contains("time_to_promote_seconds")
                          ? ", " + std::to_string(j["time_to_promote_seconds"].get<std::int64_t>()) + " s to promoted"
                          : std::string())
                  << "\n";
      for (const auto& a : h->attestations)
        std::cout << "  signed:   " << a.value("predicateType", "") << "  " << a.value("digest", "") << "\n";
      for (const auto& e : engine.events(s.id))
        std::cout << "  " << e["at"].get<std::string>() << "  " << std::left << std::setw(11) << e["state"].get<std::string>()
                  << " " << e["detail"].get<std::string>() << "\n";
      return 0;
    }
    // Approve, hold and roll back go through airheald's REST API when it serves plain HTTP, so
    // that its canary, webhooks and journal see them; here otherwise (stopped, TLS, or the API
    // wants credentials). Either way the same engine does the work.
    auto via_api = [&](std::int64_t id, const std::string& action, const std::string& from) -> std::optional<int> {
      auto url = cli::daemon_url(cfg.state_dir);
      if (url.rfind("http://", 0) != 0) return std::nullopt;  // stopped, or TLS only
      auto d = url.substr(7);
      nlohmann::json body = {{"by", who(s.by)}, {"actor", eo.actor}};
      if (!s.reason.empty()) body["reason"] = s.reason;
      auto r = cli::daemon_request(d, "POST", "/api/v1/heals/" + std::to_string(id) + "/" + action, body.dump());
      if (!r || r->status == 401 || r->status == 403) return std::nullopt;
      if (r->status >= 400) {
        auto j = nlohmann::json::parse(r->body, nullptr, false);
        return fail(j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "airheald answered " + std::to_string(r->status));
      }
      std::cerr << "airhealctl: " << action << " of heal " << id << " sent to airheald at " << d << "\n";
      for (int i = 0; i < 1200; ++i) {  // approval runs the canary in the daemon: wait for the outcome
        auto h = engine.get(id);
        if (h && h->state != from) {
          print(*h);
          return h->state == (action == "approve" ? "promoted" : action == "hold" ? "held" : "rolled_back") ? 0 : 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
      return fail("airheald accepted the " + action + " of heal " + std::to_string(id) + " but it has not finished after 5 minutes; see airhealctl heal show " +
                  std::to_string(id));
    };
    if (s.heal_approve->parsed() || s.heal_hold->parsed()) {
      bool approve = s.heal_approve->parsed();
      if (auto h = engine.get(s.id); h && h->state == "staged")
        if (auto rc = via_api(s.id, approve ? "approve" : "hold", "staged")) return *rc;
      auto r = approve ? engine.approve(s.id, who(s.by)) : engine.hold(s.id, who(s.by), s.reason);
      if (!r) return fail(r.error().message);
      print(*r);
      return 0;
    }
    auto ref = split(s.ref);
    std::optional<std::int64_t> promoted;
    for (const auto& h : engine.list())
      if (h.repository == ref->first && h.tag == ref->second && h.state == "promoted") promoted = h.id;
    if (promoted)
      if (auto rc = via_api(*promoted, "rollback", "promoted")) return *rc;
    auto r = engine.rollback(ref->first, ref->second, who(s.by));
    if (!r) return fail(r.error().message);
    print(*r);
    return 0;
  }
  // Every change is journalled; a change the journal could not record is reported as a failure.
  auto audit = [&](nlohmann::json record) -> std::optional<int> {
    record["actor"] = "airhealctl:" + operator_name();
    if (auto st = journal.append(std::move(record)); !st)
      return fail("the change was made but the journal could not record it: " + st.error().message);
    return std::nullopt;
  };
  if (s.vex->parsed()) {
    if (s.vex_add->parsed()) {
      scan::VexStatement v;
      v.vulnerability = s.vulnerability;
      v.product = s.product;
      v.subcomponent = s.subcomponent;
      v.status = s.status;
      v.justification = s.justification;
      v.impact_statement = s.impact;
      v.action_statement = s.action;
      v.author = who(s.author);
      Result<scan::VexStatement> r = make_error(Errc::invalid_argument, "");
      st.transaction([&](sqlite::Connection& c) { r = scan::add_vex(c, v, now); });
      if (!r) return fail(r.error().message, 2);
      if (auto rc = audit({{"type", "vex.added"}, {"statement", scan::to_json(*r)}})) return rc;
      std::cout << "vex statement " << r->id << ": " << r->vulnerability << " " << r->status << " for " << r->product << "\n";
      return 0;
    }
    if (s.vex_withdraw->parsed()) {
      Status r;
      st.transaction([&](sqlite::Connection& c) { r = scan::withdraw_vex(c, s.id, now); });
      if (!r) return fail(r.error().message);
      if (auto rc = audit({{"type", "vex.withdrawn"}, {"id", s.id}})) return rc;
      std::cout << "withdrew vex statement " << s.id << "\n";
      return 0;
    }
    std::vector<scan::VexStatement> all;
    st.read([&](sqlite::Connection& c) { all = scan::list_vex(c, s.vex_list->parsed() && s.all); });
    if (s.vex_export->parsed()) {
      std::cout << scan::openvex_document(all, who(s.author), now).dump(2) << "\n";
      return 0;
    }
    if (json) {
      auto a = nlohmann::json::array();
      for (const auto& v : all) a.push_back(scan::to_json(v));
      std::cout << a.dump(2) << "\n";
      return 0;
    }
    if (all.empty()) std::cout << "no VEX statements\n";
    for (const auto& v : all)
      std::cout << v.id << "  " << v.vulnerability << "  " << v.status
                << (v.justification.empty() ? "" : " (" + v.justification + ")") << "  product " << v.product
                << (v.subcomponent.empty() ? "" : " / " + v.subcomponent) << "  by " << v.author << " "
                << scan::rfc3339(v.created_at) << (v.withdrawn_at ? " WITHDRAWN" : "") << "\n";
    return 0;
  }

  if (s.exc_add->parsed()) {
    auto expires = parse_expiry(s.expires, now);
    if (!expires) return fail("--expires '" + s.expires + "' is neither a duration (30d) nor a date (2027-01-31)", 2);
    scan::Exception e;
    e.vulnerability = s.vulnerability;
    e.product = s.product;
    e.subcomponent = s.subcomponent;
    e.reason = s.reason;
    e.created_by = who(s.by);
    e.expires_at = *expires;
    Result<scan::Exception> r = make_error(Errc::invalid_argument, "");
    st.transaction([&](sqlite::Connection& c) { r = scan::add_exception(c, e, now); });
    if (!r) return fail(r.error().message, 2);
    if (auto rc = audit({{"type", "exception.added"}, {"exception", scan::to_json(*r, now)}})) return rc;
    std::cout << "exception " << r->id << ": " << r->vulnerability << " in " << r->product << " until "
              << scan::rfc3339(r->expires_at) << "\n";
    return 0;
  }
  if (s.exc_revoke->parsed()) {
    Status r;
    st.transaction([&](sqlite::Connection& c) { r = scan::revoke_exception(c, s.id, who(s.by), now); });
    if (!r) return fail(r.error().message);
    if (auto rc = audit({{"type", "exception.revoked"}, {"id", s.id}, {"by", who(s.by)}})) return rc;
    std::cout << "revoked exception " << s.id << "\n";
    return 0;
  }
  std::vector<scan::Exception> all;
  st.read([&](sqlite::Connection& c) { all = scan::list_exceptions(c, s.exc_export->parsed() || s.all, now); });
  if (json || s.exc_export->parsed()) {
    auto a = nlohmann::json::array();
    for (const auto& e : all) a.push_back(scan::to_json(e, now));
    std::cout << a.dump(2) << "\n";
    return 0;
  }
  if (all.empty()) std::cout << "no exceptions in force\n";
  for (const auto& e : all)
    std::cout << e.id << "  " << e.vulnerability << "  product " << e.product
              << (e.subcomponent.empty() ? "" : " / " + e.subcomponent) << "  until " << scan::rfc3339(e.expires_at) << "  by "
              << e.created_by << ": " << e.reason << (e.revoked_at ? "  REVOKED" : !e.active(now) ? "  EXPIRED" : "") << "\n";
  return 0;
}

}  // namespace airheal::cli
