// Where a heal is in its life:
//
//   detected -> planned -> building -> verifying -> staged -> promoted -> rolled_back
//                  |           |            |          |
//                  +-> held    +-> failed   +-> failed +-> held (an operator's hold)
//
// held and failed heals are retried when the imported content changes. The names are the ones
// the database, the REST API, webhooks, the journal and evidence bundles use.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace airheal::heal {

enum class HealState {
  detected,
  planned,
  building,
  verifying,
  staged,
  promoted,
  held,
  failed,
  rolled_back
};

inline constexpr std::array<HealState, 9> kHealStates = {
    HealState::detected,  HealState::planned, HealState::building,
    HealState::verifying, HealState::staged,  HealState::promoted,
    HealState::held,      HealState::failed,  HealState::rolled_back};

const char* to_string(HealState s);
std::optional<HealState> parse_heal_state(std::string_view name);
// Still on its way (detected, planned, building, verifying): a heal of the same image is running.
bool in_progress(HealState s);

}  // namespace airheal::heal
