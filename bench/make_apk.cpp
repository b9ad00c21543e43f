// Writes the apk v2 package of every package installed in an Alpine root (or of the NAMES given),
// rebuilt from that root's own files and lib/apk/db/installed records, for bench/heal.sh's Alpine
// case (the same helper the tests use; the packages are unsigned).
//   make_apk ROOT OUT_DIR [NAME...]
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/apk.hpp"
#include "support/apk_fixtures.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_apk ROOT OUT_DIR [NAME...]\n");
    return 2;
  }
  std::filesystem::path root = argv[1], out = argv[2];
  std::vector<std::string> names(argv + 3, argv + argc);
  if (names.empty()) {
    std::ifstream in(root / "lib/apk/db/installed", std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    auto recs = airheal::apk::parse_database(s.str());
    if (!recs) {
      std::fprintf(stderr, "make_apk: %s\n", recs.error().message.c_str());
      return 1;
    }
    for (const auto& r : *recs) names.push_back(r.name);
  }
  try {
    for (const auto& n : names)
      std::printf("%s\n", airheal::test::write_apk_from_root(root, n, out).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_apk: %s\n", e.what());
    return 1;
  }
  return 0;
}
