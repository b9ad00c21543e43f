#include "audit/journal.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("the journal chains records and detects edits and removals", "[audit]") {
  test::TempDir dir;
  audit::Journal j(dir / "audit" / "journal.jsonl");
  for (int i = 0; i < 3; ++i) REQUIRE(j.append({{"type", "test"}, {"n", i}}));
  CHECK(j.verify().empty());
  auto recs = j.read_all();
  REQUIRE(recs);
  REQUIRE(recs->size() == 3);
  CHECK((*recs)[2]["seq"] == 3);

  auto text = *fs::read_file(j.file(), 1 << 20);
  auto edited = text;
  edited.replace(edited.find("\"n\":1"), 5, "\"n\":7");
  REQUIRE(fs::write_file_atomic(j.file(), edited));
  CHECK(j.verify().find("record 3") != std::string::npos);

  auto first_end = text.find('\n');
  REQUIRE(fs::write_file_atomic(j.file(), text.substr(first_end + 1)));  // the first record removed
  CHECK_FALSE(j.verify().empty());
}

TEST_CASE("a torn final line from a crash is dropped on the next append", "[audit]") {
  test::TempDir dir;
  audit::Journal j(dir / "j.jsonl");
  REQUIRE(j.append({{"type", "a"}}));
  {
    std::ofstream out(j.file(), std::ios::app);
    out << "{\"type\":\"half";
  }
  REQUIRE(j.append({{"type", "b"}}));
  CHECK(j.verify().empty());
  CHECK(j.read_all()->size() == 2);
}
