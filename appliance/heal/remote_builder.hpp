// The image builder as airheald uses it when the builds run in airheal-builder, a separate
// process with the build powers airheald does not have: each call is one request over the
// builder's Unix socket (heal/builder_protocol.hpp). A builder that is not there, dies mid-build
// or answers nonsense makes the call fail with one line saying so; nothing here runs buildah.
#pragma once

#include <filesystem>

#include "heal/image_builder.hpp"

namespace airheal::heal {

class RemoteBuilder : public ImageBuilder {
 public:
  explicit RemoteBuilder(std::filesystem::path socket) : socket_(std::move(socket)) {}
  Result<LayerBlob> add_layer(const LayerRequest& request, std::string& log,
                              Failure* failure) override;
  Result<std::vector<CheckOutcome>> check(const CheckRequest& request, std::string& log) override;
  void reset() override;
  std::map<std::string, std::string> tool_versions() override;
  Status host_rpm(const HostRpmRequest& request, std::string& log) override;

 private:
  std::filesystem::path socket_;
};

}  // namespace airheal::heal
