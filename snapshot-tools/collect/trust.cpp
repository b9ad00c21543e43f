#include "collect/trust.hpp"

#include <algorithm>

#include "core/fs.hpp"

namespace airheal::collect {

Result<Trust> load_keyring(const std::filesystem::path& keyring_file,
                           const std::filesystem::path& home, const std::string& who) {
  auto keys = fs::read_file(keyring_file, 64u << 20);
  if (!keys) return make_error(Errc::invalid_argument, who + ": keyring: " + keys.error().message);
  std::error_code ec;
  std::filesystem::remove_all(home, ec);
  auto ring = pgp::Keyring::open(home);
  if (!ring) return ring.error();
  auto imported = ring->import_keys(*keys);
  if (!imported || imported->empty())
    return make_error(Errc::invalid_argument,
                      who + ": the keyring " + keyring_file.string() + " holds no OpenPGP key");
  return Trust{std::move(*ring), std::move(*imported), keyring_file.string()};
}

Result<std::string> good_signer(const std::vector<pgp::SignatureCheck>& checks, const Trust& t,
                                const std::string& who, const std::string& what) {
  std::string good, problems;
  for (const auto& c : checks) {
    if (c.bad)
      return make_error(Errc::denied, who + ": BAD signature on " + what + " by " + c.fingerprint +
                                          " (altered in transit or at the mirror)");
    if (c.good && std::find(t.fingerprints.begin(), t.fingerprints.end(), c.fingerprint) !=
                      t.fingerprints.end())
      good = c.fingerprint;
    else
      problems += (problems.empty() ? "" : "; ") + c.problem;
  }
  if (good.empty())
    return make_error(Errc::denied, who + ": no good signature on " + what + " by a key of " +
                                        t.file + (problems.empty() ? "" : " (" + problems + ")"));
  return good;
}

}  // namespace airheal::collect
