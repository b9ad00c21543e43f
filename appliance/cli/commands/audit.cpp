// airhealctl audit verify | checkpoint | key, evidence export: what auditors are given.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "audit/checkpoint.hpp"
#include "cli/commands/command.hpp"
#include "core/fs.hpp"
#include "evidence/evidence.hpp"
#include "heal/attest.hpp"
#include "scan/sbom.hpp"

namespace airheal::cli {
namespace {

class AuditCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    audit_ = app.add_subcommand("audit", "the tamper-evident audit journal");
    audit_->require_subcommand(1);
    verify_ = audit_->add_subcommand(
        "verify",
        "prove the whole journal intact and its signed checkpoints valid, or name the first break");
    checkpoint_ = audit_->add_subcommand(
        "checkpoint",
        "sign a checkpoint of the journal now (airheald does it every audit.checkpoint_interval)");
    key_ = audit_->add_subcommand(
        "key",
        "the appliance's signing key: print its fingerprint (give it to auditors out of band)");
    key_->add_option("--export", key_export_, "also write the armoured public key to this file");
    key_->add_flag("--pem", key_pem_,
                   "print the ECDSA P-256 public key as PEM instead (what cosign verify-blob-"
                   "attestation --key and in-toto verifiers take)");
    evidence_ = app.add_subcommand("evidence", "signed evidence bundles for auditors");
    evidence_->require_subcommand(1);
    export_ = evidence_->add_subcommand(
        "export", "write one signed bundle covering a period (airheal-evidence verify checks it)");
    export_->add_option("--from", from_, "start date (2026-11-01 or RFC 3339)")->required();
    export_->add_option("--to", to_, "end date, inclusive (a date alone means the whole day)")
        ->required();
    export_->add_option("--image", images_,
                        "only images matching this glob (repository or repository:tag)");
    export_->add_option("--out", out_, "the bundle file to write")->required();
  }
  bool given() const override { return audit_->parsed() || evidence_->parsed(); }
  int run(const Context& ctx) override {
    if (export_->parsed()) return export_evidence(ctx);
    auto sv = open_services(ctx);
    if (!sv) return 2;
    if (key_->parsed()) return key(ctx);
    if (checkpoint_->parsed()) return checkpoint(ctx, *sv);
    return verify(ctx, *sv);
  }

 private:
  int key(const Context& ctx) const {
    auto key = heal::ApplianceKey::open(ctx.cfg.state_dir);  // made (and journalled) on first use
    if (!key) return fail(key.error().message);
    if (!key_export_.empty()) {
      auto pub = key->public_key();
      if (!pub) return fail(pub.error().message);
      if (auto st = fs::write_file_atomic(key_export_, *pub); !st) return fail(st.error().message);
    }
    if (key_pem_) {
      std::cout << key->public_pem();
      return 0;
    }
    if (ctx.json)
      std::cout << nlohmann::json{{"fingerprint", key->fingerprint()},
                                  {"ecdsa_key_id", key->ecdsa_key_id()},
                                  {"ecdsa_public_key", key->public_pem()}}
                       .dump()
                << "\n";
    else
      std::cout << key->fingerprint() << "\n";
    return 0;
  }

  static int checkpoint(const Context& ctx, Services& sv) {
    auto key = heal::ApplianceKey::open(ctx.cfg.state_dir);
    if (!key) return fail(key.error().message);
    auto c = audit::make_checkpoint(
        ctx.cfg.state_dir, *sv.journal, key->fingerprint(),
        [&](const std::string& d) { return key->sign(d); }, sv.store.get());
    if (!c) return fail(c.error().message);
    std::cout << "checkpoint " << c->seq << " signed by " << c->key << ": record " << c->seq
              << " has hash " << c->head << "\n";
    return 0;
  }

  // The chain, each checkpoint (signature, record, own record), the anchor in the database.
  static int verify(const Context& ctx, Services& sv) {
    auto r = audit::verify_journal(ctx.cfg.state_dir, *sv.journal, sv.store.get(), true);
    nlohmann::json report = {{"records", r.records},
                             {"intact", r.intact()},
                             {"checkpoints", r.checkpoints.size()},
                             {"uncovered_records", r.uncovered},
                             {"problems", r.problems}};
    if (!r.checkpoints.empty()) {
      report["last_checkpoint"] = r.checkpoints.back().seq;
      report["last_checkpoint_time"] = scan::rfc3339(r.checkpoints.back().time);
      report["records_since_checkpoint"] = r.records - r.checkpoints.back().seq;
    }
    if (ctx.json) {
      std::cout << report.dump(2) << "\n";
    } else if (r.intact()) {
      std::cout << "audit journal intact: " << r.records << " records, hash chain unbroken";
      if (!r.checkpoints.empty())
        std::cout << "; " << r.checkpoints.size()
                  << " signed checkpoint(s) valid, the last at record " << r.checkpoints.back().seq
                  << " (" << scan::rfc3339(r.checkpoints.back().time) << "); " << r.uncovered
                  << " record(s) after it not yet covered by a signed checkpoint";
      else
        std::cout
            << "; no signed checkpoint yet: all " << r.uncovered
            << " record(s) not yet covered by a signed checkpoint (airhealctl audit checkpoint)";
      std::cout << "\n";
    } else {
      std::cerr << "audit journal NOT intact:\n";
      for (const auto& p : r.problems) std::cerr << "  " << p << "\n";
    }
    return r.intact() ? 0 : 1;
  }

  int export_evidence(const Context& ctx) const {
    auto from = evidence::period_bound(from_, false),
         to = evidence::period_bound(to_, true);  // a date alone: the whole day
    if (!from) return fail("--from '" + from_ + "' is not a date (2026-11-01 or RFC 3339)", 2);
    if (!to) return fail("--to '" + to_ + "' is not a date (2026-11-30 or RFC 3339)", 2);
    ServiceOptions so;
    so.engine = true;
    auto sv = open_services(ctx, so);
    if (!sv) return 2;
    evidence::EvidenceOptions o;
    o.from = *from;
    o.to = *to;
    o.images = images_;
    o.out = out_;
    if (!ctx.cfg.http.server_names.empty()) o.registry_host = ctx.cfg.http.server_names.front();
    o.sla_days = ctx.cfg.audit.sla_days;
    bool tty = ::isatty(2);
    o.progress = [tty](const std::string& step) {
      if (tty)
        std::cerr << "\r\033[K" << step << std::flush;
      else
        std::cerr << step << "\n";
    };
    auto r = evidence::export_evidence(*sv->store, *sv->engine, ctx.cfg.state_dir, o);
    if (tty) std::cerr << "\r\033[K";
    if (!r) return fail("no bundle written: " + r.error().message);
    std::cout << "wrote " << out_ << " (" << fs::human_bytes(r->bytes) << ", " << r->files
              << " files): " << r->images << " image(s), " << r->heals << " heal(s), "
              << r->snapshots << " snapshot(s), " << r->records << " audit record(s); signed by "
              << r->key << "\nverify it with: airheal-evidence verify " << out_ << " --key "
              << r->key << "\n";
    return 0;
  }

  CLI::App *audit_ = nullptr, *verify_ = nullptr, *checkpoint_ = nullptr, *key_ = nullptr,
           *evidence_ = nullptr, *export_ = nullptr;
  std::string from_, to_, images_, out_, key_export_;
  bool key_pem_ = false;
};

}  // namespace

std::unique_ptr<CommandGroup> audit_commands() { return std::make_unique<AuditCommands>(); }

}  // namespace airheal::cli
