#include "support/chromium.hpp"

namespace airheal::test {

std::vector<std::string> headless_chromium(const std::filesystem::path& profile,
                                           const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"chromium",
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-dev-shm-usage",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--user-data-dir=" + profile.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

}  // namespace airheal::test
