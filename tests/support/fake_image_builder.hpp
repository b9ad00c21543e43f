// An ImageBuilder for unit tests of the heal engine, in place of buildah: it records every request
// and makes the layer with a function the test gives (what the image's package tool would have
// written), and answers checks from another. No container runs. Tests that need the real build
// (dpkg inside the image, no network) use buildah in tests/integration.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "heal/image_builder.hpp"

namespace airheal::test {

class FakeImageBuilder : public heal::ImageBuilder {
 public:
  // Writes the new layer's entries for REQUEST (an error fails the build, with FAILURE set).
  using LayerFn = std::function<Status(const heal::LayerRequest& request, heal::LayerWriter& w,
                                       heal::Failure& failure)>;
  // The outcome of one check run (default: passed).
  using CheckFn = std::function<heal::CheckOutcome(const heal::CheckRun& run)>;
  explicit FakeImageBuilder(LayerFn layer, CheckFn check = {})
      : layer_(std::move(layer)), check_(std::move(check)) {}

  Result<heal::LayerBlob> add_layer(const heal::LayerRequest& request, std::string& log,
                                    heal::Failure* failure) override;
  Result<std::vector<heal::CheckOutcome>> check(const heal::CheckRequest& request,
                                                std::string& log) override;
  void reset() override { ++resets; }

  std::vector<heal::LayerRequest> layers;  // every add_layer request, in order
  std::vector<heal::CheckRequest> checks;  // every check request, in order
  int resets = 0;

 private:
  LayerFn layer_;
  CheckFn check_;
  std::mutex mutex_;
};

}  // namespace airheal::test
