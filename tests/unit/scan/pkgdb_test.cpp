#include "scan/pkgdb.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("dpkg status: installed packages only, with Source and its version",
          "[scan][pkgdb][dpkg]") {
  auto text = R"(Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit
 multi-line description
 .
 more

Package: libgcrypt20
Status: install ok installed
Architecture: amd64
Source: libgcrypt20 (1.10.1-3)
Version: 1.10.1-3+b1

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0-1

Package: half
Status: install reinstreq half-installed
Version: 2.0-1

Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
Architecture: amd64
Source: bash (5.2.15-2)
)";
  auto pkgs = scan::parse_dpkg_status(text);
  REQUIRE(pkgs.size() == 3);
  CHECK(pkgs[0].name == "libssl3");
  CHECK(pkgs[0].source == "openssl");
  CHECK(pkgs[0].source_version == "3.0.11-1~deb12u2");
  CHECK(pkgs[1].source == "libgcrypt20");
  CHECK(pkgs[1].version == "1.10.1-3+b1");
  CHECK(pkgs[1].source_version ==
        "1.10.1-3");  // binNMU: the source version is the one advisories name
  CHECK(pkgs[2].name == "bash");
  CHECK(pkgs[2].source_version == "5.2.15-2");
}

TEST_CASE("distroless status.d records carry no Status and are installed", "[scan][pkgdb][dpkg]") {
  auto pkgs = scan::parse_dpkg_status(
      "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n", false);
  REQUIRE(pkgs.size() == 1);
  CHECK(pkgs[0].source == "tzdata");
  CHECK(scan::parse_md5sums("d41d8cd98f00b204e9800998ecf8427e  usr/share/zoneinfo/UTC\n"
                            "0123456789abcdef0123456789abcdef *./etc/timezone\n") ==
        std::vector<std::string>{"usr/share/zoneinfo/UTC", "etc/timezone"});
  CHECK(scan::parse_dpkg_list("/.\n/usr\n/usr/bin/bash\n") ==
        std::vector<std::string>{"usr", "usr/bin/bash"});
}

TEST_CASE("apk installed database", "[scan][pkgdb][apk]") {
  auto text =
      "C:Q1abc=\nP:libcrypto1.1\nV:1.1.1d-r0\nA:x86_64\no:openssl\nL:OpenSSL\nF:lib\nR:libcrypto."
      "so.1.1\n"
      "F:usr/"
      "lib\nR:libcrypto.so.1.1\n\nP:musl\nV:1.1.22-r3\nA:x86_64\nL:MIT\nF:lib\nR:ld-musl-x86_64.so."
      "1\n";
  auto pkgs = scan::parse_apk_installed(text);
  REQUIRE(pkgs.size() == 2);
  CHECK(pkgs[0].source == "openssl");  // origin: what the secdb names
  CHECK(pkgs[0].files ==
        std::vector<std::string>{"lib/libcrypto.so.1.1", "usr/lib/libcrypto.so.1.1"});
  CHECK(pkgs[1].source == "musl");
}

TEST_CASE("Debian copyright files: DEP-5 licence names, nothing from free-form prose",
          "[scan][pkgdb][dpkg]") {
  auto dep5 =
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
      "Upstream-Name: demo\n\nFiles: *\nCopyright: 2020 A\nLicense: GPL-2+\n\n"
      "Files: lib/*\nLicense: MIT or Apache-2.0\n\nLicense: GPL-2+\n On Debian systems ...\n"
      " License: not a field\n";
  CHECK(scan::parse_debian_copyright(dep5) ==
        std::vector<std::string>{"GPL-2+", "MIT or Apache-2.0"});
  CHECK(scan::parse_debian_copyright("This is the Debian prepackaged version of X.\n"
                                     "License: GPL\n")
            .empty());
  CHECK(scan::parse_debian_copyright("").empty());
  std::string many = "Format: x\n";
  for (int i = 0; i < 500; ++i) many += "License: L" + std::to_string(i) + "\n";
  CHECK(scan::parse_debian_copyright(many).size() == 64);  // bounded
}

TEST_CASE("dpkg and apk relationships: alternatives kept, versions and conflicts dropped",
          "[scan][pkgdb]") {
  auto deb = scan::parse_dpkg_status(
      "Package: a\nStatus: install ok installed\nVersion: 1\nMaintainer: M <m@x.org>\n"
      "Pre-Depends: libc6 (>= 2.36)\nDepends: b:any (>= 1) | c, d [amd64],, e\n"
      "Provides: awk, f (= 2)\n");
  REQUIRE(deb.size() == 1);
  CHECK(deb[0].supplier == "M <m@x.org>");
  CHECK(deb[0].depends == std::vector<std::string>{"libc6", "b|c", "d", "e"});
  CHECK(deb[0].provides == std::vector<std::string>{"awk", "f"});
  auto apk = scan::parse_apk_installed(
      "P:x\nV:1-r0\nm:N <n@a.org>\nD:so:libc.musl-x86_64.so.1 /bin/sh !y z>=2\n"
      "p:cmd:x so:libx.so.1=1\n");
  REQUIRE(apk.size() == 1);
  CHECK(apk[0].supplier == "N <n@a.org>");
  CHECK(apk[0].depends == std::vector<std::string>{"so:libc.musl-x86_64.so.1", "/bin/sh", "z"});
  CHECK(apk[0].provides == std::vector<std::string>{"cmd:x", "so:libx.so.1"});
  auto back = scan::PackageRecord::from_json(deb[0].to_json());
  CHECK(back.depends == deb[0].depends);
  CHECK(back.provides == deb[0].provides);
  CHECK(back.supplier == deb[0].supplier);
}

TEST_CASE("os-release with quoting", "[scan][pkgdb]") {
  auto m = scan::parse_os_release(
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID='12'\n# "
      "c\nX=\"a\\\"b\"\n");
  CHECK(m["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)");
  CHECK(m["ID"] == "debian");
  CHECK(m["VERSION_ID"] == "12");
  CHECK(m["X"] == "a\"b");
}

TEST_CASE("rpmdb.sqlite written by rpm 4.18 itself", "[scan][pkgdb][rpm]") {
  if (!test::have_program("rpmbuild"))
    FAIL("rpm (rpmbuild) is required: scripts/setup.sh installs it");
  test::TempDir dir;
  auto top = dir.path() / "rpmbuild";
  std::filesystem::create_directories(top / "SPECS");
  std::ofstream(top / "SPECS" / "demo.spec") << R"(Name: demo-lib
Version: 1.2.3
Release: 4.el9
Epoch: 2
Summary: demo
License: MIT
Vendor: Demo Vendor
Requires: /bin/sh
Requires: other-lib >= 1.0
BuildArch: noarch
%description
demo
%install
mkdir -p %{buildroot}/usr/share/demo
echo hi > %{buildroot}/usr/share/demo/file
%files
/usr/share/demo/file
)";
  auto b = test::run({"rpmbuild", "--define", "_topdir " + top.string(), "-bb",
                      (top / "SPECS" / "demo.spec").string()});
  INFO(b.out << b.err);
  REQUIRE(b.exit_code == 0);
  auto db = dir.path() / "db";
  std::filesystem::create_directories(db);
  REQUIRE(test::run({"rpm", "--dbpath", db.string(), "--initdb"}).exit_code == 0);
  auto rpmfile = top / "RPMS" / "noarch" / "demo-lib-1.2.3-4.el9.noarch.rpm";
  auto i = test::run({"rpm", "--dbpath", db.string(), "-i", "--justdb", "--nodeps", "--noscripts",
                      rpmfile.string()});
  INFO(i.out << i.err);
  REQUIRE(i.exit_code == 0);
  auto bytes = fs::read_file(db / "rpmdb.sqlite", 64 << 20);
  REQUIRE(bytes);
  auto pkgs = scan::parse_rpmdb_sqlite(*bytes);
  REQUIRE(pkgs);
  REQUIRE(pkgs->size() == 1);
  CHECK((*pkgs)[0].name == "demo-lib");
  CHECK((*pkgs)[0].version == "2:1.2.3-4.el9");
  CHECK((*pkgs)[0].source == "demo-lib");
  CHECK((*pkgs)[0].arch == "noarch");
  CHECK((*pkgs)[0].license == "MIT");
  CHECK((*pkgs)[0].supplier == "Demo Vendor");
  auto& deps = (*pkgs)[0].depends;
  CHECK(std::find(deps.begin(), deps.end(), "/bin/sh") != deps.end());
  CHECK(std::find(deps.begin(), deps.end(), "other-lib") != deps.end());
  for (const auto& d : deps) CHECK_FALSE(d.starts_with("rpmlib("));
  CHECK_FALSE(scan::parse_rpmdb_sqlite("not a database"));
  auto broken = *bytes;
  broken.resize(broken.size() / 3);
  (void)scan::parse_rpmdb_sqlite(broken);  // an error or fewer rows, never a crash
  CHECK_FALSE(scan::parse_rpm_header(std::string("\x00\x00\xff\xff\x00\x00\x00\x10", 8)));
}
