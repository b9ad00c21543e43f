// The Debian package family behind the PackageFamily interface, on real packages: .debs of this
// host's installed versions downloaded from Debian's archive, and this host's own dpkg database.
// Where a test needs an image's older record (a distroless status.d stanza, its md5sums), that
// record is made up here and says so.
#include "heal/deb/dpkg_family.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "scan/layer.hpp"
#include "support/heal_fixtures.hpp"
#include "support/scan_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;
using namespace airheal::test;
namespace fsys = std::filesystem;

namespace {

// The version Debian's archive offers this host (apt's candidate): this host's own build may
// since have been superseded and no longer be downloadable.
std::string archive_version(const std::string& package) {
  auto r = run_ok({"apt-cache", "show", "--no-all-versions", package});
  auto at = r.out.find("\nVersion: ");
  REQUIRE(at != std::string::npos);
  at += 10;
  return r.out.substr(at, r.out.find('\n', at) - at);
}

PackagePin pin_of(const std::string& name, const fsys::path& deb, const std::string& record = "") {
  PackagePin p;
  p.name = name;
  p.version = archive_version(name);
  p.architecture = "amd64";
  p.digest = Sha256::of_file(deb)->str();
  p.record = record;
  return p;
}

const PackageFamily& dpkg() {
  const auto* f = package_family("dpkg");
  REQUIRE(f);
  return *f;
}

}  // namespace

TEST_CASE("The dpkg family is found by name, orders Debian versions and knows its database",
          "[heal][deb]") {
  CHECK(package_family("dpkg") != nullptr);
  CHECK(package_family("apk") != nullptr);
  CHECK(package_family("rpm") != nullptr);
  CHECK(package_family("pacman") == nullptr);  // no such family
  CHECK(dpkg().name() == "dpkg");
  CHECK(*dpkg().compare_versions("1:1.2", "2.0") > 0);  // the epoch wins
  CHECK(*dpkg().compare_versions("3.0.15-1~deb12u1", "3.0.15-1") < 0);
  CHECK(*dpkg().compare_versions("1.0", "1.0") == 0);
  CHECK_FALSE(dpkg().compare_versions("not a version!", "1.0"));
  CHECK(dpkg().database_path("var/lib/dpkg"));
  CHECK(dpkg().database_path("var/lib/dpkg/status.d/libssl3"));
  CHECK_FALSE(dpkg().database_path("var/lib/dpkgx/status"));
  CHECK_FALSE(dpkg().database_path("usr/lib/dpkg"));
  // Paths are normalised; one that climbs out of the image root is left out.
  CHECK(deb::md5sums_paths("0123456789abcdef0123456789abcdef  "
                           "usr/bin/x\nshort\n0123456789abcdef0123456789abcdef  ./etc/y\n"
                           "0123456789abcdef0123456789abcdef  ../../etc/shadow\n") ==
        std::set<std::string>{"usr/bin/x", "etc/y"});
}

TEST_CASE("The dpkg family reads a real .deb and refuses one that is not what its pin says",
          "[heal][deb]") {
  auto deb = download_deb("bash", archive_version("bash"));
  auto pin = pin_of("bash", deb);
  auto fp = dpkg().read_package(pin, deb);
  REQUIRE(fp);
  CHECK(fp->name == "bash");
  CHECK(fp->version == pin.version);
  CHECK(fp->architecture == "amd64");
  CHECK(fp->file_name == "bash_" + pin.version + "_amd64.deb");
  CHECK(fp->metadata.find("Package: bash\n") != std::string::npos);
  CHECK(fp->size == fsys::file_size(deb));
  auto paths = dpkg().package_paths(deb);
  REQUIRE(paths);
  CHECK(paths->count("bin/bash"));

  auto wrong = pin;
  wrong.version = "9.9-9";
  auto refused = dpkg().read_package(wrong, deb);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message == "the imported file for bash 9.9-9 is bash " + pin.version);

  TempDir t;
  std::ofstream(t / "junk.deb") << "!<arch>\nnot a package";
  CHECK_FALSE(dpkg().read_package(pin, t / "junk.deb"));
}

TEST_CASE(
    "A tool install runs the image's apt-get, or dpkg calls in Pre-Depends order, from a local "
    "repository",
    "[heal][deb]") {
  TempDir t;
  // bash Pre-Depends on libtinfo6: dpkg must install libtinfo6 in an earlier call.
  auto bash = download_deb("bash", archive_version("bash"));
  auto tinfo = download_deb("libtinfo6", archive_version("libtinfo6"));
  Plan plan;
  plan.packages = {pin_of("bash", bash), pin_of("libtinfo6", tinfo)};
  std::vector<FixedPackage> fixed;
  for (std::size_t i = 0; i < plan.packages.size(); ++i) {
    auto fp = dpkg().read_package(plan.packages[i], i ? tinfo : bash);
    REQUIRE(fp);
    fp->sha256 = plan.packages[i].digest.substr(7);
    fixed.push_back(*fp);
  }

  SECTION("apt") {
    plan.installer = "apt";
    plan.apt_mark_auto = {"libtinfo6"};
    auto install = dpkg().tool_install(plan, fixed, t / "repo", t / "scratch", 1764460800);
    REQUIRE(install);
    CHECK(install->tool == "apt");
    auto index = fs::read_file(t / "repo" / "Packages", 1 << 20);
    REQUIRE(index);
    CHECK(index->find("Package: bash\n") != std::string::npos);
    CHECK(index->find("SHA256: " + fixed[1].sha256) != std::string::npos);
    REQUIRE(install->mounts.size() == 2);
    CHECK((install->mounts[0].host == t / "repo" && install->mounts[0].target == deb::kRepoMount &&
           install->mounts[0].read_only));
    CHECK((install->mounts[1].host == t / "scratch" &&
           install->mounts[1].target == deb::kAptStateMount && !install->mounts[1].read_only));
    CHECK(fsys::is_directory(t / "scratch" / "lists" / "partial"));
    CHECK(install->setup.size() == 3);
    REQUIRE(install->commands.size() == 3);
    CHECK(install->commands[0].front() == "apt-get");
    CHECK(install->commands[0].back() == "update");
    const auto& add = install->commands[1];
    CHECK(std::find(add.begin(), add.end(), "--no-remove") != add.end());
    CHECK(std::find(add.begin(), add.end(), "bash:amd64=" + plan.packages[0].version) != add.end());
    CHECK(std::find(add.begin(), add.end(), "libtinfo6:amd64=" + plan.packages[1].version) !=
          add.end());
    CHECK(install->commands[2].front() == "apt-mark");
    CHECK(install->commands[2].back() == "libtinfo6");
    CHECK(std::find(install->env.begin(), install->env.end(), "DEBIAN_FRONTEND=noninteractive") !=
          install->env.end());
  }
  SECTION("dpkg") {
    plan.installer = "dpkg";
    auto install = dpkg().tool_install(plan, fixed, t / "repo", {}, 1764460800);
    REQUIRE(install);
    CHECK(install->tool == "dpkg");
    REQUIRE(install->mounts.size() == 1);
    REQUIRE(install->commands.size() == 2);
    CHECK(install->commands[0].back() == std::string(deb::kRepoMount) + "/" + fixed[1].file_name);
    CHECK(install->commands[1].back() == std::string(deb::kRepoMount) + "/" + fixed[0].file_name);
    CHECK(install->note == "dpkg: 2 call(s), each package after the packages it pre-depends on");
    CHECK(fsys::exists(t / "repo" / fixed[0].file_name));
  }
  SECTION("the plan's packages must all have been read") {
    fixed.pop_back();
    CHECK_FALSE(dpkg().tool_install(plan, fixed, t / "repo", {}, 0));
  }
}

TEST_CASE(
    "Files written for a distroless image: the package's files, its status.d record replaced, "
    "md5sums and whiteouts",
    "[heal][deb]") {
  TempDir t;
  auto deb = download_deb("zlib1g", archive_version("zlib1g"));
  auto pin = pin_of("zlib1g", deb, "var/lib/dpkg/status.d/zlib1g");
  Plan plan;
  plan.packages = {pin};
  auto fp = dpkg().read_package(pin, deb);
  REQUIRE(fp);
  // Made up: the image's older record (two stanzas in one file, as some distroless images keep
  // them) and an md5sums naming a file the fixed build no longer ships.
  auto image = image_in_memory({{"var/lib/dpkg/status.d/zlib1g",
                                 "Package: zlib1g\nVersion: 1:1.2.11.dfsg-0\nArchitecture: "
                                 "amd64\n\nPackage: other\nVersion: 1\n"},
                                {"var/lib/dpkg/status.d/zlib1g.md5sums",
                                 "0123456789abcdef0123456789abcdef  usr/lib/libz-old.so.1\n"},
                                {"usr/lib/libz-old.so.1", "old"}});
  LayerWriter w(t / "layer");
  REQUIRE(dpkg().write_files(plan, {*fp}, image, w));
  auto blob = w.finish();
  REQUIRE(blob);
  auto inv = scan::read_layer(blob->file);
  REQUIRE(inv);
  std::set<std::string> files;
  for (const auto& f : inv->files) files.insert(f.path);
  auto real_paths = *dpkg().package_paths(deb);
  for (const auto& p : real_paths) CHECK(files.count(p));
  auto record = scan::read_layer_file(blob->file, "var/lib/dpkg/status.d/zlib1g", 1 << 20);
  REQUIRE(record);
  CHECK(record->find("Version: " + pin.version + "\n") != std::string::npos);
  CHECK(record->find("Package: other\nVersion: 1\n") !=
        std::string::npos);  // the other stanza, as it was
  auto sums = scan::read_layer_file(blob->file, "var/lib/dpkg/status.d/zlib1g.md5sums", 1 << 20);
  REQUIRE(sums);
  CHECK(deb::md5sums_paths(*sums) == real_paths);
  CHECK(inv->whiteouts == std::vector<std::string>{"usr/lib/libz-old.so.1"});

  // A record the image cannot read is an error, not a layer with a half-written database.
  auto broken = image_in_memory({{"var/lib/dpkg/status.d/zlib1g", "this is not a stanza"}});
  LayerWriter w2(t / "layer2");
  CHECK_FALSE(dpkg().write_files(plan, {*fp}, broken, w2));
}

TEST_CASE(
    "The installed database is read from this host's real dpkg status, or from status.d records",
    "[heal][deb]") {
  auto status = fs::read_file("/var/lib/dpkg/status", 64 << 20);
  REQUIRE(status);
  std::map<std::string, std::string> files{{"var/lib/dpkg/status", *status},
                                           {"usr/bin/apt-get", "ELF"}};
  if (auto es = fs::read_file("/var/lib/apt/extended_states", 16 << 20))
    files["var/lib/apt/extended_states"] = *es;
  auto db = deb::DpkgFamily::read_database(image_in_memory(files), true);
  REQUIRE(db);
  auto listed = run_ok({"dpkg-query", "-W", "-f=${Package}\n"});
  CHECK(db->packages.size() ==
        static_cast<std::size_t>(std::count(listed.out.begin(), listed.out.end(), '\n')));
  CHECK(db->apt);
  CHECK(db->architecture == "amd64");
  CHECK(db->record.empty());

  // Made up: a distroless image's status.d, one record airheal cannot read (left out) and one it
  // can.
  auto distroless =
      image_in_memory({{"var/lib/dpkg/status.d/libc6",
                        "Package: libc6\nVersion: 2.36-9+deb12u10\nArchitecture: amd64\n"},
                       {"var/lib/dpkg/status.d/libc6.md5sums",
                        "0123456789abcdef0123456789abcdef  usr/lib/libc.so.6\n"},
                       {"var/lib/dpkg/status.d/bad", "Package: bad\nVersion: !!\n"}});
  auto d = deb::DpkgFamily::read_database(distroless, false);
  REQUIRE(d);
  REQUIRE(d->packages.size() == 1);
  CHECK(d->packages[0].name == "libc6");
  CHECK(d->record.at("libc6") == "var/lib/dpkg/status.d/libc6");
  CHECK_FALSE(d->apt);

  // A status file that is not dpkg's format is an error.
  CHECK_FALSE(deb::DpkgFamily::read_database(
      image_in_memory({{"var/lib/dpkg/status", std::string(10, '\0')}}), true));
  CHECK_FALSE(deb::DpkgFamily::read_database(image_in_memory({}), true));
}
