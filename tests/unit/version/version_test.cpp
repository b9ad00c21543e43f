#include "version/version.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "support/test_support.hpp"

using namespace airheal;

namespace {
struct Case {
  std::string a, b;
  int expected;
};
std::vector<Case> load_cases(const std::string& file) {
  std::ifstream in(std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/version-vectors/" + file);
  REQUIRE(in);
  std::vector<Case> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Case c;
    if (ls >> c.a >> c.b >> c.expected) out.push_back(c);
  }
  return out;
}
// dpkg itself: 0 true, 1 false, 2+ syntax error.
std::optional<int> dpkg_oracle(const std::string& a, const std::string& b) {
  auto lt = test::run({"dpkg", "--compare-versions", a, "lt", b});
  auto eq = test::run({"dpkg", "--compare-versions", a, "eq", b});
  if (lt.exit_code > 1 || eq.exit_code > 1) return std::nullopt;
  if (lt.exit_code == 0) return -1;
  return eq.exit_code == 0 ? 0 : 1;
}
}  // namespace

TEST_CASE("dpkg comparison agrees with the dpkg and apt test vectors and with dpkg itself", "[version][dpkg]") {
  for (const auto* file : {"dpkg_Dpkg_Version_t.cases", "apt_versions.lst"}) {
    auto cases = load_cases(file);
    REQUIRE(cases.size() > 40);
    std::size_t compared = 0;
    for (const auto& c : cases) {
      INFO(file << ": " << c.a << " vs " << c.b);
      auto oracle = dpkg_oracle(c.a, c.b);
      auto mine = version::compare_dpkg(c.a, c.b);
      CHECK(mine.has_value() == oracle.has_value());  // reject exactly what dpkg rejects
      if (!oracle) continue;
      ++compared;
      CHECK(*mine == *oracle);
      CHECK(*mine == (c.expected < 0 ? -1 : c.expected > 0 ? 1 : 0));
      CHECK(*version::compare_dpkg(c.b, c.a) == -*mine);
    }
    CHECK(compared >= 40);
  }
}

TEST_CASE("dpkg comparison on real Debian version strings", "[version][dpkg]") {
  const std::vector<std::string> v = {"1.2.13.dfsg-1", "1:1.2.13.dfsg-1", "2.36-9+deb12u4", "2.36-9+deb12u10",
                                      "3.0.11-1~deb12u2", "3.0.11-1", "1.0~rc1-1", "1.0-1", "7.88.1-10+deb12u5",
                                      "7.88.1-10+b1", "5.2.15-2+b2", "5.2.15-2", "0.0~git20230101.abc-1", "20230311"};
  for (const auto& a : v)
    for (const auto& b : v) {
      INFO(a << " vs " << b);
      CHECK(version::compare_dpkg(a, b) == dpkg_oracle(a, b));
    }
}

TEST_CASE("semver precedence follows semver.org, with Go's v prefix and pseudo-versions", "[version][semver]") {
  const std::vector<std::string> ordered = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                                            "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
                                            "1.10.0", "2.0.0"};
  for (std::size_t i = 0; i < ordered.size(); ++i)
    for (std::size_t j = 0; j < ordered.size(); ++j) {
      INFO(ordered[i] << " vs " << ordered[j]);
      CHECK(*version::compare_semver(ordered[i], ordered[j]) == (i < j ? -1 : i > j ? 1 : 0));
    }
  CHECK(*version::compare_semver("v1.2.3", "1.2.3") == 0);
  CHECK(*version::compare_semver("2.8.6+incompatible", "2.8.6") == 0);  // build metadata is ignored
  CHECK(*version::compare_semver("v0.0.0-20191109021931-daa7c04131f5", "v0.1.0") == -1);
  CHECK(*version::compare_semver("v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-aaaaaaaaaaaa") == -1);
  CHECK(*version::compare_semver("1.21.0-0.20230101", "1.21.0") == -1);
  for (auto bad : {"1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "a.b.c", "", "1.0.0-a..b"}) {
    INFO(bad);
    CHECK_FALSE(version::is_semver(bad));
  }
  CHECK(version::compare("Go", "1.2.0", "1.10.0") == -1);
  CHECK(version::compare("Debian:12", "1.0-1", "1.0-1+deb12u1") == -1);
  CHECK_FALSE(version::compare("PyPI", "1.0", "2.0").has_value());
}
