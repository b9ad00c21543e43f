// The trust anchors collect checks upstream signatures against: a keyring file given in
// collect.yaml (a distribution's archive keys, a provider's key), loaded into a GnuPG home of its
// own, and the rule every source applies to a signature check: any BAD signature refuses the
// document (it was altered), and one good signature by a key of that keyring is required.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/pgp.hpp"
#include "core/result.hpp"

namespace airheal::collect {

struct Trust {
  pgp::Keyring ring;
  std::vector<std::string> fingerprints;  // of the keyring's primary keys
  std::string file;                       // the keyring file, for messages
};

// A fresh GnuPG home HOME holding the keys of KEYRING_FILE; WHO prefixes errors.
Result<Trust> load_keyring(const std::filesystem::path& keyring_file,
                           const std::filesystem::path& home, const std::string& who);

// The fingerprint of a good signature by one of T's keys among CHECKS (the signatures over WHAT);
// "BAD signature on WHAT ..." when one is bad, "no good signature on WHAT by a key of ..." when
// none is good. WHO prefixes errors.
Result<std::string> good_signer(const std::vector<pgp::SignatureCheck>& checks, const Trust& t,
                                const std::string& who, const std::string& what);

}  // namespace airheal::collect
