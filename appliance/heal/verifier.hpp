// The verification gates of a heal, judged from what was measured: the findings of the original
// and of the healed image (each scanned like any other image), the checks run in the healed image
// (test command, smoke test) and the heal layer's size against the image. Pure: the engine does the
// scanning and the builder runs the checks; this decides.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "heal/failure.hpp"

namespace airheal::heal {

// What a heal's build produced, before it is staged.
struct BuildResult {
  std::string manifest;  // the healed manifest's bytes (its blobs are already in the store)
  std::uint64_t heal_layer_size = 0, image_size = 0;
  std::string test_failure, smoke_failure, smoke_note;
  std::int64_t reused_from = 0;  // the heal whose layer was reused; 0: built here
};

struct VerifyInput {
  nlohmann::json before =
      nlohmann::json::array();  // scan::list_findings of the original (suppressed ones included)
  nlohmann::json after = nlohmann::json::array();  // ... and of the healed image
  std::vector<std::string> targeted;               // advisory ids the plan removes
  bool size_bound =
      true;  // the size gate applies (a package heal; a gold artefact replaces whole binaries)
  double max_size_growth = 0.5;
  BuildResult built;
};

struct Verdict {
  std::string why;    // " the test command failed (...); still libssl3 CVE-...;" ...: empty when
                      // every gate passed
  std::string notes;  // what passed with a remark (smoke test ran, new findings below high)
  Failure gate;       // the gate that failed first among test and smoke test, classified
  // Every gate in order with its result ("passed", "failed", "not applicable") and what it saw.
  nlohmann::json gates = nlohmann::json::array();
  bool passed() const { return why.empty(); }
};

// Every gate: the test command and the smoke test passed; no targeted advisory remains; no new
// critical or high finding appeared (new ones below high are notes); the heal layer is at most
// MAX_SIZE_GROWTH of the image when SIZE_BOUND.
Verdict verify(const VerifyInput& in);

}  // namespace airheal::heal
