// The channels, channel_keys and revoked_keys tables: per channel the trusted primary key
// fingerprints and the signature threshold, and the keys refused for every channel.
#pragma once

#include <cstdint>
#include <optional>
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
};

}  // namespace airheal::snapshot
