#include "scan/lockfile.hpp"

#include <catch2/catch.hpp>
#include <set>

#include "core/fs.hpp"
#include "scan/layer.hpp"
#include "support/test_support.hpp"

using namespace airheal::scan;

namespace {
std::string names(const std::vector<LockedDependency>& v) {
  std::string out;
  for (const auto& d : v) out += d.name + "@" + d.version + (d.indirect ? "(i)" : "") + " ";
  return out;
}
}  // namespace

TEST_CASE("Lockfiles are recognised where applications keep them, not in caches or toolchains",
          "[scan][lockfile]") {
  CHECK(lockfile_kind("src/app/go.mod") == "go-mod");
  CHECK(lockfile_kind("go.mod") == "go-mod");
  CHECK(lockfile_kind("app/package-lock.json") == "npm-lock");
  CHECK(classify_path("srv/web/package-lock.json") == "npm-lock");
  CHECK(lockfile_kind("app/node_modules/x/package-lock.json").empty());
  CHECK(lockfile_kind("root/go/pkg/mod/golang.org/x/text@v0.3.7/go.mod").empty());
  CHECK(lockfile_kind("src/app/vendor/golang.org/x/text/go.mod").empty());
  CHECK(lockfile_kind("usr/lib/go-1.19/src/go.mod").empty());
  CHECK(lockfile_kind("src/app/testdata/go.mod").empty());
  CHECK(lockfile_kind("src/app/go.sum").empty());
  CHECK(lockfile_kind("src/app/notgo.mod").empty());
}

TEST_CASE("go.mod: require lines and blocks, indirect markers, replace directives",
          "[scan][lockfile]") {
  std::vector<std::string> problems;
  auto deps = parse_go_mod(R"(module example.com/app // the app

go 1.19

require golang.org/x/text v0.3.7
require (
	github.com/pkg/errors v0.9.1 // indirect
	"example.com/quoted" v1.2.3
	example.com/local v1.0.0
	example.com/moved v1.0.0
	example.com/only-old v1.0.0
)

replace example.com/local => ../local
replace (
	example.com/moved => example.com/fork v1.1.0
	example.com/only-old v0.9.0 => example.com/other v2.0.0
)
exclude golang.org/x/text v0.3.6
retract v0.1.0
)",
                           problems);
  CHECK(problems.empty());
  CHECK(names(deps) ==
        "golang.org/x/text@v0.3.7 github.com/pkg/errors@v0.9.1(i) example.com/quoted@v1.2.3 "
        "example.com/fork@v1.1.0 "
        "example.com/only-old@v1.0.0 ");
}

TEST_CASE("go.mod: hostile or broken text yields nothing rather than nonsense",
          "[scan][lockfile]") {
  std::vector<std::string> problems;
  CHECK(parse_go_mod("require \"golang.org/x/text v0.3.7\n", problems).empty());
  CHECK(problems.size() == 1);
  problems.clear();
  CHECK(
      parse_go_mod("require golang.org/x/text\nrequire a b c d\nrequire x notaversion\n", problems)
          .empty());
  CHECK(parse_go_mod(std::string("require a\x01 v1.0.0\n"), problems).empty());
  CHECK(parse_go_mod("", problems).empty());
}

TEST_CASE("go.mod: a pin changes only the version token of that module's require",
          "[scan][lockfile]") {
  std::string mod =
      "module example.com/app\n\ngo 1.19\n\nrequire (\n\tgolang.org/x/text v0.3.7 // indirect\n"
      "\tgolang.org/x/textual v0.1.0\n)\nrequire golang.org/x/text v0.3.7\n";
  auto pinned = pin_go_mod(mod, "golang.org/x/text", "v0.3.8");
  REQUIRE(pinned);
  CHECK(*pinned ==
        "module example.com/app\n\ngo 1.19\n\nrequire (\n\tgolang.org/x/text v0.3.8 // indirect\n"
        "\tgolang.org/x/textual v0.1.0\n)\nrequire golang.org/x/text v0.3.8\n");
  std::vector<std::string> problems;
  CHECK(names(parse_go_mod(*pinned, problems)) ==
        "golang.org/x/text@v0.3.8(i) golang.org/x/textual@v0.1.0 golang.org/x/text@v0.3.8 ");
  CHECK_FALSE(pin_go_mod(mod, "golang.org/x/net", "v1.0.0"));
}

TEST_CASE("package-lock.json v3 and v1: every installed copy, direct or not", "[scan][lockfile]") {
  std::vector<std::string> problems;
  auto v3 = parse_package_lock(R"({
    "name": "web", "lockfileVersion": 3,
    "packages": {
      "": {"name": "web", "dependencies": {"lodash": "^4.17.0", "alias": "npm:minimist@1.2.5"}},
      "node_modules/lodash": {"version": "4.17.20", "resolved": "https://r/lodash-4.17.20.tgz"},
      "node_modules/@scope/pkg": {"version": "1.0.0"},
      "node_modules/a/node_modules/lodash": {"version": "4.17.15"},
      "node_modules/alias": {"name": "minimist", "version": "1.2.5"},
      "node_modules/linked": {"link": true, "resolved": "../linked"},
      "packages/workspace": {"version": "0.0.1"}
    }})",
                               problems);
  CHECK(problems.empty());
  std::set<std::string> got;
  for (const auto& d : v3) got.insert(d.name + "@" + d.version + (d.indirect ? "(i)" : ""));
  CHECK(got == std::set<std::string>{"lodash@4.17.20", "lodash@4.17.15(i)", "@scope/pkg@1.0.0(i)",
                                     "minimist@1.2.5"});

  auto v1 = parse_package_lock(R"({"lockfileVersion": 1, "dependencies": {
      "lodash": {"version": "4.17.20", "dependencies": {"minimist": {"version": "0.0.8"}}},
      "local": {"version": "file:../local"}}})",
                               problems);
  got.clear();
  for (const auto& d : v1) got.insert(d.name + "@" + d.version + (d.indirect ? "(i)" : ""));
  CHECK(got == std::set<std::string>{"lodash@4.17.20", "minimist@0.0.8(i)"});
  CHECK(parse_package_lock("[1,2]", problems).empty());
  CHECK(parse_package_lock("{not json", problems).empty());
}

TEST_CASE("package-lock.json: a pin sets version, resolved and integrity of every copy",
          "[scan][lockfile]") {
  auto pinned = pin_package_lock(
      R"({"lockfileVersion": 3, "packages": {"": {}, "node_modules/lodash": {"version": "4.17.20"},
    "node_modules/a/node_modules/lodash": {"version": "4.17.15"}, "node_modules/lodash-es": {"version": "4.17.20"}}})",
      "lodash", "4.17.21", "file:airheal-deps/lodash-4.17.21.tgz", "sha512-abc");
  REQUIRE(pinned);
  std::vector<std::string> problems;
  std::set<std::string> got;
  for (const auto& d : parse_package_lock(*pinned, problems)) got.insert(d.name + "@" + d.version);
  CHECK(got == std::set<std::string>{"lodash@4.17.21", "lodash-es@4.17.20"});
  CHECK(pinned->find("\"integrity\": \"sha512-abc\"") != std::string::npos);
  CHECK_FALSE(pin_package_lock(R"({"packages": {}})", "lodash", "1", "r", "i"));
}

TEST_CASE("Go module paths are escaped for a module proxy", "[scan][lockfile]") {
  CHECK(go_escape_path("github.com/Azure/azure-sdk") == "github.com/!azure/azure-sdk");
  CHECK(go_escape_path("golang.org/x/text") == "golang.org/x/text");
}

TEST_CASE("Installed npm packages: node_modules manifests, scoped and nested, nothing else",
          "[scan][lockfile][npm]") {
  using namespace airheal;
  for (auto p : {"app/node_modules/minimist/package.json",
                 "usr/lib/node_modules/npm/node_modules/semver/package.json",
                 "app/node_modules/@types/node/package.json",
                 "app/node_modules/a/node_modules/@scope/b/package.json"}) {
    INFO(p);
    CHECK(scan::node_package_path(p));
    CHECK(scan::classify_path(p) == "node-package");
  }
  for (auto p : {"app/package.json", "app/node_modules/package.json",
                 "app/node_modules/minimist/test/package.json",
                 "app/node_modules/@scope/package.json", "app/node_modules/.bin/package.json",
                 "usr/share/nodejs/minimist/package.json", "node_modules/@/x/package.json"}) {
    INFO(p);
    CHECK_FALSE(scan::node_package_path(p));
  }
  std::vector<std::string> problems;
  auto text =
      fs::read_file(test::source_dir() / "tests/data/npm/minimist-1.2.5/package.json", 1 << 20);
  REQUIRE(text);
  auto real = scan::parse_node_package(*text, problems);
  REQUIRE(real);
  CHECK(real->name == "minimist");
  CHECK(real->version == "1.2.5");
  CHECK(problems.empty());
  for (auto bad : {"", "[]", "{\"name\": \"x\"}", "{\"name\": 1, \"version\": \"1.0.0\"}",
                   "{\"name\": \"a b\", \"version\": \"1.0.0\"}",
                   "{\"name\": \"x\", \"version\": \"file:../x\"}"}) {
    INFO(bad);
    problems.clear();
    CHECK_FALSE(scan::parse_node_package(bad, problems));
    CHECK(problems.size() == 1);
  }
  std::string deep(200, '[');
  problems.clear();
  CHECK_FALSE(scan::parse_node_package("{\"name\": \"x\", \"version\": \"1.0.0\", \"a\": " + deep,
                                       problems));
}

TEST_CASE("Installed Python distributions: dist-info and egg-info metadata in site-packages",
          "[scan][lockfile][pypi]") {
  using namespace airheal;
  for (auto p : {"usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO",
                 "app/.venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
                 "usr/lib/python3/dist-packages/PyYAML-5.3.1.egg-info",
                 "usr/local/lib/python3.11/site-packages/Jinja2-3.1.2.dist-info/METADATA"}) {
    INFO(p);
    CHECK(scan::python_package_path(p));
    CHECK(scan::classify_path(p) == "python-package");
  }
  for (auto p :
       {"usr/lib/python3/dist-packages/requests/__init__.py",
        "usr/lib/python3/dist-packages/requests-2.28.1.egg-info/RECORD",
        "usr/lib/python3/dist-packages/x/y-1.0.dist-info/METADATA",
        "srv/requests-2.31.0.dist-info/METADATA", "usr/lib/python3/dist-packages/.egg-info"}) {
    INFO(p);
    CHECK_FALSE(scan::python_package_path(p));
  }
  std::vector<std::string> problems;
  auto text = fs::read_file(
      test::source_dir() / "tests/data/pypi/requests-2.28.1.egg-info/PKG-INFO", 1 << 20);
  REQUIRE(text);
  auto real = scan::parse_python_metadata(*text, problems);
  REQUIRE(real);
  CHECK(real->name == "requests");
  CHECK(real->version == "2.28.1");
  CHECK(problems.empty());
  // Headers end at the first blank line: a "Version:" in the description is not the version.
  auto later = scan::parse_python_metadata("Name: x\r\n\r\nVersion: 9\n", problems);
  CHECK_FALSE(later);
  for (auto bad : {"", "Name: \nVersion: 1.0\n", "Name: a b\nVersion: 1.0\n",
                   "Name: x\nVersion: 1 0\n", "no headers at all"}) {
    INFO(bad);
    problems.clear();
    CHECK_FALSE(scan::parse_python_metadata(bad, problems));
    CHECK(problems.size() == 1);
  }
  problems.clear();
  CHECK_FALSE(scan::parse_python_metadata(std::string(2 << 20, 'x'), problems));
}
