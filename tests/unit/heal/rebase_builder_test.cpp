// The upstream-bump build from documents alone. The manifests and configs are made up in the
// shapes buildah writes (a base of one layer, its newer version of two, an application of one
// layer on the old base).
#include "heal/rebase_builder.hpp"

#include <catch2/catch.hpp>
#include <functional>

#include "core/digest.hpp"

using namespace airheal;
using namespace airheal::heal;
using json = nlohmann::json;

namespace {

std::string rb_digest(char c) { return "sha256:" + std::string(64, c); }

json rb_manifest(const std::vector<char>& layers, char config) {
  json l = json::array();
  for (char c : layers)
    l.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                 {"digest", rb_digest(c)},
                 {"size", 100}});
  return {{"schemaVersion", 2},
          {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
          {"config",
           {{"mediaType", "application/vnd.oci.image.config.v1+json"},
            {"digest", rb_digest(config)},
            {"size", 10}}},
          {"layers", l}};
}

json rb_config(const std::vector<char>& diff_ids, const std::vector<std::string>& history) {
  json ids = json::array(), h = json::array();
  for (char c : diff_ids) ids.push_back(rb_digest(static_cast<char>(c + 1)));
  for (const auto& x : history) h.push_back({{"created_by", x}});
  return {{"architecture", "amd64"},
          {"os", "linux"},
          {"config", {{"Cmd", {"/srv/app"}}}},
          {"rootfs", {{"type", "layers"}, {"diff_ids", ids}}},
          {"history", h}};
}

RebaseInput rb_input() {
  RebaseInput in;
  in.old_base = rb_manifest({'a'}, '1');
  in.old_base_config = rb_config({'a'}, {"base v1"});
  in.new_base = rb_manifest({'b', 'c'}, '2');
  in.new_base_config = rb_config({'b', 'c'}, {"base v2 step 1", "base v2 step 2"});
  in.image = rb_manifest({'a', 'd'}, '3');
  in.image["annotations"] = {{"org.opencontainers.image.base.name", "library/base:1"}};
  in.image_config = rb_config({'a', 'd'}, {"base v1", "COPY app /srv/app"});
  in.base_layers = 1;
  in.original = rb_digest('9');
  in.old_base_digest = rb_digest('7');
  in.new_base_digest = rb_digest('8');
  in.heal_id = 42;
  in.now = 1764460800;  // 2025-11-30T00:00:00Z
  return in;
}

}  // namespace

TEST_CASE("An image's own layers are put unchanged on the newer base", "[heal]") {
  auto out = rebase_image(rb_input());
  REQUIRE(out);
  std::vector<std::string> layers;
  for (const auto& l : out->manifest["layers"]) layers.push_back(l["digest"]);
  CHECK(layers == std::vector<std::string>{rb_digest('b'), rb_digest('c'), rb_digest('d')});
  CHECK(out->layers == out->manifest["layers"]);
  auto cfg = json::parse(out->config);
  CHECK(cfg["rootfs"]["diff_ids"] == json::array({rb_digest('c'), rb_digest('d'), rb_digest('e')}));
  CHECK(cfg["config"]["Cmd"] == json::array({"/srv/app"}));  // the image's own command
  REQUIRE(cfg["history"].size() == 4);
  CHECK(cfg["history"][0]["created_by"] == "base v2 step 1");
  CHECK(cfg["history"][2]["created_by"] == "COPY app /srv/app");
  CHECK(cfg["history"][3]["comment"] == "airheal upstream-bump");
  CHECK(cfg["history"][3]["created"] == "2025-11-30T00:00:00Z");
  CHECK(out->manifest["config"]["digest"] == Sha256::of(out->config).str());
  CHECK(out->manifest["config"]["size"] == out->config.size());
  CHECK(out->manifest["annotations"]["org.opencontainers.image.base.digest"] == rb_digest('8'));
  CHECK(out->manifest["annotations"]["org.opencontainers.image.base.name"] == "library/base:1");
  CHECK(out->manifest["annotations"]["dev.airheal.heal"] == "42");
  CHECK(out->manifest["annotations"]["dev.airheal.original"] == rb_digest('9'));
}

TEST_CASE("Documents a rebase cannot be built from are refused in one line", "[heal]") {
  struct Case {
    const char* what;
    std::function<void(RebaseInput&)> change;
    const char* reason;
  };
  for (const auto& c : std::vector<Case>{
           {"no layers of its own", [](RebaseInput& in) { in.base_layers = 2; }, "no layers"},
           {"a base without layers", [](RebaseInput& in) { in.new_base.erase("layers"); },
            "no layers"},
           {"a config that is no object", [](RebaseInput& in) { in.image_config = json::array(); },
            "a config cannot be read"},
           {"diff ids that do not match the layers",
            [](RebaseInput& in) { in.image_config["rootfs"]["diff_ids"].erase(0); },
            "diff ids do not match"},
           {"a base config without rootfs",
            [](RebaseInput& in) { in.new_base_config.erase("rootfs"); }, "diff ids do not match"},
       }) {
    INFO(c.what);
    auto in = rb_input();
    c.change(in);
    auto out = rebase_image(in);
    REQUIRE_FALSE(out);
    CHECK(out.error().code == Errc::manifest_invalid);
    CHECK(out.error().message.find(c.reason) != std::string::npos);
  }
}
