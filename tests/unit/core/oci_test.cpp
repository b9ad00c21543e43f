#include "core/oci.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace airheal;
using nlohmann::json;

TEST_CASE("repository names follow the distribution-spec grammar", "[core][oci]") {
  for (auto good :
       {"a", "library/ubuntu", "team/app/api", "a.b_c__d-e---f", "0", "x/y/z/w", "foo.bar/baz"})
    CHECK(oci::is_valid_repository_name(good));
  for (auto bad : {"", "A", "a/", "/a", "a//b", "..", "a/../b", "a/./b", "-a", "a-", "a___b",
                   "a_.b", "a b", "a%2fb", "a:b", ".hidden", "a/.."})
    CHECK_FALSE(oci::is_valid_repository_name(bad));
  CHECK(oci::is_valid_repository_name(std::string(255, 'a')));
  CHECK_FALSE(oci::is_valid_repository_name(std::string(256, 'a')));
}

TEST_CASE("tags follow the distribution-spec grammar", "[core][oci]") {
  for (auto good : {"latest", "v1.2.3", "1", "_x", "A-b.c_d"}) CHECK(oci::is_valid_tag(good));
  for (auto bad : {"", ".x", "-x", "a/b", "a:b", "..", "a b"}) CHECK_FALSE(oci::is_valid_tag(bad));
  CHECK(oci::is_valid_tag(std::string(128, 'a')));
  CHECK_FALSE(oci::is_valid_tag(std::string(129, 'a')));
}

namespace {
std::string d(char c) { return "sha256:" + std::string(64, c); }
json image(const std::string& media = std::string(oci::media::kOciManifest)) {
  return {{"schemaVersion", 2},
          {"mediaType", media},
          {"config",
           {{"mediaType", "application/vnd.oci.image.config.v1+json"},
            {"digest", d('a')},
            {"size", 10}}},
          {"layers",
           {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
             {"digest", d('b')},
             {"size", 20}}}}};
}
}  // namespace

TEST_CASE("image manifests are parsed and their blobs listed", "[core][oci]") {
  auto m = oci::parse_manifest(image().dump(), oci::media::kOciManifest);
  REQUIRE(m);
  CHECK_FALSE(m->is_index);
  CHECK(m->required_blobs().size() == 2);
  CHECK(m->artifact_type == "application/vnd.oci.image.config.v1+json");
  // The Content-Type may be omitted; mediaType decides.
  CHECK(oci::parse_manifest(image().dump(), ""));
  // Docker schema 2 as well.
  auto j = image(std::string(oci::media::kDockerManifest));
  CHECK(oci::parse_manifest(j.dump(), oci::media::kDockerManifest));
}

TEST_CASE("indexes and subjects are understood", "[core][oci]") {
  json idx = {
      {"schemaVersion", 2},
      {"mediaType", oci::media::kOciIndex},
      {"manifests", {{{"mediaType", oci::media::kOciManifest}, {"digest", d('c')}, {"size", 5}}}}};
  auto m = oci::parse_manifest(idx.dump(), oci::media::kOciIndex);
  REQUIRE(m);
  CHECK(m->is_index);
  CHECK(m->child_manifests().size() == 1);
  auto art = image();
  art["artifactType"] = "application/vnd.example.sbom";
  art["subject"] = {{"mediaType", oci::media::kOciManifest}, {"digest", d('e')}, {"size", 3}};
  auto a = oci::parse_manifest(art.dump(), oci::media::kOciManifest);
  REQUIRE(a);
  CHECK(a->artifact_type == "application/vnd.example.sbom");
  REQUIRE(a->subject);
  CHECK(a->subject->digest.str() == d('e'));
}

TEST_CASE("malformed manifests are refused with a reason", "[core][oci]") {
  auto err = [](const std::string& bytes, std::string_view ct = oci::media::kOciManifest) {
    auto m = oci::parse_manifest(bytes, ct);
    REQUIRE_FALSE(m);
    return m.error();
  };
  CHECK(err("{not json").code == Errc::manifest_invalid);
  CHECK(err("[]").code == Errc::manifest_invalid);
  auto j = image();
  j["schemaVersion"] = 1;
  CHECK(err(j.dump()).message.find("schemaVersion") != std::string::npos);
  CHECK(err(image().dump(), oci::media::kOciIndex).message.find("does not match") !=
        std::string::npos);
  CHECK(err(image().dump(), "application/vnd.unknown+json").message.find("unsupported") !=
        std::string::npos);
  CHECK(err(image().dump(), oci::media::kDockerSchema1Signed).message.find("schema 1") !=
        std::string::npos);
  j = image();
  j["layers"][0]["digest"] = "sha256:../../../etc/passwd";
  CHECK(err(j.dump()).code == Errc::manifest_invalid);
  j = image();
  j["layers"][0]["size"] = -1;
  CHECK(err(j.dump()).code == Errc::manifest_invalid);
  j = image();
  j["annotations"] = {{"k", 1}};
  CHECK(err(j.dump()).code == Errc::manifest_invalid);
  j = image(std::string(oci::media::kDockerManifest));
  j.erase("mediaType");
  CHECK(err(j.dump(), oci::media::kDockerManifest).message.find("mediaType") != std::string::npos);
}

TEST_CASE("foreign layers are not required to be present", "[core][oci]") {
  auto j = image(std::string(oci::media::kDockerManifest));
  j["layers"].push_back({{"mediaType", oci::media::kDockerForeignLayer},
                         {"digest", d('f')},
                         {"size", 1},
                         {"urls", {"https://example.invalid/layer"}}});
  auto m = oci::parse_manifest(j.dump(), oci::media::kDockerManifest);
  REQUIRE(m);
  CHECK(m->required_blobs().size() == 2);
}
