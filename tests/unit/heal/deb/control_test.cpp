#include "heal/deb/control.hpp"

#include <catch2/catch.hpp>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal::deb;

namespace {
std::string data(const std::string& name) {
  auto t = fs::read_file(std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/debian/" + name, 64 << 20);
  REQUIRE(t);
  return *t;
}
}  // namespace

TEST_CASE("Relationship fields parse as Debian Policy 7.1 writes them", "[heal][deb]") {
  struct Case {
    const char* field;
    const char* canonical;  // each group's text joined by ", "; empty: must be refused
  };
  // Real fields from bookworm packages first, then the corners of the grammar.
  const Case cases[] = {
      {"libc6 (>= 2.34), libgcc-s1 (>= 3.0), libgnutls30 (>= 3.7.5)",
       "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libgnutls30 (>= 3.7.5)"},
      {"adduser, gpgv | gpgv2 | gpgv1, libapt-pkg6.0 (>= 2.6.2)",
       "adduser, gpgv | gpgv2 | gpgv1, libapt-pkg6.0 (>= 2.6.2)"},
      {"libpam-modules-bin (= 1.5.2-6+deb12u3)", "libpam-modules-bin (= 1.5.2-6+deb12u3)"},
      {"libc-bin (>> 2.36), libc6 (<< 2.37)", "libc-bin (>> 2.36), libc6 (<< 2.37)"},
      {"python3:any (>= 3.2~), perl:native", "python3:any (>= 3.2~), perl:native"},
      {"debconf (>= 0.5) | debconf-2.0", "debconf (>= 0.5) | debconf-2.0"},
      {"  a1 ( >=1.0 )  ,\n b2(<<2:3-4) ", "a1 (>= 1.0), b2 (<< 2:3-4)"},
      {"foo (< 1), bar (> 2)",
       "foo (<= 1), bar (>= 2)"},  // obsolete operators keep their old meaning
      {"libfoo [amd64 i386] <!nocheck>, bar", "libfoo, bar"},
      {"a1, , b2,", "a1, b2"},
      {"", ""},
      {"Upper (>= 1)", nullptr},
      {"a1 (~= 1)", nullptr},
      {"a1 (>= not a version!)", nullptr},
      {"a1 (>= 1", nullptr},
      {"a1 | | b2", nullptr},
      {"a1 b2", nullptr},
      {"a1:x86_64", nullptr},
  };
  for (const auto& c : cases) {
    INFO("field: " << c.field);
    auto r = parse_relations(c.field);
    if (!c.canonical) {
      CHECK_FALSE(r);
      if (!r) CHECK(r.error().message.rfind("relationship field: ", 0) == 0);
      continue;
    }
    REQUIRE(r);
    std::string joined;
    for (const auto& g : *r) joined += (joined.empty() ? "" : ", ") + text(g);
    CHECK(joined == c.canonical);
  }
}

TEST_CASE("Relationship fields are bounded", "[heal][deb][hostile]") {
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "p" + std::to_string(i) + ", ";
  auto r = parse_relations(many);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("more than 4096 relations") != std::string::npos);
  std::string wide;
  for (int i = 0; i < 100; ++i) wide += "p" + std::to_string(i) + " | ";
  wide += "last";
  CHECK_FALSE(parse_relations(wide));
  CHECK_FALSE(parse_relations(std::string(2u << 20, 'a')));
}

TEST_CASE("A real dpkg status file parses into its installed packages", "[heal][deb]") {
  auto paras = parse_paragraphs(data("bookworm-realistic.status"));
  REQUIRE(paras);
  std::size_t installed = 0;
  bool saw_pam = false;
  for (const auto& p : *paras) {
    auto pkg = package_from(p);
    REQUIRE(pkg);
    if (pkg->installed()) ++installed;
    if (pkg->name == "libpam-modules") {
      saw_pam = true;
      bool bin = false;
      for (const auto& g : pkg->pre_depends)
        if (g[0].name == "libpam-modules-bin" && g[0].op == Op::eq) bin = true;
      CHECK(bin);
      CHECK(pkg->source == "pam");
    }
    if (pkg->name == "libperl5.36") CHECK(pkg->source == "perl");
  }
  CHECK(installed == 137);
  CHECK(saw_pam);
  // Written back, a paragraph reads the same.
  auto again = parse_paragraphs((*paras)[0].text());
  REQUIRE(again);
  REQUIRE(again->size() == 1);
  CHECK((*again)[0].fields() == (*paras)[0].fields());
}

TEST_CASE("Control paragraphs that dpkg would refuse are refused with the line",
          "[heal][deb][hostile]") {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {" continuation first\nPackage: a\n", "line 1: a continuation line before any field"},
      {"Package: ab\nPackage: cd\n", "line 2: field Package appears twice in one paragraph"},
      {"Package: ab\nnot a field\n", "line 2: not a field"},
      {"#comment: x\n", "line 1: not a field"},
  };
  for (const auto& c : cases) {
    auto r = parse_paragraphs(c.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(c.error) != std::string::npos);
  }
  CHECK_FALSE(parse_paragraphs(std::string(100, 'a'), 50));
  // Package fields are checked too.
  auto p = parse_paragraphs("Package: ../../etc\nVersion: 1\n");
  REQUIRE(p);
  CHECK_FALSE(package_from((*p)[0]));
  auto v = parse_paragraphs("Package: good\nVersion: 1 2\n");
  REQUIRE(v);
  CHECK_FALSE(package_from((*v)[0]));
}

TEST_CASE("Satisfaction follows dpkg: versions, Provides and architecture qualifiers",
          "[heal][deb]") {
  auto paras = parse_paragraphs(
      "Package: apt\nVersion: 2.6.2\nArchitecture: amd64\nProvides: apt-transport-https (= "
      "2.6.2)\n\n"
      "Package: mawk\nVersion: 1.3.4.20200120-3.1\nArchitecture: amd64\nProvides: awk\n\n"
      "Package: tzdata\nVersion: 2026f-0+deb12u1\nArchitecture: all\n");
  REQUIRE(paras);
  auto apt = *package_from((*paras)[0]);
  auto mawk = *package_from((*paras)[1]);
  auto tz = *package_from((*paras)[2]);
  auto rel = [](const char* f) { return (*parse_relations(f))[0][0]; };
  CHECK(satisfies(rel("apt (>= 2.6)"), apt));
  CHECK_FALSE(satisfies(rel("apt (>> 2.6.2)"), apt));
  CHECK(satisfies(rel("apt-transport-https (>= 1.5~alpha4~)"), apt));
  CHECK_FALSE(satisfies(rel("apt-transport-https (>= 2.7)"), apt));
  CHECK(satisfies(rel("awk"), mawk));
  CHECK_FALSE(satisfies(rel("awk (>= 1)"),
                        mawk));  // an unversioned Provides satisfies only unversioned relations
  CHECK(satisfies(rel("apt:amd64"), apt));
  CHECK_FALSE(satisfies(rel("apt:i386"), apt));
  CHECK(satisfies(rel("apt:any"), apt));
  CHECK(satisfies(rel("tzdata:i386"), tz));  // Architecture: all serves every architecture
}
