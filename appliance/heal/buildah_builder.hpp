// The image builder airheal ships: buildah against the heal engine's one storage
// (<state>/heal/buildah, vfs: no privileges or kernel features beyond a chroot), shared by every
// heal so that a base layer is unpacked once. Every run is `--network none`; mounts and
// environment come from the request, commands are argument vectors.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "heal/image_builder.hpp"

namespace airheal::heal {

struct BuildahOptions {
  std::string buildah = "buildah";
  std::string runtime = "runc";
  std::filesystem::path storage;  // holds root/ and run/
  std::chrono::seconds step_timeout{900};
};

// The buildah subcommands (without buildah's global storage options) that make REQUEST's layer:
// from, one copy per file, one run per command, commit. Exposed for tests: every run carries
// --network none and the request's mounts and environment.
std::vector<std::vector<std::string>> buildah_layer_commands(const LayerRequest& request,
                                                             const std::string& runtime);
// The buildah subcommands for REQUEST's checks: from (with the memory bound), one run per check.
std::vector<std::vector<std::string>> buildah_check_commands(const CheckRequest& request,
                                                             const std::string& runtime);

class BuildahBuilder : public ImageBuilder {
 public:
  explicit BuildahBuilder(BuildahOptions options) : options_(std::move(options)) {}
  Result<LayerBlob> add_layer(const LayerRequest& request, std::string& log,
                              Failure* failure) override;
  Result<std::vector<CheckOutcome>> check(const CheckRequest& request, std::string& log) override;
  void reset() override;
  std::map<std::string, std::string> tool_versions() override;

 private:
  BuildahOptions options_;
};

}  // namespace airheal::heal
