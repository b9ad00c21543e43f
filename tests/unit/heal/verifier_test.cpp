// The verification gates, one case per way a healed image can pass or fail them. Findings carry
// the fields scan::list_findings gives (package, advisory, severity); the advisory ids are real
// Debian security tracker ids for the packages named.
#include "heal/verifier.hpp"

#include <catch2/catch.hpp>
#include <map>

using namespace airheal;
using namespace airheal::heal;
using nlohmann::json;

namespace {

json finding(const std::string& package, const std::string& advisory, const std::string& severity) {
  return {{"package", package}, {"advisory", advisory}, {"severity", severity}};
}

}  // namespace

TEST_CASE("Verification gates: each way to pass or fail", "[heal]") {
  const json before = json::array({finding("libssl3", "CVE-2024-5535", "critical"),
                                   finding("zlib1g", "CVE-2023-45853", "critical"),
                                   finding("libc6", "CVE-2025-4802", "high")});
  struct Case {
    const char* name;
    json after;
    BuildResult built;
    bool size_bound;
    const char* why;  // empty: passed
    const char* notes;
    FailureClass gate;
  };
  BuildResult small;
  small.heal_layer_size = 6 << 20;
  small.image_size = 60 << 20;
  auto with = [&](auto f) {
    auto b = small;
    f(b);
    return b;
  };
  std::vector<Case> cases = {
      {"the targeted findings are gone, an untargeted one stays",
       json::array({finding("libc6", "CVE-2025-4802", "high")}), small, true, "", "",
       FailureClass::none},
      {"a targeted finding remains", json::array({finding("zlib1g", "CVE-2023-45853", "critical")}),
       small, true, " still zlib1g CVE-2023-45853;", "", FailureClass::none},
      {"a new high finding blocks", json::array({finding("libssl3", "CVE-2025-9230", "high")}),
       small, true, " new libssl3 CVE-2025-9230 (high);", "", FailureClass::none},
      {"a new medium finding is a note",
       json::array({finding("libssl3", "CVE-2025-9232", "medium")}), small, true, "",
       " new libssl3 CVE-2025-9232 (medium) (below high: not blocking);", FailureClass::none},
      {"the test command failed", json::array(),
       with([](BuildResult& b) { b.test_failure = "buildah run failed (exit 3)"; }), true,
       " the test command failed (buildah run failed (exit 3));", "", FailureClass::test_failed},
      {"the smoke test failed", json::array(), with([](BuildResult& b) {
         b.smoke_failure = "exit 127";
         b.smoke_note = " smoke test ran;";
       }),
       true, " the smoke test failed (exit 127);", " smoke test ran;",
       FailureClass::smoke_test_failed},
      {"both checks failed: the test is the gate", json::array(), with([](BuildResult& b) {
         b.test_failure = "t";
         b.smoke_failure = "s";
       }),
       true, " the test command failed (t); the smoke test failed (s);", "",
       FailureClass::test_failed},
      {"the heal layer is too large", json::array(),
       with([](BuildResult& b) { b.heal_layer_size = 40 << 20; }), true,
       " the heal layer (40.0 MiB) is 66% of the image, over the 50% bound;", "",
       FailureClass::none},
      {"a gold artefact may be large", json::array(),
       with([](BuildResult& b) { b.heal_layer_size = 40 << 20; }), false, "", "",
       FailureClass::none},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      VerifyInput in;
      in.before = before;
      in.after = c.after;
      in.targeted = {"CVE-2024-5535", "CVE-2023-45853"};
      in.size_bound = c.size_bound;
      in.built = c.built;
      auto v = verify(in);
      CHECK(v.why == c.why);
      CHECK(v.notes == c.notes);
      CHECK(v.passed() == (std::string(c.why).empty()));
      CHECK(v.gate.cls == c.gate);
    }
  }
  SECTION("every gate is itemised with its result") {
    VerifyInput in;
    in.before = before;
    in.after = json::array({finding("zlib1g", "CVE-2023-45853", "critical"),
                            finding("libssl3", "CVE-2025-9232", "medium")});
    in.targeted = {"CVE-2024-5535", "CVE-2023-45853"};
    in.built = small;
    auto v = verify(in);
    REQUIRE(v.gates.size() == 5);
    std::map<std::string, json> g;
    for (const auto& x : v.gates) g[x["gate"]] = x;
    CHECK(g["test command"]["result"] == "passed");
    CHECK(g["smoke test"]["result"] == "passed");
    CHECK(g["targeted vulnerabilities gone"]["result"] == "failed");
    CHECK(g["targeted vulnerabilities gone"]["detail"] == "still zlib1g CVE-2023-45853");
    CHECK(g["no new critical or high finding"]["result"] == "passed");
    CHECK(g["no new critical or high finding"]["detail"] ==
          "new below high: libssl3 CVE-2025-9232 (medium)");
    CHECK(g["heal layer size"]["result"] == "passed");
    CHECK(g["heal layer size"]["detail"] == "6.0 MiB, 10% of the image (bound 50%)");
    in.size_bound = false;
    CHECK(verify(in).gates[4]["result"] == "not applicable");
  }
  SECTION("findings that are not objects of strings are not a crash") {
    VerifyInput in;
    in.after = json::array({json::object(), {{"package", 7}}});
    CHECK(verify(in).passed());
  }
}
