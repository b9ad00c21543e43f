// Headless Chromium as the tests drive it: the same sandbox-free, offline, first-run-free flags
// everywhere, a profile folder of the test's own, and the page's JavaScript given a fixed
// virtual-time budget.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace airheal::test {

// chromium's argv: the common flags, --user-data-dir=PROFILE, then EXTRA (e.g. --dump-dom URL).
std::vector<std::string> headless_chromium(const std::filesystem::path& profile,
                                           const std::vector<std::string>& extra);

}  // namespace airheal::test
