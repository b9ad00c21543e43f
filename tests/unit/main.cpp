#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "core/archive_path.hpp"

// The test binaries run in the locale every airheal executable sets for itself.
int main(int argc, char* argv[]) {
  airheal::use_utf8_ctype();
  return Catch::Session().run(argc, argv);
}
