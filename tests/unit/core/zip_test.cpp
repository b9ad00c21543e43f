// ZIP reading and rewriting against Info-ZIP's zip(1) and unzip(1): archives made by zip with
// made-up entries (stored and deflated, with a comment), rewritten here, checked by unzip -t.
#include "core/zip.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("A zip entry is replaced with the others copied as they are", "[core][zip]") {
  test::TempDir dir;
  std::ofstream(dir.path() / "a.txt") << std::string(4000, 'a');
  std::ofstream(dir.path() / "b.bin") << "bee";
  std::ofstream(dir.path() / "c.txt") << std::string(3000, 'c');
  test::run_ok({"env", "--chdir=" + dir.path().string(), "zip", "-q", "-X", "z.zip", "a.txt"});
  test::run_ok(
      {"env", "--chdir=" + dir.path().string(), "zip", "-q", "-X", "-0", "z.zip", "b.bin"});
  test::run_ok({"env", "--chdir=" + dir.path().string(), "zip", "-q", "-X", "z.zip", "c.txt"});
  auto z = fs::read_file(dir.path() / "z.zip", 1 << 20);
  REQUIRE(z);
  auto read = zip::read(*z);
  REQUIRE(read);
  REQUIRE(read->entries.size() == 3);
  CHECK(read->entries[0].name == "a.txt");
  CHECK(read->entries[0].method == 8);
  CHECK(read->entries[1].method == 0);
  for (auto [name, with] :
       {std::pair{"b.bin", std::string("a new stored body")}, {"a.txt", std::string(5000, 'z')}}) {
    auto out = zip::replace_entry(*z, name, with);
    REQUIRE(out);
    CHECK(zip::entry(*out, name, 1 << 20).value() == with);
    CHECK(zip::entry(*out, "c.txt", 1 << 20).value() == std::string(3000, 'c'));
    auto again = zip::read(*out);
    REQUIRE(again);
    CHECK(again->entries[0].name == "a.txt");
    CHECK(again->entries[1].method == read->entries[1].method);
    std::ofstream(dir.path() / "out.zip", std::ios::binary) << *out;
    auto t = test::run({"unzip", "-t", (dir.path() / "out.zip").string()});
    INFO(t.out << t.err);
    CHECK(t.exit_code == 0);
  }
  CHECK(zip::entry(*z, "a.txt", 100).error().code == Errc::too_large);
  CHECK(zip::entry(*z, "none", 100).error().code == Errc::not_found);
  for (auto broken :
       {std::string(), std::string("PK\x05\x06"), z->substr(0, z->size() - 30), z->substr(20)}) {
    CHECK_FALSE(zip::read(broken));
    CHECK_FALSE(zip::replace_entry(broken, "a.txt", "x"));
  }
}
