// airhealctl exception add | list | revoke | export: time-boxed exceptions to findings.
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands/command.hpp"
#include "cli/daemon_client.hpp"
#include "core/time.hpp"
#include "scan/sbom.hpp"
#include "scan/vex.hpp"
#include "scan/vex_repository.hpp"

namespace airheal::cli {
namespace {

// "30d", "12h", a date (2027-01-31) or an RFC 3339 time.
std::optional<std::int64_t> parse_expiry(const std::string& text, std::int64_t now) {
  if (auto d = config::parse_duration(text)) return now + d->count();
  if (auto t = parse_time(text)) return *t;
  if (text.size() == 10) return parse_time(text + "T00:00:00Z");
  return std::nullopt;
}

class ExceptionCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    exc_ = app.add_subcommand("exception",
                              "time-boxed exceptions that suppress a finding until they expire");
    exc_->require_subcommand(1);
    add_ = exc_->add_subcommand("add", "grant an exception");
    add_->add_option("--vulnerability", e_.vulnerability)->required();
    add_->add_option("--product", e_.product, "repository pattern (glob) or manifest digest")
        ->required();
    add_->add_option("--subcomponent", e_.subcomponent, "package name or purl (default: any)");
    add_->add_option("--reason", e_.reason, "why the risk is accepted")->required();
    add_->add_option("--expires", expires_, "duration (30d, 12h) or date (2027-01-31, RFC 3339)")
        ->required();
    list_ = exc_->add_subcommand("list", "exceptions in force");
    list_->add_flag("--all", all_, "include expired and revoked ones");
    revoke_ = exc_->add_subcommand("revoke", "end an exception now");
    revoke_->add_option("id", id_)->required();
    export_ =
        exc_->add_subcommand("export", "print every exception (active, expired, revoked) as JSON");
  }
  bool given() const override { return exc_->parsed(); }
  int run(const Context& ctx) override {
    // Granting and revoking go to a running airheald over its local socket, where the kernel
    // names the caller: a security admin need not be able to write the state.
    if (add_->parsed() || revoke_->parsed())
      if (auto rc = via_daemon(ctx)) return *rc;
    auto sv = open_services(ctx);
    if (!sv) return 2;
    auto& st = *sv->store;
    auto now = st.now_seconds();
    std::string by;
    if (add_->parsed() || revoke_->parsed()) {  // only a security admin accepts risk
      auto who = acting_user(ctx, "security-admin");
      if (!who) return fail(who.error().message, 4);
      by = *who;
    }
    if (add_->parsed()) {
      auto expires = parse_expiry(expires_, now);
      if (!expires)
        return fail(
            "--expires '" + expires_ + "' is neither a duration (30d) nor a date (2027-01-31)", 2);
      auto e = e_;
      e.created_by = by;
      e.expires_at = *expires;
      auto r =
          st.transaction([&](sqlite::Connection& c) { return scan::add_exception(c, e, now); });
      if (!r) return fail(r.error().message, 2);
      if (int rc = journal_change(
              *sv, {{"type", "exception.added"}, {"exception", scan::to_json(*r, now)}}))
        return rc;
      std::cout << "exception " << r->id << ": " << r->vulnerability << " in " << r->product
                << " until " << scan::rfc3339(r->expires_at) << "\n";
      return 0;
    }
    if (revoke_->parsed()) {
      auto r = st.transaction(
          [&](sqlite::Connection& c) { return scan::revoke_exception(c, id_, by, now); });
      if (!r) return fail(r.error().message);
      if (int rc = journal_change(*sv, {{"type", "exception.revoked"}, {"id", id_}, {"by", by}}))
        return rc;
      std::cout << "revoked exception " << id_ << "\n";
      return 0;
    }
    bool everything = export_->parsed() || all_;
    auto all =
        st.read([&](sqlite::Connection& c) { return scan::list_exceptions(c, everything, now); });
    if (ctx.json || export_->parsed()) {
      auto a = nlohmann::json::array();
      for (const auto& e : all) a.push_back(scan::to_json(e, now));
      std::cout << a.dump(2) << "\n";
      return 0;
    }
    if (all.empty()) std::cout << "no exceptions in force\n";
    for (const auto& e : all)
      std::cout << e.id << "  " << e.vulnerability << "  product " << e.product
                << (e.subcomponent.empty() ? "" : " / " + e.subcomponent) << "  until "
                << scan::rfc3339(e.expires_at) << "  by " << e.created_by << ": " << e.reason
                << (e.revoked_at     ? "  REVOKED"
                    : !e.active(now) ? "  EXPIRED"
                                     : "")
                << "\n";
    return 0;
  }

 private:
  std::optional<int> via_daemon(const Context& ctx) const {
    auto socket = ctx.cfg.state_dir / "airheald.sock";
    std::optional<DaemonReply> r;
    if (add_->parsed()) {
      auto now = static_cast<std::int64_t>(std::time(nullptr));
      auto expires = parse_expiry(expires_, now);
      if (!expires)
        return fail(
            "--expires '" + expires_ + "' is neither a duration (30d) nor a date (2027-01-31)", 2);
      nlohmann::json body = {{"vulnerability", e_.vulnerability},
                             {"product", e_.product},
                             {"subcomponent", e_.subcomponent},
                             {"reason", e_.reason},
                             {"expires", scan::rfc3339(*expires)}};
      r = daemon_local_request(socket, "POST", "/api/v1/exceptions", body.dump());
    } else {
      r = daemon_local_request(socket, "DELETE", "/api/v1/exceptions/" + std::to_string(id_));
    }
    if (!r) return std::nullopt;  // no daemon: act on the state here
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (r->status >= 400)
      return fail(j.is_object() && j.contains("error")
                      ? j["error"].get<std::string>()
                      : "airheald answered " + std::to_string(r->status),
                  r->status == 403 ? 4 : 2);
    if (add_->parsed() && j.is_object())
      std::cout << "exception " << j.value("id", std::int64_t{0}) << ": "
                << j.value("vulnerability", "") << " in " << j.value("product", "") << " until "
                << j.value("expires", "") << " (by " << j.value("created_by", "") << ")\n";
    else
      std::cout << "revoked exception " << id_ << "\n";
    return 0;
  }

  CLI::App *exc_ = nullptr, *add_ = nullptr, *list_ = nullptr, *revoke_ = nullptr,
           *export_ = nullptr;
  scan::Exception e_;
  std::string expires_;
  bool all_ = false;
  std::int64_t id_ = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> exception_commands() { return std::make_unique<ExceptionCommands>(); }

}  // namespace airheal::cli
