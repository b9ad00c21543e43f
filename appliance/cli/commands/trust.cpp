// airhealctl trust add | list | remove | revoke: the OpenPGP keys allowed to sign snapshots, per
// channel. Every change is journalled.
#include "snapshot/trust.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands/command.hpp"
#include "core/fs.hpp"

namespace airheal::cli {
namespace {

class TrustCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    trust_ = app.add_subcommand("trust", "OpenPGP keys allowed to sign snapshots, per channel");
    trust_->require_subcommand(1);
    add_ = trust_->add_subcommand(
        "add", "trust the keys in KEYS.asc for a channel (or import a revocation certificate)");
    add_->add_option("keys", file_, "armoured public keys")->required();
    add_->add_option("--channel", channel_, "channel the keys may sign")->required();
    add_->add_option("--threshold", threshold_, "signatures required from distinct trusted keys");
    trust_->add_subcommand("list", "channels, thresholds and keys");
    remove_ = trust_->add_subcommand("remove", "stop trusting a key for a channel");
    remove_->add_option("fingerprint", fingerprint_)->required();
    remove_->add_option("--channel", channel_)->required();
    revoke_ = trust_->add_subcommand("revoke", "refuse a key for every channel from now on");
    revoke_->add_option("fingerprint", fingerprint_)->required();
    revoke_->add_option("--reason", reason_);
  }
  bool given() const override { return trust_->parsed(); }
  int run(const Context& ctx) override {
    ServiceOptions o;
    o.keyring = true;
    auto sv = open_services(ctx, o, true);
    if (!sv) return 2;
    if (add_->parsed()) return add_keys(*sv);
    if (remove_->parsed() || revoke_->parsed()) return remove_key(*sv);
    return list(ctx, *sv);
  }

 private:
  int add_keys(Services& sv) {
    auto data = fs::read_file(file_, 16 << 20);
    if (!data) return fail(data.error().message);
    auto keys = snapshot::trust_add(*sv.store, *sv.keyring, *data, channel_,
                                    threshold_ > 0 ? std::optional<int>(threshold_) : std::nullopt);
    if (!keys) return fail(keys.error().message);
    nlohmann::json fprs = nlohmann::json::array();
    for (const auto& k : *keys)
      fprs.push_back({{"fingerprint", k.fingerprint}, {"revoked", k.revoked}});
    if (int rc = journal_change(
            sv,
            {{"type", "trust.added"},
             {"channel", channel_},
             {"keys", fprs},
             {"threshold", threshold_ > 0 ? nlohmann::json(threshold_) : nlohmann::json()}},
            "the keys were trusted"))
      return rc;
    for (const auto& k : *keys)
      std::cout << (k.revoked ? "revoked " : "trusted ") << k.fingerprint << " "
                << (k.user_ids.empty() ? "" : k.user_ids[0])
                << (k.revoked ? "" : " for channel " + channel_) << "\n";
    return 0;
  }

  int remove_key(Services& sv) {
    auto f = snapshot::normalize_fingerprint(fingerprint_);
    if (!f) return fail("'" + fingerprint_ + "' is not a key fingerprint", 2);
    if (remove_->parsed()) {
      if (auto st = snapshot::trust_remove(*sv.store, channel_, *f); !st)
        return fail(st.error().message);
      if (int rc = journal_change(
              sv, {{"type", "trust.removed"}, {"channel", channel_}, {"fingerprint", *f}},
              "the key was removed"))
        return rc;
      std::cout << "removed " << *f << " from channel " << channel_ << "\n";
      return 0;
    }
    if (auto st = snapshot::trust_revoke(*sv.store, *f, reason_); !st)
      return fail(st.error().message);
    if (int rc = journal_change(
            sv, {{"type", "trust.revoked"}, {"fingerprint", *f}, {"reason", reason_}},
            "the key was revoked"))
      return rc;
    std::cout << "revoked " << *f << ": snapshots signed by it are refused\n";
    return 0;
  }

  static int list(const Context& ctx, Services& sv) {
    auto chans = snapshot::channels(*sv.store, sv.keyring.get());
    if (ctx.json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& c : chans) {
        nlohmann::json keys = nlohmann::json::array();
        for (const auto& k : c.keys)
          keys.push_back({{"fingerprint", k.fingerprint},
                          {"user_ids", k.user_ids},
                          {"added_by", k.added_by},
                          {"revoked", k.revoked},
                          {"expired", k.expired}});
        j.push_back({{"channel", c.name}, {"threshold", c.threshold}, {"keys", keys}});
      }
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    if (chans.empty())
      std::cout << "no channel is trusted yet (airhealctl trust add KEYS.asc --channel NAME)\n";
    for (const auto& c : chans) {
      std::cout << "channel " << c.name << ": threshold " << c.threshold << " of " << c.keys.size()
                << "\n";
      for (const auto& k : c.keys)
        std::cout << "  " << k.fingerprint << " "
                  << (k.user_ids.empty() ? "(unknown key)" : k.user_ids[0])
                  << (k.revoked ? " [REVOKED]" : "") << (k.expired ? " [EXPIRED]" : "") << "\n";
    }
    return 0;
  }

  CLI::App *trust_ = nullptr, *add_ = nullptr, *remove_ = nullptr, *revoke_ = nullptr;
  std::string file_, channel_, fingerprint_, reason_ = "revoked by the operator";
  int threshold_ = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> trust_commands() { return std::make_unique<TrustCommands>(); }

}  // namespace airheal::cli
