// The heal engine: plan a fix for an image's findings from content imported into the air gap,
// rebuild with buildah (no network, from an OCI layout that hard-links the store's blobs), verify
// by rescanning, stage under a new tag, promote on approval, roll back in one command.
// Strategies: package patch (images with dpkg: the fixed .debs installed by dpkg in one heal layer
// over the original image), package files (distroless: the fixed .debs' files and status.d records
// written into the heal layer, nothing run), gold substitution (a signed artefact from a snapshot
// replaces the binary at its path), dependency pin (a lockfile's fix written to the outbox) and
// defer (no fix imported yet: the findings stay open, and the plan names the builds a snapshot
// must bring; only a person accepts the risk, with an exception).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit/journal.hpp"
#include "config/config.hpp"
#include "core/oci.hpp"
#include "core/result.hpp"
#include "heal/failure.hpp"
#include "heal/heal_layer.hpp"
#include "heal/heal_repository.hpp"
#include "heal/heal_state.hpp"
#include "heal/image_builder.hpp"
#include "heal/package_family.hpp"
#include "heal/planner.hpp"
#include "heal/promoter.hpp"
#include "heal/verifier.hpp"
#include "scan/scanner.hpp"
#include "store/store.hpp"

namespace airheal::heal {

struct Policy {
  std::string mode = "autonomous-staging";  // advisory | autonomous-staging | continuous
  std::vector<std::string> test;            // argv run inside the healed image (no network)
  std::vector<std::string> canary;  // argv run in the promoted image; failure: automatic rollback
};

struct EngineOptions {
  std::function<Policy(const std::string& repository)>
      policy;                    // empty: autonomous-staging, no test
  std::filesystem::path outbox;  // advisory mode writes plans here (empty: <state>/outbox)
  std::string buildah = "buildah";
  std::string runtime = "runc";
  std::chrono::seconds step_timeout{900};
  std::chrono::seconds smoke_timeout{5};
  std::uint64_t smoke_memory = 512ull
                               << 20;  // memory bound of the check container (cgroup); 0: none
  double max_size_growth = 0.5;        // heal layer / original image, compressed bytes
  bool attest = true;                  // DSSE-signed provenance, SBOM and explanation referrers
  bool reuse_layers =
      true;  // reuse a heal layer built for the same packages over shared base layers
  LayerCompression layer_compression = LayerCompression::gzip;
  std::string actor = "airheald";
  // Snapshot channels whose unsigned apk packages may heal (heal.unsigned_packages).
  std::set<std::string> unsigned_package_channels;
  // What builds heal layers and runs checks; empty: buildah (the options above) on the engine's
  // storage under <state>/heal/buildah.
  std::shared_ptr<ImageBuilder> builder;
  std::string tool_version = AIRHEAL_VERSION;
  bool separation_of_duties =
      false;  // auth.separation_of_duties  // the SLSA builder version and SBOM tool version
  // Every heal event (state changes), for webhooks.
  std::function<void(const nlohmann::json&)> notify;
};

// An image's org.opencontainers.image.base.name as REPOSITORY, TAG in this registry (a registry
// host in front is dropped); nullopt for digest references and untagged names.
std::optional<std::pair<std::string, std::string>> base_reference(std::string name);

// The engine options a configuration asks for (heal rules become the policy function).
EngineOptions engine_options(const config::Config& cfg);

class Engine {
 public:
  Engine(store::Store& store, scan::Scanner& scanner, audit::Journal* journal,
         EngineOptions options = {});

  // The plan for an image as it stands (no side effects). REPOSITORY scopes gold artefacts
  // that name the repositories they are for.
  Result<Plan> plan(const std::string& manifest, const std::string& repository = "");
  // Plans, builds, verifies and stages a heal of REPO:TAG (autonomous-staging).
  // Without FORCE, an image whose latest heal (held, staged or promoted) planned exactly the same
  // packages and artefacts is not healed again: that heal is returned, marked as checked against
  // the content imported now.
  Result<HealRecord> heal(const std::string& repository, const std::string& tag,
                          bool force = false);
  // Points the original tag at the staged digest; the original stays retained for rollback.
  // BY names the person (shown as "approved by BY"); ACTOR, when given, is the audit journal's
  // actor for the change (e.g. "airhealctl:alice" for an approval that came through the API), else
  // the engine's own.
  Result<HealRecord> approve(std::int64_t id, const std::string& by, const std::string& actor = {});
  // What approve() checks before it changes anything: staged, its tag not moved, the image there.
  // With BY, also separation of duties (auth.separation_of_duties): BY may not be whoever granted
  // an exception in force on the heal's repository.
  Status check_approvable(std::int64_t id, const std::string& by = {});
  // Restores the digest the tag had before its latest promoted heal.
  Result<HealRecord> rollback(const std::string& repository, const std::string& tag,
                              const std::string& by, const std::string& actor = {});
  // Keeps a staged heal from being promoted: it moves to "held" with BY and WHY as the reason.
  Result<HealRecord> hold(std::int64_t id, const std::string& by, const std::string& why,
                          const std::string& actor = {});

  std::vector<HealRecord> list();  // every heal, without its build log (get() has it)
  std::optional<HealRecord> get(std::int64_t id);
  std::vector<nlohmann::json> events(std::int64_t id);

  // Removes containers and unused images a stopped daemon left in the shared buildah storage
  // (call only when no heal is running).
  void reset_buildah_storage();

  // A marker of the content imported so far: a held or failed heal is retried once it changes.
  static std::string content_generation(sqlite::Connection& c);

 private:
  std::int64_t create(const std::string& repo, const std::string& tag, const std::string& original,
                      const std::string& mode);
  void transition(std::int64_t id, HealState state, const std::string& detail,
                  const std::function<void(sqlite::Connection&)>& extra = {},
                  const std::string& actor = {});
  Result<BuildResult> build(std::int64_t id, const std::string& repo, const std::string& original,
                            const Plan& plan, const std::filesystem::path& work, std::string& log,
                            const Policy& policy, Failure& failure);
  // Runs ARGV (and the smoke test when SMOKE) inside the image whose manifest is MANIFEST_BYTES
  // (blobs in the store), with no network. Returns the failure, empty when it passed.
  Result<std::pair<std::string, std::string>> run_checks(
      std::int64_t id, const std::string& manifest_bytes, const std::filesystem::path& work,
      std::string& log, const std::vector<std::string>& argv, bool smoke, std::string& smoke_note);
  struct Reuse {
    std::int64_t heal = 0;
    std::size_t shared_layers = 0;
    LayerBlob layer;
  };
  // The upstream bump for MANIFEST, if its base has a newer version here that fixes findings and
  // its own layers leave every package database alone; nullopt otherwise (WHY says why not).
  std::optional<Plan> upstream_bump(const std::string& manifest, std::string& why);
  Result<BuildResult> build_rebase(std::int64_t id, const std::string& repo,
                                   const std::string& original, const Plan& plan,
                                   const std::filesystem::path& work, std::string& log,
                                   const Policy& policy);
  std::optional<Reuse> reusable_layer(const std::string& original, const oci::Manifest& m,
                                      const Plan& plan);
  void attest(std::int64_t id, const std::string& repo, const std::string& staged, const Plan& plan,
              const std::string& original, std::int64_t started, const std::string& build_log);
  Status write_outbox(std::int64_t id, const std::string& repo, const std::string& tag,
                      const std::string& original, const Plan& plan, bool pins_only);
  void journal(nlohmann::json record);
  void fail_heal(std::int64_t id, const std::string& why, const std::string& log,
                 const Failure& failure = {});

  // The image's final file system (the scanner's index), its files read from their layers.
  Result<ImageFiles> image_files(const Digest& manifest);
  // The plan's package files from the store, each read by FAMILY and checked against its pin.
  Result<std::vector<FixedPackage>> fixed_packages(const Plan& plan, const PackageFamily& family);
  // An imported package's own metadata (a .deb's control stanza), read from the store once per
  // digest.
  Result<std::string> package_metadata(const std::string& digest);
  std::mutex metadata_mutex_;
  std::map<std::string, std::string> metadata_;

  store::Store& store_;
  scan::Scanner& scanner_;
  audit::Journal* journal_;
  EngineOptions options_;
  std::shared_ptr<ImageBuilder> builder_;
  Promoter promoter_;
};

}  // namespace airheal::heal
