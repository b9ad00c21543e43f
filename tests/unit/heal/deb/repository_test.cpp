#include "heal/deb/repository.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "support/scan_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal::deb;
using namespace airheal::test;
namespace fsys = std::filesystem;

namespace {
// A small .deb built here with dpkg-deb (made up: the real archive's packages go through this
// code in the heal integration tests). EXTRA lines go into its control file.
fsys::path make_deb(const fsys::path& dir, const std::string& name, const std::string& version,
                    const std::string& extra = "") {
  auto root = dir / ("src-" + name);
  fsys::create_directories(root / "DEBIAN");
  fsys::create_directories(root / "usr/share" / name);
  std::ofstream(root / "usr/share" / name / "README") << name << " " << version << "\n";
  std::ofstream(root / "DEBIAN/control")
      << "Package: " << name << "\nVersion: " << version
      << "\nArchitecture: all\nMaintainer: airheal tests <t@airheal.invalid>\n"
      << extra << "Description: test package\n a made-up package for repository tests\n";
  auto out = dir / (name + ".deb");
  run_ok({"dpkg-deb", "--root-owner-group", "--build", root.string(), out.string()});
  return out;
}

RepositoryPackage entry(const fsys::path& deb) {
  auto ctl = run_ok({"dpkg-deb", "-f", deb.string()}).out;
  auto paras = parse_paragraphs(ctl);
  REQUIRE(paras);
  std::uint64_t size = 0;
  auto d = Sha256::of_file(deb, &size);
  REQUIRE(d);
  return RepositoryPackage{paras->front(), deb, size, d->hex()};
}
}  // namespace

TEST_CASE("The local repository is read by the real apt, which checks each package's hash",
          "[heal][deb][apt]") {
  if (!have_program("apt-get")) FAIL("apt-get is needed");
  TempDir tmp;
  auto a = make_deb(tmp.path(), "airheal-test-one", "1:2.0-1");
  // A control file that tries to set the index's own fields: they are replaced, not trusted.
  auto b =
      make_deb(tmp.path(), "airheal-test-two", "3.1", "Filename: ../../etc/passwd\nSHA256: 00\n");
  auto repo = tmp / "repo";
  REQUIRE(write_repository(repo, repo.string(), {entry(a), entry(b)}, 1796083200));
  auto index = *fs::read_file(repo / "Packages", 1 << 20);
  CHECK(index.find("Filename: ./airheal-test-one_1%2.0-1_all.deb") != std::string::npos);
  CHECK(index.find("../../etc/passwd") == std::string::npos);
  CHECK(index.find("SHA256: 00\n") == std::string::npos);
  CHECK(fs::read_file(repo / "Release", 1 << 20)->find("Date: Tue, 01 Dec 2026 00:00:00 UTC") !=
        std::string::npos);

  // The host's apt, pointed at the repository and at scratch state only.
  fsys::create_directories(tmp / "state/lists/partial");
  fsys::create_directories(tmp / "cache/archives/partial");
  std::ofstream(tmp / "status").close();
  std::vector<std::string> apt = {"apt-get",
                                  "-o",
                                  "Dir::State::status=" + (tmp / "status").string(),
                                  "-o",
                                  "Debug::NoLocking=1",
                                  "-o",
                                  "APT::Sandbox::User=root"};
  for (auto& o : apt_options(repo.string(), tmp.path().string())) apt.push_back(o);
  for (auto& o :
       std::vector<std::string>{"-o", "Dir::State::Lists=" + (tmp / "state/lists").string(), "-o",
                                "Dir::Cache=" + (tmp / "cache").string()})
    apt.push_back(o);
  auto update = apt;
  update.push_back("update");
  run_ok(update);
  auto download = apt;
  for (auto x : {"download", "airheal-test-one=1:2.0-1", "airheal-test-two=3.1"})
    download.push_back(x);
  fsys::create_directories(tmp / "dl");
  download.insert(download.begin(), {"env", "--chdir=" + (tmp / "dl").string()});
  run_ok(download);
  CHECK(fsys::exists(tmp / "dl" / "airheal-test-two_3.1_all.deb"));

  // A .deb that does not match its index entry is refused by apt (hash mismatch).
  std::ofstream(repo / "airheal-test-two_3.1_all.deb", std::ios::app) << "tampered";
  fsys::remove(tmp / "dl" / "airheal-test-two_3.1_all.deb");
  auto again = apt;
  for (auto x : {"download", "airheal-test-two=3.1"}) again.push_back(x);
  again.insert(again.begin(), {"env", "--chdir=" + (tmp / "dl").string()});
  auto r = run(again);
  CHECK(r.exit_code != 0);
  auto said = r.out + r.err;
  INFO(said);
  CHECK((said.find("Hash Sum mismatch") != std::string::npos ||
         said.find("Size mismatch") != std::string::npos));
}

TEST_CASE("Package file names refuse what is not a name, a version and an architecture",
          "[heal][deb][hostile]") {
  for (auto [text, ok] : std::vector<std::pair<std::string, bool>>{
           {"Package: libssl3\nVersion: 3.0.22-1~deb12u2\nArchitecture: amd64\n", true},
           {"Package: libssl3\nVersion: 3.0.22\nArchitecture: ../x\n", false},
           {"Package: ../x\nVersion: 1\nArchitecture: all\n", false},
           {"Package: good\nVersion: 1/2\nArchitecture: all\n", false}}) {
    auto p = parse_paragraphs(text);
    REQUIRE(p);
    CHECK(bool(deb_file_name(p->front())) == ok);
  }
}
