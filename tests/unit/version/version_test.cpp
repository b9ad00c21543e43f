#include "version/version.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/subprocess.hpp"
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

TEST_CASE("dpkg comparison agrees with the dpkg and apt test vectors and with dpkg itself",
          "[version][dpkg]") {
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
  const std::vector<std::string> v = {
      "1.2.13.dfsg-1",         "1:1.2.13.dfsg-1", "2.36-9+deb12u4", "2.36-9+deb12u10",
      "3.0.11-1~deb12u2",      "3.0.11-1",        "1.0~rc1-1",      "1.0-1",
      "7.88.1-10+deb12u5",     "7.88.1-10+b1",    "5.2.15-2+b2",    "5.2.15-2",
      "0.0~git20230101.abc-1", "20230311"};
  for (const auto& a : v)
    for (const auto& b : v) {
      INFO(a << " vs " << b);
      CHECK(version::compare_dpkg(a, b) == dpkg_oracle(a, b));
    }
}

TEST_CASE("semver precedence follows semver.org, with Go's v prefix and pseudo-versions",
          "[version][semver]") {
  const std::vector<std::string> ordered = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                                            "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                                            "1.0.0-rc.1",  "1.0.0",         "1.0.1",
                                            "1.10.0",      "2.0.0"};
  for (std::size_t i = 0; i < ordered.size(); ++i)
    for (std::size_t j = 0; j < ordered.size(); ++j) {
      INFO(ordered[i] << " vs " << ordered[j]);
      CHECK(*version::compare_semver(ordered[i], ordered[j]) == (i < j ? -1 : i > j ? 1 : 0));
    }
  CHECK(*version::compare_semver("v1.2.3", "1.2.3") == 0);
  CHECK(*version::compare_semver("2.8.6+incompatible", "2.8.6") == 0);  // build metadata is ignored
  CHECK(*version::compare_semver("v0.0.0-20191109021931-daa7c04131f5", "v0.1.0") == -1);
  CHECK(*version::compare_semver("v0.0.0-20191109021931-daa7c04131f5",
                                 "v0.0.0-20200101000000-aaaaaaaaaaaa") == -1);
  CHECK(*version::compare_semver("1.21.0-0.20230101", "1.21.0") == -1);
  for (auto bad : {"1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "a.b.c", "", "1.0.0-a..b"}) {
    INFO(bad);
    CHECK_FALSE(version::is_semver(bad));
  }
  CHECK(version::compare("Go", "1.2.0", "1.10.0") == -1);
  CHECK(version::compare("Debian:12", "1.0-1", "1.0-1+deb12u1") == -1);
  CHECK(version::compare("PyPI", "1.0", "2.0") == -1);                 // PEP 440 now
  CHECK_FALSE(version::compare("Hackage", "1.0", "2.0").has_value());  // an ecosystem not ordered
}

namespace {
// apk-tools' own vectors: "a OP b" (OP one of < > =; fuzzy ~ forms are prefix matches, not
// ordering, and are skipped), or a single version, "!"-prefixed when apk rejects it.
struct ApkVectors {
  std::vector<Case> ordered;
  std::vector<std::pair<std::string, bool>> validity;
};
ApkVectors load_apk() {
  std::ifstream in(std::string(AIRHEAL_SOURCE_DIR) +
                   "/tests/data/version-vectors/apk_version.data");
  REQUIRE(in);
  ApkVectors v;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream ls(line);
    std::string a, op, b;
    if (!(ls >> a)) continue;
    if (!(ls >> op >> b)) {
      bool valid = a[0] != '!';
      v.validity.emplace_back(valid ? a : a.substr(1), valid);
      continue;
    }
    if (op == "<" || op == ">" || op == "=")
      v.ordered.push_back({a, b, op == "<" ? -1 : op == ">" ? 1 : 0});
  }
  return v;
}

// rpm 4.18 itself: rpm.vercmp through its Lua interpreter, one process for a whole batch.
std::vector<int> rpm_oracle(const std::vector<std::pair<std::string, std::string>>& pairs) {
  test::TempDir dir;
  std::string script = "local r = {}\n";  // rpm's print() drops newlines: collect, then print once
  for (const auto& [a, b] : pairs) script += "r[#r+1] = rpm.vercmp([[" + a + "]], [[" + b + "]])\n";
  script += "print(table.concat(r, ' '))\n";
  auto path = dir.path() / "cases.lua";
  std::ofstream(path) << script;
  auto r = test::run({"rpm", "--eval", "%{lua: dofile('" + path.string() + "')}"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<int> out;
  std::istringstream is(r.out);
  int v;
  while (is >> v) out.push_back(v);
  REQUIRE(out.size() == pairs.size());
  return out;
}
}  // namespace

TEST_CASE("apk comparison agrees with apk-tools' own vectors", "[version][apk]") {
  auto v = load_apk();
  REQUIRE(v.ordered.size() > 700);
  for (const auto& c : v.ordered) {
    INFO(c.a << " vs " << c.b);
    CHECK(version::compare_apk(c.a, c.b) == c.expected);
    CHECK(version::compare_apk(c.b, c.a) == -c.expected);
  }
  REQUIRE(v.validity.size() > 25);
  for (const auto& [s, valid] : v.validity) {
    INFO(s);
    CHECK(version::is_apk_version(s) == valid);
  }
  CHECK(version::compare("Alpine:v3.10", "1.1.1d-r0", "1.1.1g-r0") == -1);
}

TEST_CASE(
    "rpm comparison agrees with rpm's vectors, go-rpm-version's and osv-scalibr's, and rpm 4.18 "
    "itself",
    "[version][rpm]") {
  if (!test::have_program("rpm")) FAIL("rpm is not installed (scripts/setup.sh installs it)");
  std::vector<std::pair<std::string, std::string>> all;
  for (const auto& c : load_cases("rpmvercmp.cases")) {
    INFO(c.a << " vs " << c.b);
    CHECK(version::rpmvercmp(c.a, c.b) == c.expected);
    all.emplace_back(c.a, c.b);
  }
  std::ifstream gj(std::string(AIRHEAL_SOURCE_DIR) +
                   "/tests/data/version-vectors/go-rpm-version_cases.json");
  auto cases = nlohmann::json::parse(gj);
  REQUIRE(cases.size() > 4000);
  for (const auto& c : cases) {
    auto a = c["a"].get<std::string>(), b = c["b"].get<std::string>();
    INFO(a << " vs " << b);
    CHECK(version::rpmvercmp(a, b) == c["expected"].get<int>());
  }
  std::ifstream rh(std::string(AIRHEAL_SOURCE_DIR) +
                   "/tests/data/version-vectors/osv-scalibr_redhat-versions.txt");
  std::string line;
  std::size_t n = 0;
  while (std::getline(rh, line)) {
    std::istringstream ls(line);
    std::string a, op, b;
    if (line.empty() || line[0] == '#' || !(ls >> a >> op >> b)) continue;
    INFO(a << " " << op << " " << b);
    CHECK(version::compare_rpm(a, b) == (op == "<" ? -1 : op == ">" ? 1 : 0));
    all.emplace_back(a, b);
    ++n;
  }
  CHECK(n > 150);
  // Real EVRs of the shapes RHEL, Rocky and SUSE ship, every pair against rpm itself.
  const std::vector<std::string> real = {"1.1.1k-7.el8_6",
                                         "1:1.1.1k-7.el8_6",
                                         "1:1.1.1k-12.el8_9",
                                         "3.0.7-25.el9_3",
                                         "3.0.7-27.el9",
                                         "2.28-225.el8",
                                         "2.28-225.el8_8.6",
                                         "0:2.28-225.el8",
                                         "7.61.1-30.el8_8.3",
                                         "7.61.1-30.el8_8.10",
                                         "1.0~rc1-1",
                                         "1.0-1",
                                         "1.0^git1-1",
                                         "1.0",
                                         "5.2.15-150300",
                                         "2.9.14+suse.1-150500.3.9.1",
                                         "a:1.0",
                                         "1.0-"};
  for (const auto& a : real)
    for (const auto& b : real) all.emplace_back(a, b);
  auto oracle = rpm_oracle(all);
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO(all[i].first << " vs " << all[i].second);
    CHECK(version::compare_rpm(all[i].first, all[i].second) == oracle[i]);
  }
  CHECK(version::compare("Rocky Linux:8", "1:1.1.1k-7.el8_6", "1:1.1.1k-12.el8_9") == -1);
}

namespace {
std::vector<std::string> pep440_lines(const std::string& file) {
  std::ifstream in(std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/version-vectors/pep440/" + file);
  REQUIRE(in);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}
}  // namespace

TEST_CASE("PEP 440 ordering agrees with the packaging library's own vectors", "[version][pep440]") {
  auto versions = pep440_lines("versions.txt");
  REQUIRE(versions.size() == 92);
  for (std::size_t i = 0; i < versions.size(); ++i)
    for (std::size_t j = 0; j < versions.size(); ++j) {
      INFO(versions[i] << " vs " << versions[j]);
      auto c = version::compare_pep440(versions[i], versions[j]);
      REQUIRE(c);
      CHECK(*c == (i < j ? -1 : i > j ? 1 : 0));
    }
  for (const auto& line : pep440_lines("normalized.txt")) {
    auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    INFO(line);
    CHECK(version::normalise_pep440(line.substr(0, tab)) == line.substr(tab + 1));
    CHECK(version::compare_pep440(line.substr(0, tab), line.substr(tab + 1)) == 0);
  }
  for (const auto& bad : pep440_lines("invalid.txt")) {
    INFO(bad);
    CHECK_FALSE(version::is_pep440(bad));
    CHECK_FALSE(version::compare_pep440(bad, "1.0"));
  }
  CHECK(version::compare("PyPI", "2.31.0", "2.32.0") == -1);
  CHECK(version::compare_pep440("1.0", "1.0.0.0") == 0);
  CHECK(version::compare_pep440("1.0.99999999999999999999999", "1.0.100000000000000000000000") ==
        -1);
}

TEST_CASE("PEP 440 ordering agrees with Debian's python3-packaging", "[version][pep440]") {
  if (!std::filesystem::exists("/usr/bin/python3"))
    FAIL("/usr/bin/python3 is needed (scripts/setup.sh installs python3-packaging)");
  // Every vector, the GitHub advisories' PyPI versions, and spellings the normaliser must accept.
  auto versions = pep440_lines("versions.txt");
  for (auto v : {"2.31.0", "2.32.0", "0.9", "1.0.0", "1.0-RC1", "1.0_post2", "v2.0.dev3", "2!0.1",
                 "1.0+ubuntu1", "1.0+ubuntu.1", "1.0+1a", "41.0.0", "41.0.6", "3.0.0a1",
                 "2023.7.22", "0.0.0"})
    versions.push_back(v);
  std::string input;
  for (const auto& v : versions) input += v + "\n";
  ProcessOptions o;
  o.input = input;
  auto r = run_process({"/usr/bin/python3", "-c",
                        "import sys\nfrom packaging.version import Version\n"
                        "vs=[Version(l) for l in sys.stdin.read().splitlines()]\n"
                        "print(' '.join(str((a>b)-(a<b)) for a in vs for b in vs))\n"},
                       o);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::istringstream is(r.out);
  for (const auto& a : versions)
    for (const auto& b : versions) {
      int want = 2;
      is >> want;
      INFO(a << " vs " << b);
      CHECK(version::compare_pep440(a, b) == want);
    }
}
