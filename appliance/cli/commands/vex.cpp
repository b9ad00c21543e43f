// airhealctl vex add | list | withdraw | export: OpenVEX statements about images.
#include "scan/vex.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands/command.hpp"
#include "scan/sbom.hpp"
#include "scan/vex_repository.hpp"

namespace airheal::cli {

namespace {

class VexCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    vex_ = app.add_subcommand("vex", "OpenVEX statements about vulnerabilities in images");
    vex_->require_subcommand(1);
    add_ = vex_->add_subcommand("add", "record a statement");
    add_->add_option("--vulnerability", v_.vulnerability,
                     "CVE, GHSA, GO-... id (aliases match too)")
        ->required();
    add_->add_option("--product", v_.product,
                     "repository pattern (glob, e.g. 'apps/*') or manifest digest")
        ->required();
    add_->add_option("--subcomponent", v_.subcomponent, "package name or purl (default: any)");
    add_->add_option("--status", v_.status, "not_affected, affected, fixed or under_investigation")
        ->required();
    add_->add_option("--justification", v_.justification,
                     "for not_affected: component_not_present, vulnerable_code_not_present, ...");
    add_->add_option("--impact", v_.impact_statement, "impact statement");
    add_->add_option("--action", v_.action_statement, "action statement (required for affected)");
    list_ = vex_->add_subcommand("list", "statements in force");
    list_->add_flag("--all", all_, "include withdrawn statements");
    withdraw_ = vex_->add_subcommand("withdraw", "withdraw a statement");
    withdraw_->add_option("id", id_)->required();
    export_ =
        vex_->add_subcommand("export", "print the statements in force as one OpenVEX document");
  }
  bool given() const override { return vex_->parsed(); }
  int run(const Context& ctx) override {
    auto sv = open_services(ctx);
    if (!sv) return 2;
    auto& st = *sv->store;
    auto now = st.now_seconds();
    // The author is the authenticated airheal user: a security admin for statements, anyone who may
    // read for the exported document.
    auto who =
        acting_user(ctx, add_->parsed() || withdraw_->parsed() ? "security-admin" : "viewer");
    if (!who) return fail(who.error().message, 4);
    auto author = *who;
    if (add_->parsed()) {
      auto v = v_;
      v.author = author;
      auto r = st.transaction([&](sqlite::Connection& c) { return scan::add_vex(c, v, now); });
      if (!r) return fail(r.error().message, 2);
      if (int rc = journal_change(*sv, {{"type", "vex.added"}, {"statement", scan::to_json(*r)}}))
        return rc;
      std::cout << "vex statement " << r->id << ": " << r->vulnerability << " " << r->status
                << " for " << r->product << "\n";
      return 0;
    }
    if (withdraw_->parsed()) {
      auto r =
          st.transaction([&](sqlite::Connection& c) { return scan::withdraw_vex(c, id_, now); });
      if (!r) return fail(r.error().message);
      if (int rc = journal_change(*sv, {{"type", "vex.withdrawn"}, {"id", id_}})) return rc;
      std::cout << "withdrew vex statement " << id_ << "\n";
      return 0;
    }
    auto all =
        st.read([&](sqlite::Connection& c) { return scan::list_vex(c, list_->parsed() && all_); });
    if (export_->parsed()) {
      auto images = st.read([&](sqlite::Connection& c) { return scan::vex_images(c); });
      std::cout << scan::openvex_document(all, author, now, images,
                                          ctx.cfg.http.server_names.empty()
                                              ? std::string()
                                              : ctx.cfg.http.server_names.front())
                       .dump(2)
                << "\n";
      return 0;
    }
    if (ctx.json) {
      auto a = nlohmann::json::array();
      for (const auto& v : all) a.push_back(scan::to_json(v));
      std::cout << a.dump(2) << "\n";
      return 0;
    }
    if (all.empty()) std::cout << "no VEX statements\n";
    for (const auto& v : all)
      std::cout << v.id << "  " << v.vulnerability << "  " << v.status
                << (v.justification.empty() ? "" : " (" + v.justification + ")") << "  product "
                << v.product << (v.subcomponent.empty() ? "" : " / " + v.subcomponent) << "  by "
                << v.author << " " << scan::rfc3339(v.created_at)
                << (v.withdrawn_at ? " WITHDRAWN" : "") << "\n";
    return 0;
  }

 private:
  CLI::App *vex_ = nullptr, *add_ = nullptr, *list_ = nullptr, *withdraw_ = nullptr,
           *export_ = nullptr;
  scan::VexStatement v_;
  bool all_ = false;
  std::int64_t id_ = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> vex_commands() { return std::make_unique<VexCommands>(); }

}  // namespace airheal::cli
