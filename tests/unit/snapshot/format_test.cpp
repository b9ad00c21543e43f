#include "snapshot/format.hpp"

#include <catch2/catch.hpp>

using namespace airheal;
using namespace airheal::snapshot;
using nlohmann::json;

namespace {
const std::string kHex(64, 'a');
json valid() {
  return json{{"format", "airheal-snapshot"},
              {"version", 1},
              {"channel", "stable"},
              {"sequence", 3},
              {"created", "2026-11-01T00:00:00Z"},
              {"expires", "2026-12-01T00:00:00Z"},
              {"entries", json::array({{{"path", "blobs/sha256/" + kHex}, {"size", 10}, {"sha256", kHex}, {"kind", "blob"}},
                                       {{"path", "advisories/0/a.json"}, {"size", 5}, {"sha256", std::string(64, 'b')}, {"kind", "advisory"}, {"format", "osv"}}})},
              {"images", json::array({{{"repository", "library/debian"}, {"tag", "12"}, {"digest", "sha256:" + kHex},
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
  for (auto ok : {"a", "blobs/sha256/abc", "advisories/0/GO-2024-1.json", "x/y_z-1.2+b~c@d:e=f"}) CHECK(is_safe_path(ok));
  for (auto bad : {"", "/a", "a/", "a//b", "./a", "a/./b", "a/../b", "..", "a b", "a\\b", "a\nb", "é"}) {
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
