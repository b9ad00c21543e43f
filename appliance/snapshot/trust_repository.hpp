// The channels, channel_keys and revoked_keys tables: per channel the trusted primary key
// fingerprints and the signature threshold, and the keys refused for every channel.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/sqlite.hpp"
#include "snapshot/trust.hpp"

namespace airheal::snapshot {

class TrustRepository {
 public:
  // Creates CHANNEL (threshold 1) unless it exists.
  static void ensure_channel(sqlite::Connection& c, const std::string& channel, std::int64_t now);
  static void add_key(sqlite::Connection& c, const std::string& channel,
                      const std::string& fingerprint, std::int64_t now);
  // false when the key was not trusted for the channel.
  static bool remove_key(sqlite::Connection& c, const std::string& channel,
                         const std::string& fingerprint);
  static std::int64_t key_count(sqlite::Connection& c, const std::string& channel);
  // The channel's threshold; nullopt for an unknown channel.
  static std::optional<std::int64_t> threshold(sqlite::Connection& c, const std::string& channel);
  static void set_threshold(sqlite::Connection& c, const std::string& channel, int threshold,
                            std::int64_t now);
  static void revoke(sqlite::Connection& c, const std::string& fingerprint,
                     const std::string& reason, std::int64_t now);
  // Every channel with its keys (revoked ones marked), by name; no keyring details.
  static std::vector<Channel> list(sqlite::Connection& c);

  // What an import checks a snapshot's signatures against.
  static std::set<std::string> trusted_anywhere(sqlite::Connection& c);  // by any channel
  static std::set<std::string> revoked(sqlite::Connection& c);
  static std::set<std::string> keys(sqlite::Connection& c, const std::string& channel);
  struct Progress {
    int threshold = 1;
    std::optional<std::int64_t> last_sequence;  // none before the channel's first import
    std::string last_digest;
  };
  // nullopt for an unknown channel.
  static std::optional<Progress> progress(sqlite::Connection& c, const std::string& channel);
  // An accepted snapshot moves its channel on: sequence, digest, expiry and threshold.
  static void record_import(sqlite::Connection& c, const std::string& channel,
                            std::int64_t sequence, const std::string& digest, std::int64_t expires,
                            int threshold, std::int64_t now);
  // A snapshot's trust entry rotates the channel's keys from OLD_KEYS to NEW_KEYS (keys added
  // are recorded as added by the snapshot SNAPSHOT_DIGEST).
  static void rotate_keys(sqlite::Connection& c, const std::string& channel,
                          const std::set<std::string>& old_keys,
                          const std::set<std::string>& new_keys, const std::string& snapshot_digest,
                          std::int64_t now);
};

}  // namespace airheal::snapshot
