// airhealctl scan | findings | inventory | sbom
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands/command.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/match.hpp"
#include "scan/sbom.hpp"
#include "scan/scanner.hpp"
#include "store/catalog.hpp"

namespace airheal::cli {
namespace {

void print_report(const scan::ScanReport& r) {
  std::cout << r.manifest << ": " << r.components << " components, " << r.findings
            << " findings; layers " << r.layers_read << " read, " << r.layers_cached << " cached"
            << (r.inventory_cached ? " (inventory cached)" : "")
            << (r.sboms.empty() ? "" : ", SBOMs attached") << " in " << std::fixed
            << std::setprecision(2) << r.seconds << "s\n";
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
      if (n.get<std::string>().find(':') != std::string::npos)
        name += (name.empty() ? "" : ",") + n.get<std::string>();
    if (name.empty() && !f["names"].empty()) name = f["names"][0].get<std::string>();
    if (name.empty()) name = f["image"].get<std::string>().substr(0, 19);
    std::string ids = f["advisory"];
    std::string alias;
    for (const auto& a : f["aliases"]) alias += (alias.empty() ? "" : ",") + a.get<std::string>();
    std::string fix =
        f["fixed"].get<std::string>().empty() ? "(no fix)" : f["fixed"].get<std::string>();
    std::string avail = f["fix_available"] == "package" ? " [fix imported]" : "";
    std::string status =
        f["vendor_status"] == "fixed" ? "" : " {" + f["vendor_status"].get<std::string>() + "}";
    std::string sup = f.contains("suppressed")
                          ? " SUPPRESSED: " + f["suppressed"]["detail"].get<std::string>()
                          : "";
    std::cout << std::left << std::setw(10) << f["severity"].get<std::string>() << " " << name
              << "  " << f["package"].get<std::string>()
              << (f["source"] != f["package"] ? " (" + f["source"].get<std::string>() + ")" : "")
              << " " << f["installed"].get<std::string>() << " -> " << fix << "  " << ids
              << (alias.empty() ? "" : " (" + alias + ")") << status << avail << sup << "\n";
    ++by_sev[f["severity"]];
  }
  std::cout << fs.size() << " findings:";
  for (auto s : {"critical", "high", "medium", "low", "negligible", "unknown"})
    if (by_sev.count(s)) std::cout << " " << by_sev[s] << " " << s;
  std::cout << "\n";
}

class ScanCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    scan_ = app.add_subcommand(
        "scan", "inventory and match an image now (REPO:TAG, REPO@DIGEST or a digest)");
    scan_->add_option("image", refs_, "images to scan (none with --all)");
    scan_->add_flag("--all", all_,
                    "scan every image not scanned yet and re-match after advisory changes");
    scan_->add_flag("--force", force_, "re-read every layer instead of using the layer cache");

    findings_ = app.add_subcommand("findings", "vulnerable components in the registry's images");
    findings_->add_option("--image", refs_,
                          "only these images (REPO:TAG, REPO@DIGEST or a digest)");
    findings_->add_option("--severity", severity_,
                          "only this severity and above (critical, high, medium, low)");
    findings_->add_flag("--all", include_suppressed_,
                        "include findings suppressed by VEX statements or exceptions");

    inventory_ = app.add_subcommand(
        "inventory", "the components found in an image, with the layer providing each");
    inventory_->add_option("image", ref_)->required();
    inventory_->add_flag(
        "--files", files_,
        "list the final filesystem instead: each path with the layer that provides it");
    sbom_ = app.add_subcommand(
        "sbom", "print an image's SBOM (also attached to the image as an OCI referrer)");
    sbom_->add_option("image", ref_)->required();
    sbom_->add_option("--format", format_, "cyclonedx (1.5) or spdx (2.3)")
        ->check(CLI::IsMember({"cyclonedx", "spdx"}));
  }
  bool given() const override {
    return scan_->parsed() || findings_->parsed() || inventory_->parsed() || sbom_->parsed();
  }
  int run(const Context& ctx) override {
    if (scan_->parsed() && refs_.empty() && !all_)
      return fail("name an image to scan, or pass --all", 2);
    ServiceOptions o;
    o.scanner = true;
    auto sv = open_services(ctx, o);
    if (!sv) return 2;
    if (scan_->parsed()) return scan(ctx, *sv);
    if (findings_->parsed()) return findings(ctx, *sv);
    return inventory(ctx, *sv);
  }

 private:
  int scan(const Context& ctx, Services& sv) {
    auto& scanner = *sv.scanner;
    nlohmann::json out = nlohmann::json::array();
    auto emit = [&](const scan::ScanReport& r) {
      if (ctx.json)
        out.push_back({{"manifest", r.manifest},
                       {"components", r.components},
                       {"findings", r.findings},
                       {"layers", r.layers},
                       {"layers_read", r.layers_read},
                       {"layers_cached", r.layers_cached},
                       {"inventory_cached", r.inventory_cached},
                       {"sboms", r.sboms},
                       {"seconds", r.seconds}});
      else
        print_report(r);
    };
    if (all_) {
      for (const auto& r : scanner.scan_pending()) emit(r);
      auto rm = scanner.rematch_changed();
      if (!ctx.json)
        std::cout << "re-matched " << rm.images << " images after " << rm.keys_changed
                  << " advisory key changes\n";
    }
    std::vector<std::string> manifests;
    for (const auto& ref : refs_) {
      auto d = scanner.resolve(ref);
      if (!d) return fail(d.error().message, 2);
      auto r = scanner.scan(*d, force_);
      if (!r) return fail(ref + ": " + r.error().message);
      for (const auto& x : *r) emit(x);
      manifests.push_back(d->str());
    }
    if (ctx.json) std::cout << out.dump(2) << "\n";
    if (manifests.empty() || ctx.json) return 0;
    nlohmann::json fs;
    sv.store->read([&](sqlite::Connection& c) {
      scan::FindingsQuery q;
      q.manifests = manifests;
      for (const auto& m : manifests)  // an index stands for its images
        for (auto& child : scan::InventoryRepository::index_children(c, m, true))
          q.manifests.push_back(std::move(child));
      fs = scan::list_findings(c, q, sv.store->now_seconds());
    });
    print_findings(fs);
    return 0;
  }

  int findings(const Context& ctx, Services& sv) {
    if (!severity_.empty() && scan::severity_rank(severity_) == 0 && severity_ != "unknown")
      return fail("--severity must be critical, high, medium, low or negligible", 2);
    std::vector<std::string> manifests;
    for (const auto& r : refs_) {
      auto d = sv.scanner->resolve(r);
      if (!d) return fail(d.error().message, 2);
      manifests.push_back(d->str());
    }
    nlohmann::json fs;
    sv.store->read([&](sqlite::Connection& c) {
      scan::FindingsQuery q;
      for (const auto& m : manifests) {
        q.manifests.push_back(m);
        for (auto& child : scan::InventoryRepository::index_children(c, m, false))
          q.manifests.push_back(std::move(child));
      }
      q.min_severity = severity_;
      q.include_suppressed = include_suppressed_;
      fs = scan::list_findings(c, q, sv.store->now_seconds());
    });
    if (ctx.json)
      std::cout << fs.dump(2) << "\n";
    else
      print_findings(fs);
    return 0;
  }

  int inventory(const Context& ctx, Services& sv) {
    auto& scanner = *sv.scanner;
    auto d = scanner.resolve(ref_);
    if (!d) return fail(d.error().message, 2);
    std::optional<scan::ImageInventory> inv;
    std::int64_t created = sv.store->now_seconds();
    std::vector<std::string> names;
    sv.store->read([&](sqlite::Connection& c) {
      inv = scan::InventoryRepository::load(c, d->str());
      if (auto t = scan::InventoryRepository::scanned_at(c, d->str())) created = *t;
      names = store::image_names(c, d->str());
    });
    if (!inv) {
      auto r = scanner.scan(*d);
      if (!r) return fail(r.error().message);
      sv.store->read(
          [&](sqlite::Connection& c) { inv = scan::InventoryRepository::load(c, d->str()); });
      if (!inv) return fail(ref_ + " is an index: name one of its images by digest");
    }
    if (files_) return list_files(ctx, scanner, *d, *inv);
    if (sbom_->parsed()) {
      std::string repo = ref_.substr(0, ref_.find_first_of("@"));
      if (repo.rfind("sha256:", 0) == 0 || repo.empty())
        repo = names.empty() ? "image" : names.front();
      auto colon = repo.rfind(':');
      if (colon != std::string::npos && repo.find('/', colon) == std::string::npos)
        repo = repo.substr(0, colon);
      std::vector<std::string> tags;
      for (const auto& n : names)
        if (n.rfind(repo + ":", 0) == 0) tags.push_back(n.substr(repo.size() + 1));
      scan::SbomSubject subj{repo, d->str(), tags, created, AIRHEAL_VERSION};
      auto doc = format_ == "spdx" ? scan::spdx(*inv, subj) : scan::cyclonedx(*inv, subj);
      std::cout << doc.dump(2) << "\n";
      return 0;
    }
    if (ctx.json) {
      auto j = inv->to_json();
      j["manifest"] = d->str();
      j["names"] = names;
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << d->str() << " "
              << (inv->os.pretty_name.empty() ? "(no os-release)" : inv->os.pretty_name) << ", "
              << inv->components.size() << " components, " << inv->files << " files in "
              << inv->layers.size() << " layers\n";
    for (const auto& c : inv->components) {
      auto layer = std::find(inv->layers.begin(), inv->layers.end(), c.layer) - inv->layers.begin();
      std::cout << "  " << std::left << std::setw(7) << c.type << " " << c.name << " " << c.version
                << (c.source != c.name || c.source_version != c.version
                        ? " (source " + c.source + " " + c.source_version + ")"
                        : "")
                << "  layer " << layer << "  /" << c.location << "\n";
    }
    for (const auto& p : inv->problems) std::cout << "  problem: " << p << "\n";
    return 0;
  }

  static int list_files(const Context& ctx, scan::Scanner& scanner, const Digest& image,
                        const scan::ImageInventory& inv) {
    auto files = scanner.image_files(image);
    if (!files) return fail(files.error().message);
    if (ctx.json) {
      auto a = nlohmann::json::array();
      for (const auto& [path, f] : *files)
        a.push_back({{"path", path},
                     {"type", std::string(1, f.file.type)},
                     {"size", f.file.size},
                     {"layer", f.layer < inv.layers.size() ? inv.layers[f.layer] : ""},
                     {"layer_index", f.layer}});
      std::cout << a.dump(2) << "\n";
      return 0;
    }
    for (const auto& [path, f] : *files)
      std::cout << f.layer << "  " << f.file.type << "  " << std::setw(10) << f.file.size << "  /"
                << path << (f.file.link.empty() ? "" : " -> " + f.file.link) << "\n";
    return 0;
  }

  CLI::App *scan_ = nullptr, *findings_ = nullptr, *inventory_ = nullptr, *sbom_ = nullptr;
  std::vector<std::string> refs_;
  std::string ref_, severity_, format_ = "cyclonedx";
  bool force_ = false, all_ = false, include_suppressed_ = false, files_ = false;
};

}  // namespace

std::unique_ptr<CommandGroup> scan_commands() { return std::make_unique<ScanCommands>(); }

}  // namespace airheal::cli
