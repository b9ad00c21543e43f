// npm ranges and PEP 440 specifier sets against the reference implementations themselves: the
// node-semver that npm bundles (satisfies) and Debian's python3-packaging (SpecifierSet), over
// every pair of the versions and ranges below: the advisories' fixed versions, the ranges real
// package.json and METADATA files declare, and the grammar's corners.
#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "core/subprocess.hpp"
#include "support/app_fixtures.hpp"
#include "support/test_support.hpp"
#include "version/version.hpp"

using namespace airheal;

namespace {

// One line per (version, range): "1", "0" or "n" (the oracle rejects the range).
std::vector<std::string> oracle_lines(const std::vector<std::string>& argv,
                                      const std::string& input) {
  ProcessOptions o;
  o.input = input;
  auto r = run_process(argv, o);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> out;
  std::istringstream is(r.out);
  for (std::string l; std::getline(is, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("npm ranges agree with node-semver's satisfies", "[version][ranges][npm]") {
  auto semver = test::npm_semver();
  std::vector<std::string> versions = {
      "0.0.0", "0.0.1",      "0.0.3",  "0.0.4",        "0.1.0",        "0.2.3",   "0.2.4",
      "0.3.0", "1.0.0",      "1.2.0",  "1.2.3",        "1.2.5",        "1.2.6",   "1.2.9",
      "1.3.0", "1.3.0-beta", "2.0.0",  "2.0.0-rc.1",   "4.17.20",      "4.17.21", "5.0.0",
      "7.5.1", "7.5.2",      "8.17.1", "1.2.3-beta.2", "1.2.3-beta.4", "3.4.5"};
  std::vector<std::string> ranges = {"^1.2.5",
                                     "~1.2.5",
                                     "1.2.x",
                                     "1.x",
                                     "*",
                                     "",
                                     ">=1.2.3 <1.3.0",
                                     "1.2.3 - 2.0.0",
                                     "1.2 - 2",
                                     "^0.2.3",
                                     "^0.0.3",
                                     "^0.0",
                                     "^0.x",
                                     "^1.2.x",
                                     "~1",
                                     "~0.2",
                                     ">1.2",
                                     "<=1.2",
                                     "<1.2",
                                     ">=1.2",
                                     "=1.2.6",
                                     "1.2.6",
                                     "^4.17.20",
                                     "^4.17.21",
                                     "^7.5.0 || ^8.0.0",
                                     ">= 1.2.3",
                                     "x",
                                     "^1.2.3-beta.2",
                                     "~1.2.3-beta.2",
                                     "<2.0.0",
                                     ">1.2.3-beta.2 <1.2.4",
                                     "1.2.3 || 2.x",
                                     "latest",
                                     "git+https://example.invalid/x.git",
                                     "file:../x",
                                     "npm:minimist@1.2.6"};
  std::string input;
  for (const auto& v : versions)
    for (const auto& r : ranges) input += v + "\t" + r + "\n";
  auto lines = oracle_lines(
      {"node", "-e",
       "const s=require(process.argv[1]);for(const l of require('fs').readFileSync(0,'utf8')"
       ".split('\\n')){if(!l)continue;const [v,r]=l.split('\\t');"
       "console.log(s.validRange(r)===null?'n':(s.satisfies(v,r)?'1':'0'))}",
       semver.string()},
      input);
  REQUIRE(lines.size() == versions.size() * ranges.size());
  std::size_t k = 0;
  for (const auto& v : versions)
    for (const auto& r : ranges) {
      const auto& want = lines[k++];
      auto got = version::satisfies_npm_range(v, r);
      INFO(v << " in \"" << r << "\"");
      if (want == "n")
        CHECK_FALSE(got);
      else
        CHECK(got == (want == "1"));
    }
}

TEST_CASE("PEP 440 specifier sets agree with the packaging library", "[version][ranges][pep440]") {
  if (!std::filesystem::exists("/usr/bin/python3"))
    FAIL("/usr/bin/python3 is needed (scripts/setup.sh installs python3-packaging)");
  std::vector<std::string> versions = {
      "1.21.1", "1.26.12", "2.0.0",     "2.0.6",  "3.0",       "2.28.1",      "2.31.0",
      "2.32.3", "1.0",     "1.0.post1", "1.0rc1", "1.0.dev1",  "1.0+local.1", "2.2",
      "2.2.1",  "2.3",     "0.9",       "1!1.0",  "2023.7.22", "4.0a1"};
  std::vector<std::string> specs = {
      "<3,>=1.21.1", ">=2017.4.17",    ">=2.5,<4",      "==2.*",  "!=2.0.*",    "~=2.2",
      "~=2.2.0",     "==1.0",          "==1.0+local.1", ">1.0",   "<1.0",       "<=1.0",
      ">=1.0rc1",    "<2.0,!=1.26.12", "===1.0",        "",       ">=1.0.dev0", "<4.0a2",
      "~=1.0",       "==1.0.*",        ">1.0.post0",    "==1!1.0"};
  std::string input;
  for (const auto& v : versions)
    for (const auto& s : specs) input += v + "\t" + s + "\n";
  auto lines =
      oracle_lines({"/usr/bin/python3", "-c",
                    "import sys\nfrom packaging.specifiers import SpecifierSet, InvalidSpecifier\n"
                    "from packaging.version import Version\n"
                    "for l in sys.stdin.read().splitlines():\n"
                    "  v, s = l.split('\\t')\n"
                    "  try:\n"
                    "    print('1' if Version(v) in SpecifierSet(s) else '0')\n"
                    "  except InvalidSpecifier:\n"
                    "    print('n')\n"},
                   input);
  REQUIRE(lines.size() == versions.size() * specs.size());
  std::size_t k = 0;
  for (const auto& v : versions)
    for (const auto& s : specs) {
      const auto& want = lines[k++];
      auto got = version::satisfies_pep440(v, s);
      INFO(v << " in \"" << s << "\"");
      if (want == "n")
        CHECK_FALSE(got);
      else
        CHECK(got == (want == "1"));
    }
}
