// What airheal-builder (root) leaves in a work folder goes to airheald's user: everything under
// the folder, never what a symbolic or hard link points at outside it.
#include "builder/handover.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;
namespace fsys = std::filesystem;

namespace {
struct stat lstat_of(const fsys::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st;
}
void write(const fsys::path& p, const std::string& s) {
  fsys::create_directories(p.parent_path());
  std::ofstream(p) << s;
}
}  // namespace

TEST_CASE("hand_over gives a work folder's entries to the requester and nothing outside",
          "[builder][handover]") {
  AIRHEAL_REQUIRE_ROOT("needs root to own and give away files");
  test::TempDir t;
  auto work = t / "work";
  write(work / "out" / "blobs" / "sha256" / "ab", "layer");
  write(work / "scratch" / "cache" / "deep" / "file", "x");
  write(t / "outside" / "secret", "root's");
  fsys::create_symlink(t / "outside" / "secret", work / "scratch" / "link");
  fsys::create_directory_symlink(t / "outside", work / "scratch" / "dirlink");
  fsys::create_hard_link(t / "outside" / "secret", work / "scratch" / "hard");

  REQUIRE(builder::hand_over(work, 65534, 65534));
  for (const auto* rel : {"out", "out/blobs/sha256/ab", "scratch/cache/deep",
                          "scratch/cache/deep/file", "scratch/link", "scratch/dirlink"}) {
    INFO(rel);
    CHECK(lstat_of(work / rel).st_uid == 65534);
    CHECK(lstat_of(work / rel).st_gid == 65534);
  }
  // The links themselves changed hands; what they point at did not.
  CHECK(lstat_of(t / "outside" / "secret").st_uid == 0);
  CHECK(lstat_of(t / "outside").st_uid == 0);
  CHECK(lstat_of(work / "scratch" / "hard").st_uid == 0);  // a second name for an outside file
  CHECK(lstat_of(work).st_uid == 0);                       // the folder itself is the requester's
}

TEST_CASE("hand_over refuses absurd nesting and a missing or linked work folder",
          "[builder][handover]") {
  AIRHEAL_REQUIRE_ROOT("needs root");
  test::TempDir t;
  auto work = t / "work";
  auto deep = work;
  for (int i = 0; i < 10; ++i) deep /= "d";
  fsys::create_directories(deep);
  auto st = builder::hand_over(work, 65534, 65534, 5);
  REQUIRE_FALSE(st);
  CHECK_THAT(st.error().message, Catch::Contains("nested deeper than 5"));
  CHECK_FALSE(builder::hand_over(t / "missing", 65534, 65534));
  fsys::create_directory_symlink(work, t / "alias");
  auto linked = builder::hand_over(t / "alias", 65534, 65534);
  REQUIRE_FALSE(linked);
  CHECK_THAT(linked.error().message, Catch::Contains("cannot open the work folder"));
}

TEST_CASE("hand_over_folder lends the work folder itself too, and takes no symbolic link for it",
          "[builder][handover]") {
  AIRHEAL_REQUIRE_ROOT("needs root to own and give away files");
  test::TempDir t;
  auto work = t / "work";
  write(work / "in" / "index.json", "{}");
  REQUIRE(builder::hand_over_folder(work, 65534, 65534));
  CHECK(lstat_of(work).st_uid == 65534);
  CHECK(lstat_of(work / "in" / "index.json").st_uid == 65534);
  REQUIRE(builder::hand_over_folder(work, 0, 0));  // and back
  CHECK(lstat_of(work).st_uid == 0);
  CHECK(lstat_of(work / "in").st_uid == 0);
  fsys::create_directory_symlink(work, t / "link");
  CHECK_FALSE(builder::hand_over_folder(t / "link", 65534, 65534));
  CHECK(lstat_of(work).st_uid == 0);
}
