#include "heal/heal_state.hpp"

#include <catch2/catch.hpp>
#include <set>

using namespace airheal::heal;

TEST_CASE("heal states have one name each, read back to the same state", "[heal]") {
  std::set<std::string> names;
  for (auto s : kHealStates) {
    INFO(to_string(s));
    CHECK(parse_heal_state(to_string(s)) == s);
    names.insert(to_string(s));
  }
  CHECK(names.size() == kHealStates.size());
  CHECK(std::string(to_string(HealState::rolled_back)) ==
        "rolled_back");  // the API's and webhooks' spelling
  CHECK(!parse_heal_state("Staged"));
  CHECK(!parse_heal_state(""));
  CHECK(!parse_heal_state("rolled-back"));
}

TEST_CASE("a heal is in progress until it is staged, held or failed", "[heal]") {
  auto s = GENERATE(values<std::pair<HealState, bool>>({{HealState::detected, true},
                                                        {HealState::planned, true},
                                                        {HealState::building, true},
                                                        {HealState::verifying, true},
                                                        {HealState::staged, false},
                                                        {HealState::promoted, false},
                                                        {HealState::held, false},
                                                        {HealState::failed, false},
                                                        {HealState::rolled_back, false}}));
  INFO(to_string(s.first));
  CHECK(in_progress(s.first) == s.second);
}
