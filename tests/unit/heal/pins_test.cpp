#include "heal/pins.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("Subresource Integrity of an npm tarball is sha512 in base64", "[heal][pins]") {
  // openssl dgst -sha512 -binary | base64
  CHECK(heal::sri_sha512("abc") ==
        "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/"
        "uu9RU1EI2Q86A4qmslPpUyknw==");
}

TEST_CASE("The go.mod of a module zip is found at module@version/go.mod", "[heal][pins]") {
  test::TempDir dir;
  auto src = dir.path() / "src" / "golang.org" / "x" / "text@v0.3.8";
  std::filesystem::create_directories(src / "language");
  std::ofstream(src / "go.mod") << "module golang.org/x/text\n\ngo 1.17\n";
  std::ofstream(src / "language" / "language.go") << "package language\n";
  auto zip = dir.path() / "m.zip";
  auto cmd =
      "cd '" + (dir.path() / "src").string() + "' && zip -qr '" + zip.string() + "' golang.org";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto mod = heal::go_mod_from_zip(zip, "golang.org/x/text", "v0.3.8");
  REQUIRE(mod);
  CHECK(*mod == "module golang.org/x/text\n\ngo 1.17\n");
  CHECK_FALSE(heal::go_mod_from_zip(zip, "golang.org/x/text", "v0.3.9"));
  CHECK_FALSE(heal::go_mod_from_zip(dir.path() / "missing.zip", "golang.org/x/text", "v0.3.8"));
}
