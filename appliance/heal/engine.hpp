// The heal engine: plan a fix for an image's findings from content imported into the air gap,
// rebuild with buildah (no network, from an OCI layout that hard-links the store's blobs), verify
// by rescanning, stage under a new tag, promote on approval, roll back in one command.
// Today's strategies: package patch (Debian images with dpkg: the fixed .debs installed in one
// heal layer over the original image) and defer (no fix imported yet).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/journal.hpp"
#include "core/result.hpp"
#include "scan/scanner.hpp"
#include "store/store.hpp"

namespace airheal::heal {

struct PackagePin {
  std::string name, version, architecture, digest;
  std::string fixes;  // advisory ids, comma separated
};

struct Plan {
  std::string strategy;  // package-patch | defer
  std::vector<PackagePin> packages;
  std::vector<std::string> targeted;  // advisory ids the heal removes
  std::vector<std::string> deferred;  // advisory ids with no fix inside the gap
  std::vector<std::string> missing;   // "source fixed-version: binaries" whose fixed builds are not imported
  std::string explanation;
  nlohmann::json to_json() const;
};

struct HealRecord {
  std::int64_t id = 0;
  std::string repository, tag, original, state, mode, strategy, staged_tag, staged, reason, log;
  nlohmann::json plan;
  std::int64_t created_at = 0, updated_at = 0;
  std::optional<std::int64_t> staged_at, promoted_at;
  nlohmann::json to_json() const;
};

struct Policy {
  std::string mode = "autonomous-staging";  // advisory | autonomous-staging | continuous
  std::vector<std::string> test;            // argv run inside the healed image (no network)
};

struct EngineOptions {
  std::function<Policy(const std::string& repository)> policy;  // empty: autonomous-staging, no test
  std::filesystem::path outbox;  // advisory mode writes plans here (empty: <state>/outbox)
  std::string buildah = "buildah";
  std::string runtime = "runc";
  std::chrono::seconds step_timeout{900};
  std::string actor = "airheald";
};

class Engine {
 public:
  Engine(store::Store& store, scan::Scanner& scanner, audit::Journal* journal, EngineOptions options = {});

  // The plan for an image as it stands (no side effects).
  Result<Plan> plan(const std::string& manifest);
  // Plans, builds, verifies and stages a heal of REPO:TAG (autonomous-staging).
  Result<HealRecord> heal(const std::string& repository, const std::string& tag);
  // Points the original tag at the staged digest; the original stays retained for rollback.
  Result<HealRecord> approve(std::int64_t id, const std::string& by);
  // Restores the digest the tag had before its latest promoted heal.
  Result<HealRecord> rollback(const std::string& repository, const std::string& tag, const std::string& by);

  std::vector<HealRecord> list();
  std::optional<HealRecord> get(std::int64_t id);
  std::vector<nlohmann::json> events(std::int64_t id);

 private:
  std::int64_t create(const std::string& repo, const std::string& tag, const std::string& original, const std::string& mode);
  void transition(std::int64_t id, const std::string& state, const std::string& detail,
                  const std::function<void(sqlite::Connection&)>& extra = {});
  Result<std::string> build(std::int64_t id, const std::string& repo, const std::string& original, const Plan& plan,
                            const std::filesystem::path& work, std::string& log, const std::vector<std::string>& test,
                            std::string& test_failure);
  Status write_outbox(std::int64_t id, const std::string& repo, const std::string& tag, const std::string& original,
                      const Plan& plan);
  std::string staging_tag(const std::string& repo, const std::string& tag);
  void journal(nlohmann::json record);

  store::Store& store_;
  scan::Scanner& scanner_;
  audit::Journal* journal_;
  EngineOptions options_;
};

}  // namespace airheal::heal
