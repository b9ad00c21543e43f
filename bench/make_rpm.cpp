// The rpm fixtures of bench/heal.sh's rpm case, made with the same helpers the tests use (the
// made-up "greet" packages built by the host's rpmbuild; tests/support/rpm_fixtures.hpp):
//   make_rpm OUT_DIR
// writes OUT_DIR/rpms/ (every greet package), OUT_DIR/repo/ (the image's packages, with
// createrepo_c repodata) and OUT_DIR/root/ (an image root made by the host's dnf from that
// repository, with the host's dnf copied in).
#include <cstdio>
#include <filesystem>

#include "support/rpm_fixtures.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_rpm OUT_DIR\n");
    return 2;
  }
  namespace fsys = std::filesystem;
  fsys::path out = argv[1];
  try {
    auto rpms = airheal::test::build_greet_rpms(out / "rpmbuild");
    fsys::create_directories(out / "rpms");
    fsys::create_directories(out / "repo");
    for (const auto& f : {rpms.base, rpms.libgreet_old, rpms.libgreet_new, rpms.data, rpms.app})
      fsys::copy_file(f, out / "rpms" / f.filename(), fsys::copy_options::overwrite_existing);
    for (const auto& f : {rpms.base, rpms.libgreet_old, rpms.app})
      fsys::copy_file(f, out / "repo" / f.filename(), fsys::copy_options::overwrite_existing);
    airheal::test::create_rpm_repo(out / "repo");
    airheal::test::make_rpm_root(out / "root", out / "repo",
                                 {"greet-base", "libgreet", "greet-app"}, "rocky", "9.3");
    airheal::test::add_host_dnf(out / "root");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_rpm: %s\n", e.what());
    return 1;
  }
  return 0;
}
