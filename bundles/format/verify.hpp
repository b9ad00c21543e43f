// Verification of an airheal evidence bundle (docs/airgap/evidence-format.md), as an auditor's
// workstation does it: with nothing but the bundle file and, ideally, the appliance key's
// fingerprint obtained out of band.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace airheal::evidence {

struct Verdict {
  bool ok = false;
  bool unreadable = false;            // not a bundle at all (or unreadable): exit 2, not 1
  std::string key;                    // fingerprint of the key that signed the manifest
  bool key_checked = false;           // the key matched an expected fingerprint
  std::vector<std::string> problems;  // every failure found, in words an auditor understands
  std::vector<std::string> checks;    // what was checked and held
  std::size_t files = 0;
  std::int64_t first_seq = 0, last_seq = 0;
};

// The primary fingerprints of the public keys in an armoured keyring file.
Result<std::vector<std::string>> fingerprints_in(const std::filesystem::path& keyring);

// EXPECTED_KEYS: fingerprints the auditor trusts (upper- or lower-case, spaces allowed); empty:
// any key, reported as unchecked. Temporary GnuPG homes are made under TMP (default: TMPDIR).
Verdict verify_bundle(const std::filesystem::path& bundle,
                      const std::vector<std::string>& expected_keys);

// The regular files of a bundle tar: path -> bytes; duplicate, unsafe or non-regular members are
// problems.
std::map<std::string, std::string> read_bundle(const std::filesystem::path& bundle,
                                               std::vector<std::string>& problems,
                                               bool& unreadable);

}  // namespace airheal::evidence
