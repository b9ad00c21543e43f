// airhealctl heals | heal plan | run | show | approve | rollback | hold
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands/command.hpp"
#include "cli/daemon_client.hpp"
#include "core/fs.hpp"
#include "heal/failure.hpp"

namespace airheal::cli {
namespace {

// REPO:TAG split at the tag's colon (a port's colon belongs to the repository); no tag: latest.
std::pair<std::string, std::string> split_reference(const std::string& ref) {
  auto slash = ref.rfind('/');
  auto colon = ref.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash))
    return {ref, "latest"};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

void print(const heal::HealRecord& h) {
  std::cout << "heal " << h.id << "  " << h.repository << ":" << h.tag << "  "
            << heal::to_string(h.state) << (h.strategy.empty() ? "" : "  (" + h.strategy + ")")
            << (h.staged_tag.empty() ? "" : "  staged as " + h.repository + ":" + h.staged_tag)
            << (h.reason.empty() ? "" : "\n  " + h.reason) << "\n";
}

class HealCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    heals_ = app.add_subcommand("heals",
                                "heals and their states (detected, planned, building, verifying, "
                                "staged, promoted, held, failed, rolled_back)");
    heal_ = app.add_subcommand("heal", "plan, run, explain, approve and roll back heals");
    heal_->require_subcommand(1);
    plan_ = heal_->add_subcommand("plan", "what a heal of the image would do (no side effects)");
    plan_->add_option("image", ref_)->required();
    run_ = heal_->add_subcommand("run",
                                 "heal REPO:TAG now: plan, rebuild with no network, verify, stage");
    run_->add_option("image", ref_)->required();
    run_->add_option("--runtime", runtime_, "OCI runtime buildah runs steps with (default runc)");
    show_ = heal_->add_subcommand("show", "explain a heal in plain words");
    show_->add_option("id", id_)->required();
    approve_ = heal_->add_subcommand(
        "approve", "promote a staged heal: the original tag then serves the healed image");
    approve_->add_option("id", id_)->required();
    rollback_ = heal_->add_subcommand(
        "rollback", "point REPO:TAG back at the digest it had before its latest promoted heal");
    rollback_->add_option("image", ref_)->required();
    hold_ = heal_->add_subcommand("hold", "keep a staged heal from being promoted, with a reason");
    hold_->add_option("id", id_)->required();
    hold_->add_option("--reason", reason_, "why (shown in heals, the dashboard and the evidence)");
  }
  bool given() const override { return heals_->parsed() || heal_->parsed(); }
  int run(const Context& ctx) override {
    // Approve, hold and roll back go to a running airheald first, over its local socket, without
    // opening the state: an approver need not be able to write it (or even read it).
    if (approve_->parsed() || hold_->parsed() || rollback_->parsed())
      if (auto rc = via_daemon(ctx)) return *rc;
    ServiceOptions o;
    o.engine = true;
    o.runtime = runtime_;
    auto sv = open_services(ctx, o);
    if (!sv) return 2;
    // Heals run or approved here notify like the daemon's: the digest-pinned promotions list, and
    // the webhooks (delivered before this command exits, up to 30 s).
    struct Flush {
      heal::Webhooks* h;
      ~Flush() {
        if (h) h->flush(std::chrono::seconds(30));
      }
    } flush{sv->webhooks.get()};
    auto& engine = *sv->engine;
    if (heals_->parsed()) return list(ctx, engine);
    if (plan_->parsed()) {
      auto d = sv->scanner->resolve(ref_);
      if (!d) return fail(d.error().message, 2);
      if (auto r = sv->scanner->scan(*d); !r) return fail(r.error().message);
      auto p = engine.plan(d->str(), split_reference(ref_).first);
      if (!p) return fail(p.error().message);
      if (ctx.json)
        std::cout << p->to_json().dump(2) << "\n";
      else
        std::cout << p->strategy << ": " << p->explanation << "\n";
      return 0;
    }
    if (run_->parsed()) {
      auto [repo, tag] = split_reference(ref_);
      auto r = engine.heal(repo, tag, true);
      if (!r) return fail(r.error().message);
      if (ctx.json)
        std::cout << r->to_json().dump(2) << "\n";
      else
        print(*r);
      using heal::HealState;
      return r->state == HealState::staged || r->state == HealState::promoted ? 0
             : r->state == HealState::held                                    ? 3
                                                                              : 1;
    }
    if (show_->parsed()) return show(ctx, engine);
    // Who acts is the authenticated airheal user (never free text), with the role the action needs.
    auto who = acting_user(ctx, approve_->parsed() ? "approver" : "operator");
    if (!who) return fail(who.error().message, 4);
    auto by = *who;
    // No daemon answers: the same engine acts here, on the state, as the same authenticated user.
    if (approve_->parsed() || hold_->parsed()) {
      bool approve = approve_->parsed();
      auto r = approve ? engine.approve(id_, by) : engine.hold(id_, by, reason_);
      if (!r) return fail(r.error().message);
      print(*r);
      return 0;
    }
    auto [repo, tag] = split_reference(ref_);
    auto r = engine.rollback(repo, tag, by);
    if (!r) return fail(r.error().message);
    print(*r);
    return 0;
  }

 private:
  static int list(const Context& ctx, heal::Engine& engine) {
    auto all = engine.list();
    if (ctx.json) {
      auto a = nlohmann::json::array();
      for (const auto& h : all) a.push_back(h.to_json());
      std::cout << a.dump(2) << "\n";
      return 0;
    }
    if (all.empty()) std::cout << "no heals yet\n";
    for (const auto& h : all) print(h);
    return 0;
  }

  int show(const Context& ctx, heal::Engine& engine) const {
    auto h = engine.get(id_);
    if (!h) return fail("no heal " + std::to_string(id_), 2);
    auto j = h->to_json();
    if (ctx.json) {
      j["events"] = engine.events(id_);
      j["log"] = h->log;
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    print(*h);
    std::cout << "  image:    " << h->repository << ":" << h->tag << " at " << h->original << "\n";
    if (!h->staged.empty()) std::cout << "  healed:   " << h->staged << "\n";
    std::cout << "  why:      " << h->plan.value("explanation", std::string("(not planned)"))
              << "\n";
    if (!h->failure.empty()) {
      // The package manager's (or test's) own words, as it printed them.
      std::cout << "  failure:  " << heal::to_string(heal::failure_class_from_slug(h->failure))
                << "\n";
      std::size_t pos = 0;
      while (pos < h->failure_lines.size()) {
        auto eol = h->failure_lines.find('\n', pos);
        std::cout << "            "
                  << h->failure_lines.substr(
                         pos, eol == std::string::npos ? std::string::npos : eol - pos)
                  << "\n";
        if (eol == std::string::npos) break;
        pos = eol + 1;
      }
    }
    if (h->heal_layer_size)
      std::cout << "  size:     heal layer "
                << fs::human_bytes(static_cast<std::uint64_t>(h->heal_layer_size)) << " over a "
                << fs::human_bytes(static_cast<std::uint64_t>(h->image_size)) << " image ("
                << (h->image_size ? 100.0 * static_cast<double>(h->heal_layer_size) /
                                        static_cast<double>(h->image_size)
                                  : 0.0)
                << "%)\n";
    if (j.contains("time_to_stage_seconds"))
      std::cout << "  time:     " << j["time_to_stage_seconds"].get<std::int64_t>()
                << " s from the fix's import to staged"
                << (j.contains("time_to_promote_seconds")
                        ? ", " + std::to_string(j["time_to_promote_seconds"].get<std::int64_t>()) +
                              " s to promoted"
                        : std::string())
                << "\n";
    for (const auto& a : h->attestations)
      std::cout << "  signed:   " << a.value("predicateType", "") << "  " << a.value("digest", "")
                << "\n";
    for (const auto& e : engine.events(id_))
      std::cout << "  " << e["at"].get<std::string>() << "  " << std::left << std::setw(11)
                << e["state"].get<std::string>() << " " << e["detail"].get<std::string>() << "\n";
    return 0;
  }

  // Approve, hold and roll back go to airheald over its local socket, where the kernel names the
  // caller's Unix user (SO_PEERCRED), so that its canary, webhooks and journal see them. nullopt
  // when no daemon answers there (stopped): the caller then acts on the state directly.
  std::optional<int> via_daemon(const Context& ctx) const {
    using nlohmann::json;
    auto socket = ctx.cfg.state_dir / "airheald.sock";
    auto get = [&](const std::string& target) -> std::optional<json> {
      auto r = daemon_local_request(socket, "GET", target);
      if (!r || r->status != 200) return std::nullopt;
      auto j = json::parse(r->body, nullptr, false);
      return j.is_discarded() ? std::nullopt : std::optional<json>(j);
    };
    std::string action = approve_->parsed() ? "approve" : hold_->parsed() ? "hold" : "rollback";
    auto id = id_;
    if (action == "rollback") {  // the heal that promoted what REPO:TAG serves now
      auto all = get("/api/v1/heals");
      if (!all) return std::nullopt;
      auto [repo, tag] = split_reference(ref_);
      id = 0;
      for (const auto& h : *all)
        if (h.value("repository", "") == repo && h.value("tag", "") == tag &&
            h.value("state", "") == "promoted")
          id = h.value("id", std::int64_t{0});
      if (!id) return fail("no promoted heal of " + repo + ":" + tag + " to roll back", 2);
    }
    json body = json::object();
    if (!reason_.empty()) body["reason"] = reason_;
    auto r = daemon_local_request(
        socket, "POST", "/api/v1/heals/" + std::to_string(id) + "/" + action, body.dump());
    if (!r) return std::nullopt;
    if (r->status >= 400) {
      auto j = json::parse(r->body, nullptr, false);
      return fail(j.is_object() && j.contains("error")
                      ? j["error"].get<std::string>()
                      : "airheald answered " + std::to_string(r->status),
                  r->status == 403 ? 4 : 1);
    }
    std::cerr << "airhealctl: " << action << " of heal " << id << " sent to airheald at "
              << socket.string() << "\n";
    auto from = action == "rollback" ? "promoted" : "staged";
    auto wanted = action == "approve" ? "promoted" : action == "hold" ? "held" : "rolled_back";
    // Approval runs the canary in the daemon: wait for the outcome (up to 5 minutes).
    for (int i = 0; i < 1200; ++i) {
      auto h = get("/api/v1/heals/" + std::to_string(id));
      if (h && h->value("state", "") != from) {
        std::cout << "heal " << id << "  " << h->value("repository", "") << ":"
                  << h->value("tag", "") << "  " << h->value("state", "")
                  << (h->value("reason", "").empty() ? "" : "\n  " + h->value("reason", ""))
                  << "\n";
        return h->value("state", "") == wanted ? 0 : 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return fail("airheald accepted the " + action + " of heal " + std::to_string(id) +
                " but it has not finished after 5 minutes; see airhealctl heal show " +
                std::to_string(id));
  }

  CLI::App *heals_ = nullptr, *heal_ = nullptr, *plan_ = nullptr, *run_ = nullptr, *show_ = nullptr,
           *approve_ = nullptr, *rollback_ = nullptr, *hold_ = nullptr;
  std::string ref_, runtime_, reason_;
  std::int64_t id_ = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> heal_commands() { return std::make_unique<HealCommands>(); }

}  // namespace airheal::cli
