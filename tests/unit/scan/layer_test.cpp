#include "scan/layer.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "scan/inventory.hpp"
#include "scan/layer_cache_repository.hpp"
#include "store/store.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using test::RawEntry;

namespace {

const char* kOsRelease =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
    "VERSION_CODENAME=bookworm\nID=debian\n";

std::string status_para(const std::string& pkg, const std::string& version,
                        const std::string& source = "") {
  return "Package: " + pkg + "\nStatus: install ok installed\nArchitecture: amd64\n" +
         (source.empty() ? "" : "Source: " + source + "\n") + "Version: " + version +
         "\nDescription: x\n long\n\n";
}

scan::LayerInventory read(const std::filesystem::path& p) {
  auto r = scan::read_layer(p);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return std::move(*r);
}

}  // namespace

TEST_CASE("Layers merge into the final filesystem: upgrades, whiteouts and opaque directories",
          "[scan][layer]") {
  test::TempDir dir;
  auto l1 = dir.path() / "l1.tar", l2 = dir.path() / "l2.tar.zst", l3 = dir.path() / "l3.tar";
  test::write_tar(
      l1,
      {RawEntry("etc/", "", RawEntry::Type::directory), RawEntry("usr/lib/os-release", kOsRelease),
       RawEntry("etc/os-release", "", RawEntry::Type::symlink, "../usr/lib/os-release"),
       RawEntry("./var/lib/dpkg/status", status_para("libssl3", "3.0.11-1~deb12u2", "openssl") +
                                             status_para("bash", "5.2.15-2+b2", "bash (5.2.15-2)") +
                                             status_para("zlib1g", "1:1.2.13.dfsg-1", "zlib")),
       RawEntry("var/lib/dpkg/info/libssl3:amd64.list",
                "/.\n/usr\n/usr/lib/x86_64-linux-gnu/libssl.so.3\n"),
       RawEntry("var/lib/dpkg/info/bash.list",
                "/bin/bash\n/etc/bash.bashrc\n/usr/share/doc/bash\n"),
       RawEntry("usr/lib/x86_64-linux-gnu/libssl.so.3", "old ssl"), RawEntry("bin/bash", "bash"),
       RawEntry("srv/data/a", "a"), RawEntry("srv/data/b", "b"),
       RawEntry("../../etc/shadow", "escape attempt")});
  // Layer 2 upgrades libssl3 (the fix a later layer already applied), removes zlib1g.
  test::write_tar(
      l2,
      {RawEntry("var/lib/dpkg/status", status_para("libssl3", "3.0.13-1~deb12u1", "openssl") +
                                           status_para("bash", "5.2.15-2+b2", "bash (5.2.15-2)")),
       RawEntry("usr/lib/x86_64-linux-gnu/libssl.so.3", "new ssl"),
       RawEntry("usr/lib/x86_64-linux-gnu/.wh.libz.so.1", ""), RawEntry("srv/.wh.data", "")},
      true);
  // Layer 3: an opaque directory and a new file in it.
  test::write_tar(l3, {RawEntry("srv/data/.wh..wh..opq", ""), RawEntry("srv/data/c", "c")});
  auto a = read(l1), b = read(l2), c = read(l3);
  CHECK(a.problems.size() == 1);  // the escaping entry, ignored
  CHECK(a.records.count("var/lib/dpkg/status"));
  CHECK(b.whiteouts == std::vector<std::string>{"usr/lib/x86_64-linux-gnu/libz.so.1", "srv/data"});
  CHECK(c.opaque == std::vector<std::string>{"srv/data"});

  auto inv = scan::merge({"sha256:l1", "sha256:l2", "sha256:l3"}, {&a, &b, &c});
  CHECK(inv.os.id == "debian");
  CHECK(inv.os.version_id == "12");
  CHECK(inv.os.releases() == std::vector<std::string>{"12", "bookworm"});
  REQUIRE(inv.components.size() == 2);
  std::map<std::string, scan::Component> by;
  for (const auto& comp : inv.components) by[comp.name] = comp;
  CHECK(by["libssl3"].version == "3.0.13-1~deb12u1");
  CHECK(by["libssl3"].layer == "sha256:l2");  // provided by the layer that upgraded it
  CHECK(by["libssl3"].files == 2);
  CHECK(by["libssl3"].purl ==
        "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64&distro=debian-12");
  CHECK(by["bash"].layer == "sha256:l1");  // unchanged since the base layer
  CHECK(by["bash"].source_version == "5.2.15-2");
  CHECK_FALSE(by.count("zlib1g"));

  auto fs = scan::merge_files({&a, &b, &c});
  CHECK(fs.at("usr/lib/x86_64-linux-gnu/libssl.so.3").layer == 1);
  CHECK(fs.at("bin/bash").layer == 0);
  CHECK_FALSE(fs.count("srv/data/a"));
  CHECK(fs.count("srv/data/c"));
}

TEST_CASE("Distroless status.d in file, directory and multi-record forms, md5sums are file lists",
          "[scan][layer][distroless]") {
  test::TempDir dir;
  auto l1 = dir.path() / "l1.tar";
  test::write_tar(
      l1,
      {RawEntry("etc/os-release", "PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n"),
       RawEntry("var/lib/dpkg/status.d/libc6",
                "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n"),
       RawEntry("var/lib/dpkg/status.d/libc6.md5sums",
                "0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\n"
                "0123456789abcdef0123456789abcdef  usr/share/doc/libc6/copyright\n"),
       RawEntry(
           "var/lib/dpkg/status.d/libssl3/control",
           "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n"),
       RawEntry("var/lib/dpkg/status.d/libssl3/md5sums",
                "0123456789abcdef0123456789abcdef  usr/lib/x86_64-linux-gnu/libssl.so.3\n"),
       RawEntry("var/lib/dpkg/status.d/base",
                "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n\n"
                "Package: netbase\nVersion: 6.4\nArchitecture: all\n"),
       RawEntry("var/lib/dpkg/status.d/tzdata",
                "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n")});
  auto l2 = dir.path() / "l2.tar";
  test::write_tar(l2, {RawEntry("var/lib/dpkg/status.d/.wh.tzdata", "")});
  auto a = read(l1), b = read(l2);
  auto inv = scan::merge({"sha256:a", "sha256:b"}, {&a, &b});
  std::map<std::string, scan::Component> by;
  for (const auto& c : inv.components) by[c.name] = c;
  CHECK(by.size() ==
        4);  // libc6, libssl3, base-files, netbase; tzdata whited out; md5sums are not packages
  CHECK(by["libc6"].source == "glibc");
  CHECK(by["libc6"].files == 2);
  CHECK(by["libssl3"].files == 1);
  CHECK(by["libssl3"].location == "var/lib/dpkg/status.d/libssl3/control");
  CHECK(by.count("base-files"));
  CHECK(by.count("netbase"));
  CHECK_FALSE(by.count("tzdata"));
  CHECK(inv.os.pretty_name == "Distroless");
}

TEST_CASE("gzip layers, corrupt layers and the layer cache", "[scan][layer]") {
  test::TempDir dir;
  auto tar = dir.path() / "l.tar";
  test::write_tar(tar, {RawEntry("lib/apk/db/installed",
                                 "P:musl\nV:1.1.22-r3\nA:x86_64\nF:lib\nR:libc.musl-x86_64.so.1\n"),
                        RawEntry("etc/os-release", "ID=alpine\nVERSION_ID=3.10.9\n")});
  REQUIRE(test::run({"gzip", "-n", "-k", tar.string()}).exit_code == 0);
  auto gz = read(dir.path() / "l.tar.gz");
  auto inv = scan::merge({"sha256:x"}, {&gz});
  REQUIRE(inv.components.size() == 1);
  CHECK(inv.components[0].ecosystem == "Alpine");
  CHECK(inv.components[0].purl == "pkg:apk/alpine/musl@1.1.22-r3?arch=x86_64");
  CHECK(inv.os.releases() == std::vector<std::string>{"v3.10"});

  auto bytes = *fs::read_file(dir.path() / "l.tar.gz", 1 << 20);
  std::ofstream(dir.path() / "cut.tar.gz", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto cut = scan::read_layer(dir.path() / "cut.tar.gz");
  REQUIRE_FALSE(cut);
  CHECK(cut.error().message.find("truncated") != std::string::npos);
  std::ofstream(dir.path() / "junk", std::ios::binary) << std::string(5000, 'j');
  CHECK_FALSE(scan::read_layer(dir.path() / "junk"));

  auto st = store::Store::open(dir.path() / "state");
  REQUIRE(st);
  (*st)->transaction([&](sqlite::Connection& c) { scan::LayerCache::put(c, "sha256:x", gz, 1); });
  (*st)->read([&](sqlite::Connection& c) {
    auto back = scan::LayerCache::get(c, "sha256:x");
    REQUIRE(back);
    CHECK(back->files.size() == gz.files.size());
    CHECK(back->records.at("lib/apk/db/installed").data ==
          gz.records.at("lib/apk/db/installed").data);
    CHECK_FALSE(scan::LayerCache::get(c, "sha256:y"));
    CHECK(scan::LayerCache::count(c) == 1);
    CHECK(scan::LayerCache::count_all(c) == 1);
  });
}

TEST_CASE("Installed npm packages are components unless an OS package owns their files",
          "[scan][layer][npm]") {
  // minimist 1.2.5's own package.json (npm registry) twice: installed by the application, and
  // inside a Debian package's tree, which that package's file list owns (the list is made up for
  // the test; Debian's node-* packages bundle modules this way, often with backported fixes).
  auto manifest =
      fs::read_file(test::source_dir() / "tests/data/npm/minimist-1.2.5/package.json", 1 << 20);
  REQUIRE(manifest);
  test::TempDir dir;
  auto l1 = dir.path() / "l1.tar";
  test::write_tar(l1,
                  {RawEntry("etc/os-release", kOsRelease),
                   RawEntry("var/lib/dpkg/status", status_para("node-yargs", "16.2.0-3")),
                   RawEntry("var/lib/dpkg/info/node-yargs.list",
                            "/usr/share/nodejs/yargs/package.json\n"
                            "/usr/share/nodejs/yargs/node_modules/minimist/package.json\n"),
                   RawEntry("usr/share/nodejs/yargs/node_modules/minimist/package.json", *manifest),
                   RawEntry("srv/app/node_modules/minimist/package.json", *manifest),
                   RawEntry("srv/app/node_modules/@scope/broken/package.json", "{\"name\": 5}")});
  auto a = read(l1);
  auto inv = scan::merge({"sha256:a"}, {&a});
  std::vector<scan::Component> npm, owned;
  for (const auto& c : inv.components)
    if (c.type == "node-package") (c.owner.empty() ? npm : owned).push_back(c);
  // the OS package's copy is listed with its owner (the SBOM nests it there), not matched
  REQUIRE(owned.size() == 1);
  CHECK(owned[0].owner == "node-yargs");
  CHECK(owned[0].location == "usr/share/nodejs/yargs/node_modules/minimist/package.json");
  REQUIRE(npm.size() == 1);
  CHECK(npm[0].name == "minimist");
  CHECK(npm[0].version == "1.2.5");
  CHECK(npm[0].ecosystem == "npm");
  CHECK(npm[0].location == "srv/app/node_modules/minimist/package.json");
  CHECK(npm[0].purl == "pkg:npm/minimist@1.2.5");
  bool reported = false;
  for (const auto& p : inv.problems)
    reported = reported || p.find("@scope/broken/package.json") != std::string::npos;
  CHECK(reported);
}

TEST_CASE("Installed Python distributions are components unless an OS package owns them",
          "[scan][layer][pypi]") {
  // requests 2.28.1's core metadata as Debian 12's python3-requests ships it, at its Debian path
  // (owned by the package's file list, as dpkg records it) and in an application's virtualenv.
  auto metadata = fs::read_file(
      test::source_dir() / "tests/data/pypi/requests-2.28.1.egg-info/PKG-INFO", 1 << 20);
  REQUIRE(metadata);
  test::TempDir dir;
  auto l1 = dir.path() / "l1.tar";
  test::write_tar(
      l1, {RawEntry("etc/os-release", kOsRelease),
           RawEntry("var/lib/dpkg/status", status_para("python3-requests", "2.28.1+dfsg-1")),
           RawEntry("var/lib/dpkg/info/python3-requests.list",
                    "/usr/lib/python3/dist-packages/requests-2.28.1.egg-info\n"
                    "/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO\n"),
           RawEntry("usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO", *metadata),
           RawEntry("srv/app/.venv/lib/python3.11/site-packages/requests-2.28.1.egg-info/PKG-INFO",
                    *metadata),
           RawEntry("srv/app/.venv/lib/python3.11/site-packages/PyYAML-5.3.1.egg-info",
                    "Metadata-Version: 1.1\nName: PyYAML\nVersion: 5.3.1\n"),
           // made up: a pip-installed distribution with its RECORD (a quoted path with a comma)
           RawEntry("srv/app/.venv/lib/python3.11/site-packages/greet-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: greet\nVersion: 1.0\n"),
           RawEntry("srv/app/.venv/lib/python3.11/site-packages/greet-1.0.dist-info/RECORD",
                    "greet/__init__.py,sha256=x,1\n\"greet/a,b.py\",sha256=y,2\n"
                    "greet-1.0.dist-info/METADATA,,\ngreet-1.0.dist-info/RECORD,,\n")});
  auto a = read(l1);
  auto inv = scan::merge({"sha256:a"}, {&a});
  std::map<std::string, scan::Component> py;
  std::vector<scan::Component> owned;
  for (const auto& c : inv.components)
    if (c.type == "python-package" && c.owner.empty())
      py[c.name] = c;
    else if (c.type == "python-package")
      owned.push_back(c);
  REQUIRE(owned.size() == 1);
  CHECK(owned[0].owner == "python3-requests");
  CHECK(owned[0].version == "2.28.1");
  REQUIRE(py.size() == 3);
  CHECK(py["greet"].files == 4);
  CHECK(py["requests"].location ==
        "srv/app/.venv/lib/python3.11/site-packages/requests-2.28.1.egg-info/PKG-INFO");
  CHECK(py["requests"].ecosystem == "PyPI");
  CHECK(py["requests"].purl == "pkg:pypi/requests@2.28.1");
  CHECK(py["pyyaml"].version == "5.3.1");  // PEP 503 name
  CHECK(py["pyyaml"].purl == "pkg:pypi/pyyaml@5.3.1");
}

TEST_CASE("Java archives are components, nested ones with their path, owned ones with their owner",
          "[scan][layer][java]") {
  // Debian bookworm's real guava.jar twice: where libguava-java installs it (its file list owns
  // it) and copied into an application's lib folder; the status and list are written here.
  auto deb = test::download_deb("libguava-java", "31.1-1");
  test::TempDir dir;
  test::run_ok({"dpkg-deb", "-x", deb.string(), (dir.path() / "root").string()});
  auto jar = fs::read_file(dir.path() / "root/usr/share/java/guava.jar", 64 << 20);
  REQUIRE(jar);
  auto l1 = dir.path() / "l1.tar";
  test::write_tar(l1, {RawEntry("etc/os-release", kOsRelease),
                       RawEntry("var/lib/dpkg/status", status_para("libguava-java", "31.1-1")),
                       RawEntry("var/lib/dpkg/info/libguava-java.list",
                                "/usr/share/java/guava.jar\n/usr/share/java/guava-31.1.jar\n"),
                       RawEntry("usr/share/java/guava.jar", *jar),
                       RawEntry("srv/app/lib/guava-31.1-jre.jar", *jar),
                       RawEntry("srv/app/lib/broken.jar", "PK not really")});
  auto a = read(l1);
  REQUIRE(a.records.count("srv/app/lib/guava-31.1-jre.jar"));
  CHECK(a.records.at("srv/app/lib/guava-31.1-jre.jar").kind == "java-archive");
  auto inv = scan::merge({"sha256:a"}, {&a});
  std::map<std::string, scan::Component> java;
  for (const auto& c : inv.components)
    if (c.type == "maven") java[c.location] = c;
  REQUIRE(java.size() == 2);
  const auto& app = java["srv/app/lib/guava-31.1-jre.jar"];
  CHECK(app.name == "com.google.guava:guava");
  CHECK(app.version == "31.1-jre");
  CHECK(app.ecosystem == "Maven");
  CHECK(app.purl == "pkg:maven/com.google.guava/guava@31.1-jre");
  CHECK(app.owner.empty());
  CHECK(java["usr/share/java/guava.jar"].owner == "libguava-java");
  bool reported = false;
  for (const auto& p : inv.problems)
    reported = reported || p.starts_with("srv/app/lib/broken.jar: ");
  CHECK(reported);
}

// Real databases: the official Alpine 3.10.3 root file system (tests/data/alpine-rootfs) read as
// a layer, and a real bookworm dpkg status with this Debian host's own bash copyright file.
TEST_CASE("Suppliers licences and the package dependency graph come from the real databases",
          "[scan][layer][sbom]") {
  auto find = [](const scan::ImageInventory& inv, const std::string& name) {
    for (const auto& c : inv.components)
      if (c.name == name) return c;
    FAIL("no component " << name);
    return scan::Component{};
  };
  auto has = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  SECTION("Alpine: maintainers, L: licences, so: and file requirements through provides") {
    auto layer = read(std::filesystem::path(AIRHEAL_SOURCE_DIR) /
                      "tests/data/alpine-rootfs/alpine-minirootfs-3.10.3-x86_64.tar.gz");
    auto inv = scan::merge({"sha256:a"}, {&layer});
    auto ssl = find(inv, "libssl1.1");
    CHECK(ssl.supplier.find("timo.teras@iki.fi") != std::string::npos);
    CHECK(ssl.licenses == std::vector<std::string>{"OpenSSL"});
    CHECK(has(ssl.depends, "libcrypto1.1"));  // so:libcrypto.so.1.1
    CHECK(has(ssl.depends, "musl"));          // so:libc.musl-x86_64.so.1
    auto base = find(inv, "alpine-baselayout");
    CHECK(has(base.depends, "busybox"));  // "/bin/sh", which busybox provides
    CHECK(find(inv, "musl").depends.empty());
    std::size_t suppliers = 0;
    for (const auto& c : inv.components) {
      INFO(c.name);
      suppliers += !c.supplier.empty();
      CHECK_FALSE(c.licenses.empty());
      for (const auto& d : c.depends) CHECK(d != c.name);
    }
    // Every record but libtls-standalone 2.9.1-r0's, which has no m: line, names a maintainer.
    CHECK(suppliers == inv.components.size() - 1);
  }
  SECTION("Debian: Maintainer, Depends and Pre-Depends with alternatives, DEP-5 licences") {
    test::TempDir dir;
    auto status = fs::read_file(
        std::filesystem::path(AIRHEAL_SOURCE_DIR) / "tests/data/debian/bookworm-realistic.status",
        16 << 20);
    auto copyright = fs::read_file("/usr/share/doc/bash/copyright", 1 << 20);
    REQUIRE(status);
    REQUIRE(copyright);
    test::write_tar(
        dir.path() / "l.tar",
        {RawEntry("etc/os-release", kOsRelease), RawEntry("var/lib/dpkg/status", *status),
         RawEntry("usr/share/doc/bash/copyright", *copyright),
         RawEntry("usr/share/doc/coreutils/notes/copyright", "Format: x\nLicense: X\n"),
         RawEntry("usr/share/doc/apt/copyright", "Free-form prose, GPL-2+.\n")});
    auto layer = read(dir.path() / "l.tar");
    CHECK(layer.records.count("usr/share/doc/bash/copyright"));
    CHECK_FALSE(layer.records.count("usr/share/doc/coreutils/notes/copyright"));
    auto inv = scan::merge({"sha256:d"}, {&layer});
    auto bash = find(inv, "bash");
    CHECK(bash.supplier == "Matthias Klose <doko@debian.org>");
    for (const auto* d : {"libc6", "libtinfo6", "base-files", "debianutils"})
      CHECK(has(bash.depends, d));
    CHECK(has(bash.licenses, "GPL-3+"));
    CHECK(find(inv, "apt").licenses.empty());       // free-form: no licence is guessed
    CHECK(has(find(inv, "apt").depends, "gpgv"));   // "gpgv | gpgv2 | gpgv1": the one installed
    CHECK(has(find(inv, "gzip").depends, "dpkg"));  // "dpkg (>= 1.15.4) | install-info"
    CHECK(has(find(inv, "coreutils").depends, "libselinux1"));  // Pre-Depends
    std::size_t with_deps = 0;
    for (const auto& c : inv.components) with_deps += !c.depends.empty();
    CHECK(with_deps > inv.components.size() / 2);
  }
}
