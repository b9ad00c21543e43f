// `airheal-snapshot collect`: the connected side fetches what the appliance said it needs (a
// needs.json signed with the appliance key) and what its configuration lists, from apt
// repositories, OCI registries (skopeo) and advisory feeds, into a folder `create --collected`
// turns into a snapshot. Nothing enters the folder unless its upstream signature or checksum
// chain verified; the collect log (one JSON record per step) goes into the snapshot with it. A
// cache makes the second run of the week fetch only what changed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "collect/alpine.hpp"
#include "collect/apt.hpp"
#include "collect/fetch.hpp"
#include "collect/rpm_repo.hpp"
#include "core/result.hpp"

namespace airheal::collect {

struct ImageSpec {
  std::string source;                  // docker://HOST/REPO:TAG or docker://HOST/REPO@sha256:...
  std::string as;                      // REPO:TAG in the appliance's registry
  std::vector<std::string> platforms;  // os/arch[/variant]; empty: every platform, index kept
  bool tls_verify = true;
};

struct FeedSpec {
  std::string url;
  std::string name;           // file name in advisories/ (default: the URL's last segment)
  std::string sha256;         // expected hash, or
  std::string checksum_url;   // a published "HASH  FILE" (.sha256, .sha512: CSAF providers), or
  std::string signature_url;  // a detached OpenPGP signature, checked with
  std::string keyring;        // these keys
};

struct NpmSpec {
  std::string registry = "https://registry.npmjs.org";
  std::vector<std::pair<std::string, std::string>> packages;  // name, lowest acceptable version
};

struct CollectConfig {
  std::filesystem::path cache;  // default: ~/.cache/airheal-collect
  std::vector<AptSource> apt;
  std::vector<ApkSource> apk;
  std::vector<RpmSource> rpm;
  std::vector<ImageSpec> images;
  std::vector<FeedSpec> advisories;
  NpmSpec npm;
  std::string ca_file;  // extra TLS trust anchors (PEM)
};
// collect.yaml (bounded, aliases limited); every path and URL checked.
Result<CollectConfig> parse_config(const std::string& yaml_text);

// needs.json: a DSSE envelope of type application/vnd.airheal.needs.v1+json whose signature by
// the appliance key (KEY_FILE, armoured) verifies. Returns the payload.
Result<nlohmann::json> read_needs(const std::filesystem::path& file,
                                  const std::filesystem::path& key_file);

struct CollectOptions {
  std::filesystem::path out;
  std::optional<nlohmann::json> needs;
  bool dry_run = false;
  std::int64_t now = 0;
  std::function<void(const std::string&)> progress;  // terminal lines (overwritten on a tty)
};

struct CollectReport {
  std::size_t packages = 0, packages_from_cache = 0, images = 0, feeds = 0, applications = 0;
  std::uint64_t bytes_fetched = 0, bytes_total = 0;
  std::vector<std::string> planned;  // --dry-run: what would be fetched, with sizes
  std::vector<std::string> missing;  // what could not be found, and why
  std::vector<std::string> refused;  // what failed verification, and why
  nlohmann::json to_json() const;
};

// Fetches into O.out: packages/, images/N/ (OCI layouts), advisories/, artifacts/collect.log
// and collected.json (what `create --collected` reads). An error is a failure that stops the
// run (no keyring, an unsigned Release, a tampered file); what is merely absent upstream is
// reported in `missing` and the run goes on.
Result<CollectReport> collect(const CollectConfig& config, const CollectOptions& o);

// What `create --collected DIR` takes from DIR: advisories, packages, images (LAYOUT:REF=AS)
// and artefacts.
struct Collected {
  std::vector<std::filesystem::path> advisories, packages, artifacts;
  struct Image {
    std::filesystem::path layout;
    std::string ref, as;
  };
  std::vector<Image> images;
};
Result<Collected> read_collected(const std::filesystem::path& dir);

}  // namespace airheal::collect
