// airheal-evidence: the auditor's verifier for airheal evidence bundles. Runs on any workstation
// with GnuPG; needs no access to the appliance and no network.
//   airheal-evidence verify BUNDLE (--key FINGERPRINT | --keyring FILE)... [--json]
// Exit status: 0 verified and signed by a key you named; 1 verification failed (tampered, wrong
// or unnamed key, broken audit chain);
// 2 not a bundle, unreadable, or bad usage.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/archive_path.hpp"
#include "format/verify.hpp"

int main(int argc, char** argv) {
  airheal::use_utf8_ctype();
  CLI::App app{"airheal-evidence: verify an airheal evidence bundle"};
  app.set_version_flag("--version", "airheal-evidence " AIRHEAL_VERSION);
  app.require_subcommand(1);
  std::string file;
  std::vector<std::string> keys;
  bool json_out = false;
  auto* verify = app.add_subcommand(
      "verify",
      "check the bundle's signature, every file, and the audit journal's chain and checkpoints");
  verify->add_option("bundle", file, "the bundle file (.tar)")->required();
  std::string keyring;
  verify->add_option("--key", keys,
                     "fingerprint of the appliance key you trust (from its operator); repeatable");
  verify->add_option(
      "--keyring", keyring,
      "armoured OpenPGP public keys you trust (their primary fingerprints count as --key)");
  verify->add_flag("--json", json_out, "print the verdict as JSON");
  app.add_subcommand("version", "print the version");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (app.got_subcommand("version")) {
    std::cout << "airheal-evidence " AIRHEAL_VERSION "\n";
    return 0;
  }
  if (!keyring.empty()) {
    auto fprs = airheal::evidence::fingerprints_in(keyring);
    if (!fprs) {
      std::cerr << "airheal-evidence: " << fprs.error().message << "\n";
      return 2;
    }
    keys.insert(keys.end(), fprs->begin(), fprs->end());
  }
  auto v = airheal::evidence::verify_bundle(file, keys);
  // Verified means signed by a key the auditor named: a bundle re-signed by anybody else with
  // their own key in keys/appliance.asc must not pass.
  if (v.ok && !v.key_checked) {
    v.ok = false;
    v.problems.push_back("the bundle is signed by " + v.key +
                         ", but no key to trust was given: pass --key with the fingerprint the "
                         "appliance's operator gave you "
                         "(airhealctl audit key), or --keyring FILE");
  }
  int rc = v.ok && !v.unreadable ? 0 : v.unreadable ? 2 : 1;
  if (json_out) {
    nlohmann::json j = {
        {"verified", v.ok}, {"key", v.key},           {"key_checked", v.key_checked},
        {"files", v.files}, {"problems", v.problems}, {"checks", v.checks},
        {"exit", rc}};
    std::cout << j.dump(2) << "\n";
    return rc;
  }
  if (rc == 0) {
    std::cout << "VERIFIED: " << file << "\n";
    for (const auto& c : v.checks) std::cout << "  ok: " << c << "\n";
    return 0;
  }
  std::cout << (rc == 2 ? "UNREADABLE: " : "FAILED: ") << file << "\n";
  for (const auto& p : v.problems) std::cout << "  problem: " << p << "\n";
  for (const auto& c : v.checks) std::cout << "  checked: " << c << "\n";
  return rc;
}
