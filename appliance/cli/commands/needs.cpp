// airhealctl needs export | show: what the appliance is missing, for the connected side.
#include "evidence/needs.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands/command.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"

namespace airheal::cli {
namespace {

class NeedsCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    needs_ = app.add_subcommand(
        "needs", "what would heal the open findings: the list the connected side collects");
    needs_->require_subcommand(1);
    export_ = needs_->add_subcommand(
        "export",
        "write the list as a DSSE envelope signed with the appliance key (airheal-snapshot "
        "collect --needs reads it)");
    export_->add_option("--out", out_, "the file to write (needs.json)")->required();
    export_->add_flag("--redact", redact_, "leave out repository and image names and binary paths");
    show_ = needs_->add_subcommand("show", "print the list (unsigned)");
    show_->add_flag("--redact", redact_, "as export --redact");
  }
  bool given() const override { return needs_->parsed(); }
  int run(const Context& ctx) override {
    auto sv = open_services(ctx);
    if (!sv) return 2;
    evidence::NeedsOptions o;
    o.redact = redact_;
    const bool as_json = ctx.json;
    if (show_->parsed()) {
      auto doc = evidence::needs_document(*sv->store, sv->store->now_seconds(), o, "");
      if (as_json)
        std::cout << doc.dump(2) << "\n";
      else
        print(doc);
      return 0;
    }
    auto key = heal::ApplianceKey::open(ctx.cfg.state_dir);
    if (!key) return fail(key.error().message);
    auto env = evidence::signed_needs(*sv->store, *key, sv->store->now_seconds(), o);
    if (!env) return fail("no needs file written: " + env.error().message);
    auto bytes = env->envelope.dump(2) + "\n";
    if (auto st = fs::write_file_atomic(out_, bytes); !st)
      return fail("no needs file written: " + st.error().message);
    const auto& doc = env->document;
    if (int rc = journal_change(*sv,
                                {{"event", "needs.exported"},
                                 {"file_sha256", Sha256::of(bytes).hex()},
                                 {"redacted", redact_},
                                 {"summary", doc["summary"]}},
                                "the needs file was written");
        rc != 0)
      return rc;
    if (as_json) {
      std::cout << nlohmann::json{{"file", out_}, {"summary", doc["summary"]}}.dump(2) << "\n";
    } else {
      std::cout << "wrote " << out_ << ", signed by the appliance key " << key->fingerprint()
                << "\n";
      print(doc);
    }
    return 0;
  }

 private:
  static void print(const nlohmann::json& doc) {
    const auto& s = doc["summary"];
    std::cout << s["images_waiting"].get<std::size_t>()
              << " image(s) wait for content from outside: " << s["packages"].get<std::size_t>()
              << " fixed package build(s), " << s["applications"].get<std::size_t>()
              << " application package(s) or binaries, " << s["base_images"].get<std::size_t>()
              << " newer base image(s)\n";
    for (const auto& p : doc["packages"]) {
      std::string bins;
      for (const auto& b : p["binaries"])
        bins += (bins.empty() ? "" : " ") + b["name"].get<std::string>() + ":" +
                b["architecture"].get<std::string>();
      std::cout << "  " << p["family"].get<std::string>() << " " << p["release"].get<std::string>()
                << " " << p["source"].get<std::string>()
                << " >= " << p["fixed_version"].get<std::string>() << " (" << bins << ")\n";
    }
    for (const auto& a : doc["applications"])
      std::cout << "  " << a["ecosystem"].get<std::string>() << " " << a["name"].get<std::string>()
                << " >= " << a["fixed_version"].get<std::string>() << " ("
                << a["kind"].get<std::string>() << ")\n";
    for (const auto& b : doc["base_images"])
      std::cout << "  base image " << b["upstream"].get<std::string>() << " newer than "
                << b["current_digest"].get<std::string>() << "\n";
    for (const auto& f : doc["advisory_feeds"])
      std::cout << "  feed " << f["channel"].get<std::string>() << "/"
                << f["source"].get<std::string>() << ": " << f["advisories"].get<std::int64_t>()
                << " advisories, last imported " << f.value("last_imported", "never") << "\n";
    if (auto n = s["findings_without_upstream_fix"].get<std::size_t>())
      std::cout << "  (" << n << " finding(s) have no upstream fix yet: nothing to collect)\n";
  }

  CLI::App *needs_ = nullptr, *export_ = nullptr, *show_ = nullptr;
  std::string out_;
  bool redact_ = false;
};

}  // namespace

std::unique_ptr<CommandGroup> needs_commands() { return std::make_unique<NeedsCommands>(); }

}  // namespace airheal::cli
