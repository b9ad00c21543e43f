#include "heal/verifier.hpp"

#include <set>

#include "core/fs.hpp"

namespace airheal::heal {
using nlohmann::json;

namespace {

std::string text(const json& f, const char* key) {
  auto it = f.find(key);
  return it != f.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Verdict verify(const VerifyInput& in) {
  Verdict v;
  std::set<std::string> was, remaining, fresh_blocking, fresh_other;
  for (const auto& f : in.before) was.insert(text(f, "package") + " " + text(f, "advisory"));
  std::set<std::string> targeted(in.targeted.begin(), in.targeted.end());
  for (const auto& f : in.after) {
    auto key = text(f, "package") + " " + text(f, "advisory");
    if (targeted.count(text(f, "advisory"))) remaining.insert(key);
    if (was.count(key)) continue;
    auto sev = text(f, "severity");
    (sev == "critical" || sev == "high" ? fresh_blocking : fresh_other)
        .insert(key + " (" + sev + ")");
  }
  const auto& b = in.built;
  if (!b.test_failure.empty()) v.why += " the test command failed (" + b.test_failure + ");";
  if (!b.smoke_failure.empty()) v.why += " the smoke test failed (" + b.smoke_failure + ");";
  for (const auto& r : remaining) v.why += " still " + r + ";";
  for (const auto& r : fresh_blocking) v.why += " new " + r + ";";
  // Size: a package heal adds files next to the ones it replaces; the layer must stay small
  // against the image.
  double growth =
      b.image_size ? static_cast<double>(b.heal_layer_size) / static_cast<double>(b.image_size) : 0;
  if (in.size_bound && growth > in.max_size_growth)
    v.why += " the heal layer (" + fs::human_bytes(b.heal_layer_size) + ") is " +
             std::to_string(static_cast<int>(growth * 100)) + "% of the image, over the " +
             std::to_string(static_cast<int>(in.max_size_growth * 100)) + "% bound;";
  v.notes = b.smoke_note;
  for (const auto& r : fresh_other) v.notes += " new " + r + " (below high: not blocking);";
  auto gate = [&](const char* name, bool ok, const std::string& detail) {
    v.gates.push_back({{"gate", name}, {"result", ok ? "passed" : "failed"}, {"detail", detail}});
  };
  auto joined = [](const std::set<std::string>& s) {
    std::string out;
    for (const auto& x : s) out += (out.empty() ? "" : "; ") + x;
    return out;
  };
  gate("test command", b.test_failure.empty(),
       b.test_failure.empty() ? "no failure (or no test command configured)" : b.test_failure);
  gate("smoke test", b.smoke_failure.empty(),
       b.smoke_failure.empty() ? (b.smoke_note.empty() ? "no failure" : b.smoke_note)
                               : b.smoke_failure);
  gate("targeted vulnerabilities gone", remaining.empty(),
       remaining.empty() ? std::to_string(targeted.size()) + " targeted, none remain"
                         : "still " + joined(remaining));
  gate("no new critical or high finding", fresh_blocking.empty(),
       fresh_blocking.empty()
           ? (fresh_other.empty() ? "none new" : "new below high: " + joined(fresh_other))
           : "new " + joined(fresh_blocking));
  if (in.size_bound)
    gate("heal layer size", growth <= in.max_size_growth,
         fs::human_bytes(b.heal_layer_size) + ", " +
             std::to_string(static_cast<int>(growth * 100)) + "% of the image (bound " +
             std::to_string(static_cast<int>(in.max_size_growth * 100)) + "%)");
  else
    v.gates.push_back({{"gate", "heal layer size"},
                       {"result", "not applicable"},
                       {"detail", "whole binaries replaced"}});
  if (!b.test_failure.empty())
    v.gate = {FailureClass::test_failed, b.test_failure};
  else if (!b.smoke_failure.empty())
    v.gate = {FailureClass::smoke_test_failed, b.smoke_failure};
  return v;
}

}  // namespace airheal::heal
