#include "snapshot/trust.hpp"

#include <algorithm>
#include <random>

#include "snapshot/format.hpp"
#include "snapshot/trust_repository.hpp"

namespace airheal::snapshot {

std::filesystem::path keyring_home(const std::filesystem::path& state_dir) {
  return state_dir / "trust" / "gnupg";
}

std::optional<std::string> normalize_fingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ' ') continue;
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return std::nullopt;
    out += c;
  }
  if (out.size() != 40 && out.size() != 64) return std::nullopt;
  return out;
}

Result<std::vector<pgp::KeyInfo>> trust_add(store::Store& store, pgp::Keyring& keyring,
                                            const std::string& key_data, const std::string& channel,
                                            std::optional<int> threshold) {
  if (!is_valid_channel(channel))
    return make_error(Errc::invalid_argument,
                      "channel '" + channel + "' must be 1-64 of [a-z0-9._-]");
  if (threshold && *threshold < 1)
    return make_error(Errc::invalid_argument, "--threshold must be at least 1");
  // The keys are judged in a scratch GnuPG home first: a key that could never sign a snapshot
  // (expired, or without a usable signing key) is refused before the trust keyring changes.
  {
    std::random_device rd;
    auto scratch =
        keyring.home().parent_path() / ("probe-" + std::to_string(rd()) + std::to_string(rd()));
    struct Cleanup {
      std::filesystem::path dir;
      ~Cleanup() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } cleanup{scratch};
    std::optional<Error> refusal;
    {
      auto probe = pgp::Keyring::open(scratch);
      if (!probe) return probe.error();
      auto probed = probe->import_keys(key_data);
      // A bare revocation certificate names a key only the trust keyring holds: it cannot be
      // probed and is judged by the real import below.
      if (probed) {
        for (const auto& f : *probed) {
          auto k = probe->key(f);
          if (!k || k->revoked) continue;
          auto who = f + (k->user_ids.empty() ? std::string() : " (" + k->user_ids.front() + ")");
          if (k->expired)
            refusal =
                make_error(Errc::invalid_argument,
                           "key " + who + " expired" +
                               (k->expires ? " on " + format_time(k->expires) : std::string()) +
                               ": it can sign nothing this appliance would accept; ask the "
                               "publisher for the key with a "
                               "new expiry date. Nothing was trusted");
          else if (!k->can_sign || k->invalid || k->disabled)
            refusal =
                make_error(Errc::invalid_argument,
                           "key " + who +
                               " has no usable signing key (expired, revoked or missing subkeys). "
                               "Nothing was trusted");
          if (refusal) break;
        }
      }
    }
    if (refusal) return *refusal;
  }
  auto fprs = keyring.import_keys(key_data);
  if (!fprs) return fprs.error();
  std::vector<pgp::KeyInfo> keys;
  for (const auto& f : *fprs) {
    auto k = keyring.key(f);
    if (!k) return k.error();
    keys.push_back(*k);
  }
  auto st = store.try_transaction([&](sqlite::Connection& c) -> Status {
    auto now = store.now_seconds();
    TrustRepository::ensure_channel(c, channel, now);
    for (const auto& k : keys)
      if (!k.revoked)  // a revocation certificate: recorded by GnuPG, nothing to trust
        TrustRepository::add_key(c, channel, k.fingerprint, now);
    auto count = TrustRepository::key_count(c, channel);
    if (threshold) {
      if (*threshold > count)
        return make_error(Errc::invalid_argument, "threshold " + std::to_string(*threshold) +
                                                      " is more than the " + std::to_string(count) +
                                                      " key(s) trusted for channel " + channel);
      TrustRepository::set_threshold(c, channel, *threshold, now);
    }
    return {};
  });
  if (!st) return st.error();
  return keys;
}

Status trust_remove(store::Store& store, const std::string& channel,
                    const std::string& fingerprint) {
  return store.try_transaction([&](sqlite::Connection& c) -> Status {
    if (!TrustRepository::remove_key(c, channel, fingerprint))
      return make_error(Errc::not_found,
                        "key " + fingerprint + " is not trusted for channel " + channel);
    auto threshold = TrustRepository::threshold(c, channel);
    if (threshold && *threshold > TrustRepository::key_count(c, channel))
      return make_error(Errc::conflict, "removing the key would leave channel " + channel +
                                            " with fewer keys than its threshold of " +
                                            std::to_string(*threshold) +
                                            "; lower the threshold first");
    return {};
  });
}

Status trust_revoke(store::Store& store, const std::string& fingerprint,
                    const std::string& reason) {
  auto now = store.now_seconds();
  store.transaction(
      [&](sqlite::Connection& c) { TrustRepository::revoke(c, fingerprint, reason, now); });
  return {};
}

std::vector<Channel> channels(store::Store& store, pgp::Keyring* keyring) {
  auto out = store.read([](sqlite::Connection& c) { return TrustRepository::list(c); });
  if (keyring)
    for (auto& ch : out)
      for (auto& k : ch.keys)
        if (auto info = keyring->key(k.fingerprint)) {
          k.user_ids = info->user_ids;
          k.revoked = k.revoked || info->revoked;
          k.expired = info->expired;
        }
  return out;
}

}  // namespace airheal::snapshot
