// The image builder airheal ships: buildah against the heal engine's one storage
// (<state>/heal/buildah, vfs: no privileges or kernel features beyond a chroot), shared by every
// heal so that a base layer is unpacked once. Every run is `--network none`; mounts and
// environment come from the request, commands are argument vectors.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/cgroup.hpp"
#include "core/subprocess.hpp"
#include "heal/image_builder.hpp"

namespace airheal::heal {

struct BuildahOptions {
  std::string buildah = "buildah";
  std::string runtime = "runc";
  std::filesystem::path storage;  // holds root/ and run/ (and rootless/ for a build user)
  std::chrono::seconds step_timeout{900};
  // Rootless builds (airheal-builder --build-user): buildah, runc and every build container run as
  // this user, in a user namespace of the subordinate uids and gids /etc/subuid and /etc/subgid
  // give it; root in a build container is one of those, nobody on the host. Its storage is
  // STORAGE/rootless (its own). A check's memory bound is then a cgroup made in MEMORY; without
  // one (MEMORY_ERROR says why), checks with a memory bound fail saying so.
  std::optional<ProcessOptions::Identity> build_user;
  std::optional<cgroup::Space> memory;
  std::string memory_error;
};

// The buildah subcommands (without buildah's global storage options) that make REQUEST's layer:
// from, one copy per file, one run per command, commit. Exposed for tests: every run carries
// --network none and the request's mounts and environment.
std::vector<std::vector<std::string>> buildah_layer_commands(const LayerRequest& request,
                                                             const std::string& runtime);
// The buildah subcommands for REQUEST's checks: from (with the memory bound, unless
// MEMORY_FLAGS is false: a cgroup made for the check bounds it), one run per check.
std::vector<std::vector<std::string>> buildah_check_commands(const CheckRequest& request,
                                                             const std::string& runtime,
                                                             bool memory_flags = true);

class BuildahBuilder : public ImageBuilder {
 public:
  explicit BuildahBuilder(BuildahOptions options) : options_(std::move(options)) {}
  Result<LayerBlob> add_layer(const LayerRequest& request, std::string& log,
                              Failure* failure) override;
  Result<std::vector<CheckOutcome>> check(const CheckRequest& request, std::string& log) override;
  void reset() override;
  std::map<std::string, std::string> tool_versions() override;
  // The build user's storage folders, made and given to it (a rootful storage is left alone).
  Status prepare_rootless();

 private:
  BuildahOptions options_;
};

}  // namespace airheal::heal
