// What the heal integration tests share: a real airheald on port 0 with a temporary state folder,
// driven by airhealctl and signed snapshots made with airheal-snapshot; buildah on a test's own
// storage; and an image's files held in memory for the package families' unit tests.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "heal/image_files.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

namespace airheal::test {

struct HealAppliance {
  TempDir tmp;
  std::unique_ptr<Daemon> daemon;
  Signer signer{tmp / "gpg", "airheal test mirror"};
  std::set<std::string> trusted;  // channels whose key was added
  int sequence = 0;
  HealAppliance() = default;
  HealAppliance(const HealAppliance&) = delete;
  ~HealAppliance();
  std::filesystem::path state() const { return tmp / "state"; }
  void start(const std::string& yaml);  // (re)starts airheald on the state folder with YAML
  std::string reg() const;              // "127.0.0.1:PORT"
  ProcessResult ctl(std::vector<std::string> args);  // airhealctl ARGS; must succeed
  nlohmann::json ctl_json(std::vector<std::string> args);
  // A signed snapshot on CHANNEL with the given folders (airheal-snapshot create arguments),
  // imported; the signer's key is trusted for the channel the first time.
  void import(const std::string& channel, const std::vector<std::string>& folder_args);
  // Waits until every heal of REPOS has reached a resting state; the latest heal per repository.
  std::map<std::string, nlohmann::json> wait_heals(const std::set<std::string>& repos,
                                                   int seconds = 600);
};

// buildah with its storage under WORK (vfs driver).
struct BuildahCli {
  std::filesystem::path work;
  ProcessResult operator()(std::vector<std::string> args) const;  // must succeed
  std::string container(const std::string& from) const;  // buildah from (registry over http)
  // An advisory-mode outbox (DIR: its Containerfile and repo/) built by hand as its comment says:
  // buildah bud --network none with REGISTRY as the build argument, tagged TAG.
  void build_outbox(const std::filesystem::path& dir, const std::string& registry,
                    const std::string& tag) const;
};

// An image's files held in memory: PATH -> content.
heal::ImageFiles image_in_memory(std::map<std::string, std::string> contents);

}  // namespace airheal::test
