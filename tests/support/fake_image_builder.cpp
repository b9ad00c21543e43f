#include "support/fake_image_builder.hpp"

#include <filesystem>

namespace airheal::test {

Result<heal::LayerBlob> FakeImageBuilder::add_layer(const heal::LayerRequest& request,
                                                    std::string& log, heal::Failure* failure) {
  {
    std::lock_guard lock(mutex_);
    layers.push_back(request);
  }
  // The request must be one a real builder could run: the original's layout is there.
  if (!std::filesystem::exists(request.work / request.in / "index.json"))
    return make_error(Errc::not_found,
                      "fake builder: no image layout at " + (request.work / request.in).string());
  log += "fake builder: " + std::to_string(request.commands.size()) + " command(s)\n";
  heal::LayerWriter w(request.work / "fake-layer");
  heal::Failure f;
  if (auto st = layer_(request, w, f); !st) {
    if (failure) *failure = f;
    return st.error();
  }
  return w.finish();
}

Result<std::vector<heal::CheckOutcome>> FakeImageBuilder::check(const heal::CheckRequest& request,
                                                                std::string& log) {
  {
    std::lock_guard lock(mutex_);
    checks.push_back(request);
  }
  if (!std::filesystem::exists(request.work / request.in / "index.json"))
    return make_error(Errc::not_found,
                      "fake builder: no image layout at " + (request.work / request.in).string());
  std::vector<heal::CheckOutcome> out;
  for (const auto& run : request.runs)
    out.push_back(check_ ? check_(run) : heal::CheckOutcome{true, false, ""});
  return out;
}

}  // namespace airheal::test
