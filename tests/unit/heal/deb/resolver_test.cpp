// The resolver against cases written as data (tests/data/debian/resolver/*.case): real package
// databases and real archive builds, each case saying what it asks and what must come out.
//
//   installed FILE | pool FILE            a dpkg status file / a Packages file in tests/data/debian
//   installed-stanza | pool-stanza        a made-up paragraph (indented lines after it), for cases
//                                         real data cannot show here (the case says why)
//   installed-set PACKAGE FIELD VALUE     changes one field of an installed package
//   pool-without PACKAGE                  removes a package from the pool
//   request SOURCE FIXED                  a source with findings fixed in FIXED
//   request-all-newer                     every installed source with a newer pool build
//   expect-choices N | expect-deferred-count N
//   expect-choice PACKAGE VERSION [NEEDED-BY...]   chosen (with that text in needed_by)
//   expect-no-choice PACKAGE
//   expect-deferred SOURCE REASON...      deferred, the reason holding that text
//   expect-not-deferred SOURCE
#include "heal/deb/resolver.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/fs.hpp"
#include "support/test_support.hpp"
#include "version/version.hpp"

using namespace airheal;
using namespace airheal::heal::deb;
namespace fsys = std::filesystem;

namespace {

fsys::path data_dir() { return fsys::path(AIRHEAL_SOURCE_DIR) / "tests/data/debian"; }

std::vector<Package> packages_of(const std::string& text) {
  auto paras = parse_paragraphs(text);
  REQUIRE(paras);
  std::vector<Package> out;
  for (const auto& p : *paras) {
    auto pkg = package_from(p);
    INFO(p.text());
    REQUIRE(pkg);
    out.push_back(std::move(*pkg));
  }
  return out;
}

std::string rest_of(std::istringstream& ls) {
  std::string rest;
  std::getline(ls, rest);
  auto b = rest.find_first_not_of(' ');
  return b == std::string::npos ? "" : rest.substr(b);
}

void run_case(const fsys::path& file) {
  std::ifstream in(file);
  REQUIRE(in);
  ResolveInput input;
  input.architecture = "amd64";
  struct Expect {
    std::string kind, a, b, c;
  };
  std::vector<Expect> expects;
  bool all_newer = false;
  std::string line, stanza_target, stanza;
  auto flush_stanza = [&] {
    if (stanza_target.empty()) return;
    auto pkgs = packages_of(stanza);
    auto& into = stanza_target == "installed" ? input.installed : input.pool;
    into.insert(into.end(), pkgs.begin(), pkgs.end());
    stanza_target.clear();
    stanza.clear();
  };
  while (std::getline(in, line)) {
    if (!stanza_target.empty() && line.rfind("  ", 0) == 0) {
      stanza += line.substr(2) + "\n";
      continue;
    }
    flush_stanza();
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string kw;
    ls >> kw;
    if (kw == "installed" || kw == "pool") {
      std::string f;
      ls >> f;
      auto pkgs = packages_of(*fs::read_file(data_dir() / f, 64 << 20));
      auto& into = kw == "installed" ? input.installed : input.pool;
      into.insert(into.end(), pkgs.begin(), pkgs.end());
    } else if (kw == "installed-stanza" || kw == "pool-stanza") {
      stanza_target = kw == "installed-stanza" ? "installed" : "pool";
    } else if (kw == "installed-set") {
      std::string pkg, field;
      ls >> pkg >> field;
      auto value = rest_of(ls);
      bool found = false;
      for (auto& p : input.installed)
        if (p.name == pkg) {
          found = true;
          if (field == "Status")
            p.status = value;
          else
            FAIL("installed-set supports Status only");
        }
      REQUIRE(found);
    } else if (kw == "pool-without") {
      std::string pkg;
      ls >> pkg;
      auto before = input.pool.size();
      std::erase_if(input.pool, [&](const Package& p) { return p.name == pkg; });
      REQUIRE(input.pool.size() < before);
    } else if (kw == "request") {
      SourceRequest r;
      ls >> r.source >> r.fixed;
      r.ids = {"TEST-" + r.source};
      input.requests.push_back(r);
    } else if (kw == "request-all-newer") {
      all_newer = true;
    } else if (kw.rfind("expect-", 0) == 0) {
      Expect e{kw, "", "", ""};
      ls >> e.a;
      if (kw == "expect-choice") ls >> e.b;
      e.c = rest_of(ls);
      expects.push_back(e);
    } else {
      FAIL(file.filename().string() << ": unknown keyword " << kw);
    }
  }
  flush_stanza();
  if (all_newer) {
    std::map<std::string, std::string>
        newest;  // source -> highest newer source version in the pool
    for (const auto& i : input.installed) {
      if (!i.installed()) continue;
      for (const auto& p : input.pool)
        if (p.name == i.name && version::compare_dpkg(p.version, i.version).value_or(0) > 0 &&
            (!newest.count(i.source) ||
             version::compare_dpkg(p.source_version, newest[i.source]).value_or(0) > 0))
          newest[i.source] = p.source_version;
    }
    for (const auto& [s, v] : newest) input.requests.push_back({s, v, {"TEST-" + s}});
    REQUIRE_FALSE(input.requests.empty());
  }

  auto res = resolve(input);
  std::ostringstream got;
  for (const auto& c : res.choices)
    got << "choice " << input.pool[c.pool].id() << " for " << c.origin
        << (c.needed_by.empty() ? "" : " (" + c.needed_by + ")") << "\n";
  for (const auto& d : res.deferred) got << "deferred " << d.source << ": " << d.reason << "\n";
  INFO(file.filename().string() << "\n" << got.str());
  auto choice = [&](const std::string& name) -> const Choice* {
    for (const auto& c : res.choices)
      if (input.pool[c.pool].name == name) return &c;
    return nullptr;
  };
  auto deferral = [&](const std::string& source) -> const Deferral* {
    for (const auto& d : res.deferred)
      if (d.source == source) return &d;
    return nullptr;
  };
  for (const auto& e : expects) {
    INFO(e.kind << " " << e.a << " " << e.b << " " << e.c);
    if (e.kind == "expect-choices")
      CHECK(res.choices.size() == std::stoul(e.a));
    else if (e.kind == "expect-deferred-count")
      CHECK(res.deferred.size() == std::stoul(e.a));
    else if (e.kind == "expect-choice") {
      auto c = choice(e.a);
      REQUIRE(c);
      CHECK(input.pool[c->pool].version == e.b);
      if (!e.c.empty()) CHECK(c->needed_by.find(e.c) != std::string::npos);
    } else if (e.kind == "expect-no-choice")
      CHECK_FALSE(choice(e.a));
    else if (e.kind == "expect-deferred") {
      auto d = deferral(e.a);
      REQUIRE(d);
      CHECK(d->reason.find(e.c) != std::string::npos);
    } else if (e.kind == "expect-not-deferred")
      CHECK_FALSE(deferral(e.a));
    else
      FAIL("unknown expectation " << e.kind);
  }
  // Whatever the case, every chosen build upgrades (never downgrades) what is installed.
  for (const auto& c : res.choices)
    for (const auto& i : input.installed)
      if (i.name == input.pool[c.pool].name && i.installed())
        CHECK(version::compare_dpkg(input.pool[c.pool].version, i.version).value_or(0) > 0);
}

}  // namespace

TEST_CASE("The Debian resolver settles each case of tests/data/debian/resolver as the case says",
          "[heal][deb][resolver]") {
  std::vector<fsys::path> files;
  for (const auto& e : fsys::directory_iterator(data_dir() / "resolver"))
    if (e.path().extension() == ".case") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 6);
  for (const auto& f : files) {
    DYNAMIC_SECTION(f.filename().string()) { run_case(f); }
  }
}
