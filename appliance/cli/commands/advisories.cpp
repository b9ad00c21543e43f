// airhealctl advisories show | package | stats: the advisory database snapshots brought in.
#include <iostream>
#include <nlohmann/json.hpp>

#include "advisory/advisory_repository.hpp"
#include "cli/commands/command.hpp"

namespace airheal::cli {
namespace {

class AdvisoryCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    adv_ = app.add_subcommand("advisories", "the advisory database");
    adv_->require_subcommand(1);
    show_ = adv_->add_subcommand("show", "an advisory by id or alias");
    show_->add_option("id", id_)->required();
    package_ = adv_->add_subcommand("package", "advisories naming a package");
    package_->add_option("ecosystem", ecosystem_, "Go, Debian, Debian:bookworm, Alpine:v3.10, ...")
        ->required();
    package_->add_option("package", package_name_)->required();
    stats_ = adv_->add_subcommand("stats", "counts per channel and source");
  }
  bool given() const override { return adv_->parsed(); }
  int run(const Context& ctx) override {
    auto sv = open_services(ctx);
    if (!sv) return 2;
    if (stats_->parsed()) return stats(ctx, *sv->store);
    std::vector<advisory::StoredAdvisory> found;
    sv->store->read([&](sqlite::Connection& c) {
      found = show_->parsed() ? advisory::find(c, id_)
                              : advisory::for_package(c, ecosystem_, package_name_);
    });
    if (found.empty())
      return fail(show_->parsed() ? "no advisory " + id_
                                  : "no advisory names " + ecosystem_ + "/" + package_name_);
    if (ctx.json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& a : found) j.push_back(advisory::to_json(a));
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    for (const auto& a : found) print(a);
    return 0;
  }

 private:
  static int stats(const Context& ctx, store::Store& s) {
    nlohmann::json j = nlohmann::json::array();
    s.read([&](sqlite::Connection& c) {
      for (const auto& x : advisory::counts_by_source(c))
        j.push_back({{"channel", x.channel},
                     {"source", x.source},
                     {"advisories", x.advisories},
                     {"withdrawn", x.withdrawn}});
    });
    if (ctx.json)
      std::cout << j.dump(2) << "\n";
    else
      for (const auto& x : j)
        std::cout << x["channel"].get<std::string>() << "  " << x["source"].get<std::string>()
                  << "  " << x["advisories"] << " advisories (" << x["withdrawn"]
                  << " withdrawn)\n";
    return 0;
  }

  void print(const advisory::StoredAdvisory& a) const {
    std::cout << a.id << "  (" << a.source << ", channel " << a.channel << ")"
              << (a.withdrawn.empty() ? "" : "  WITHDRAWN " + a.withdrawn) << "\n";
    if (!a.aliases.empty()) {
      std::cout << "  aliases:";
      for (const auto& x : a.aliases) std::cout << " " << x;
      std::cout << "\n";
    }
    if (!a.summary.empty()) std::cout << "  summary: " << a.summary.substr(0, 300) << "\n";
    for (const auto& sv : a.severity)
      std::cout << "  severity: " << sv.value("type", "") << " " << sv.value("score", "") << "\n";
    if (!a.modified.empty()) std::cout << "  modified: " << a.modified << "\n";
    for (const auto& af : a.affected) {
      if (package_->parsed() && af.package != package_name_) continue;
      std::cout << "  affects " << af.ecosystem << "/" << af.package << ": ";
      const auto& d = af.data;
      if (a.source == "osv") {
        for (const auto& r : d.value("ranges", nlohmann::json::array())) {
          std::cout << "[" << r.value("type", "") << "]";
          for (const auto& e : r["events"])
            std::cout << " " << e.begin().key() << " " << e.begin().value().get<std::string>();
          std::cout << "; ";
        }
        if (d.contains("versions")) std::cout << d["versions"].size() << " listed versions";
      } else {
        for (const auto& [k, v] : d.items())
          if (v.is_string() && !v.get<std::string>().empty())
            std::cout << k << "=" << v.get<std::string>() << " ";
      }
      std::cout << "\n";
    }
  }

  CLI::App *adv_ = nullptr, *show_ = nullptr, *package_ = nullptr, *stats_ = nullptr;
  std::string id_, ecosystem_, package_name_;
};

}  // namespace

std::unique_ptr<CommandGroup> advisory_commands() { return std::make_unique<AdvisoryCommands>(); }

}  // namespace airheal::cli
