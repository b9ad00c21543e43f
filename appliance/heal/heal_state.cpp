#include "heal/heal_state.hpp"

namespace airheal::heal {

const char* to_string(HealState s) {
  switch (s) {
    case HealState::detected:
      return "detected";
    case HealState::planned:
      return "planned";
    case HealState::building:
      return "building";
    case HealState::verifying:
      return "verifying";
    case HealState::staged:
      return "staged";
    case HealState::promoted:
      return "promoted";
    case HealState::held:
      return "held";
    case HealState::failed:
      return "failed";
    case HealState::rolled_back:
      return "rolled_back";
  }
  return "failed";
}

std::optional<HealState> parse_heal_state(std::string_view name) {
  for (auto s : kHealStates)
    if (name == to_string(s)) return s;
  return std::nullopt;
}

bool in_progress(HealState s) {
  return s == HealState::detected || s == HealState::planned || s == HealState::building ||
         s == HealState::verifying;
}

}  // namespace airheal::heal
