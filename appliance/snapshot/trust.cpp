#include "snapshot/trust.hpp"

#include <algorithm>
#include <random>

#include "snapshot/format.hpp"

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
    c.prepare("INSERT OR IGNORE INTO channels(name, threshold, updated_at) VALUES (?, 1, ?)")
        .bind(1, channel)
        .bind(2, now)
        .run();
    for (const auto& k : keys) {
      if (k.revoked) continue;  // a revocation certificate: recorded by GnuPG, nothing to trust
      c.prepare(
           "INSERT OR IGNORE INTO channel_keys(channel, fingerprint, added_at, added_by) VALUES "
           "(?, ?, ?, 'operator')")
          .bind(1, channel)
          .bind(2, k.fingerprint)
          .bind(3, now)
          .run();
    }
    auto n = c.prepare("SELECT count(*) FROM channel_keys WHERE channel = ?");
    n.bind(1, channel);
    n.step();
    auto count = n.get_int(0);
    if (threshold) {
      if (*threshold > count)
        return make_error(Errc::invalid_argument, "threshold " + std::to_string(*threshold) +
                                                      " is more than the " + std::to_string(count) +
                                                      " key(s) trusted for channel " + channel);
      c.prepare("UPDATE channels SET threshold = ?, updated_at = ? WHERE name = ?")
          .bind(1, *threshold)
          .bind(2, now)
          .bind(3, channel)
          .run();
    }
    return {};
  });
  if (!st) return st.error();
  return keys;
}

Status trust_remove(store::Store& store, const std::string& channel,
                    const std::string& fingerprint) {
  return store.try_transaction([&](sqlite::Connection& c) -> Status {
    c.prepare("DELETE FROM channel_keys WHERE channel = ? AND fingerprint = ?")
        .bind(1, channel)
        .bind(2, fingerprint)
        .run();
    if (c.changes() == 0)
      return make_error(Errc::not_found,
                        "key " + fingerprint + " is not trusted for channel " + channel);
    auto q = c.prepare(
        "SELECT threshold, (SELECT count(*) FROM channel_keys WHERE channel = ?1) FROM channels "
        "WHERE name = ?1");
    q.bind(1, channel);
    if (q.step() && q.get_int(0) > q.get_int(1))
      return make_error(Errc::conflict, "removing the key would leave channel " + channel +
                                            " with fewer keys than its threshold of " +
                                            std::to_string(q.get_int(0)) +
                                            "; lower the threshold first");
    return {};
  });
}

Status trust_revoke(store::Store& store, const std::string& fingerprint,
                    const std::string& reason) {
  store.transaction([&](sqlite::Connection& c) {
    c.prepare(
         "INSERT OR REPLACE INTO revoked_keys(fingerprint, revoked_at, reason) VALUES (?, ?, ?)")
        .bind(1, fingerprint)
        .bind(2, store.now_seconds())
        .bind(3, reason)
        .run();
  });
  return {};
}

std::vector<Channel> channels(store::Store& store, pgp::Keyring* keyring) {
  std::vector<Channel> out;
  store.read([&](sqlite::Connection& c) {
    auto q = c.prepare(
        "SELECT name, threshold, last_sequence, last_digest, last_expires FROM channels ORDER BY "
        "name");
    while (q.step()) {
      Channel ch;
      ch.name = q.get_text(0);
      ch.threshold = static_cast<int>(q.get_int(1));
      if (!q.is_null(2)) ch.last_sequence = q.get_int(2);
      ch.last_digest = q.get_optional_text(3).value_or("");
      if (!q.is_null(4)) ch.last_expires = q.get_int(4);
      out.push_back(std::move(ch));
    }
    for (auto& ch : out) {
      auto k = c.prepare(
          "SELECT k.fingerprint, k.added_by, r.fingerprint IS NOT NULL FROM channel_keys k "
          "LEFT JOIN revoked_keys r ON r.fingerprint = k.fingerprint WHERE k.channel = ? ORDER BY "
          "k.fingerprint");
      k.bind(1, ch.name);
      while (k.step())
        ch.keys.push_back(ChannelKey{k.get_text(0), {}, k.get_text(1), k.get_int(2) != 0, false});
    }
  });
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
