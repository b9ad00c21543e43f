// Who may sign each snapshot channel: OpenPGP keys in the appliance's own GnuPG home
// (<state>/trust/gnupg), and per channel the trusted primary fingerprints and a threshold.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/pgp.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace airheal::snapshot {

std::filesystem::path keyring_home(const std::filesystem::path& state_dir);

struct ChannelKey {
  std::string fingerprint;
  std::vector<std::string> user_ids;
  std::string added_by;
  bool revoked = false, expired = false;
};

struct Channel {
  std::string name;
  int threshold = 1;
  std::optional<std::int64_t> last_sequence, last_expires;
  std::string last_digest;
  std::vector<ChannelKey> keys;
};

// Imports the keys (armoured or binary) and trusts each primary key for the channel. A
// threshold, when given, replaces the channel's; it may not exceed the number of keys.
Result<std::vector<pgp::KeyInfo>> trust_add(store::Store& store, pgp::Keyring& keyring,
                                            const std::string& key_data, const std::string& channel,
                                            std::optional<int> threshold);
Status trust_remove(store::Store& store, const std::string& channel,
                    const std::string& fingerprint);
// Refuses the key for every channel from now on (and imports a revocation certificate when one
// is given through trust_add).
Status trust_revoke(store::Store& store, const std::string& fingerprint, const std::string& reason);
std::vector<Channel> channels(store::Store& store, pgp::Keyring* keyring);
std::optional<std::string> normalize_fingerprint(std::string_view text);

}  // namespace airheal::snapshot
