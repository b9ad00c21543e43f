// The systemd units as shipped: `systemd-analyze verify` accepts every one, and
// `systemd-analyze security --offline=true` reports each service's exposure with the hardening
// systemd/README.md promises. (This host has systemd but not as PID 1: the units are checked
// statically, with ExecStart pointed at the binaries just built.)
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
namespace fsys = std::filesystem;

namespace {
fsys::path units_for_test(const fsys::path& dir) {
  fsys::create_directories(dir);
  for (const auto& e : fsys::directory_iterator(fsys::path(AIRHEAL_SOURCE_DIR) / "systemd")) {
    auto ext = e.path().extension();
    if (ext != ".service" && ext != ".path" && ext != ".timer") continue;
    auto text = *fs::read_file(e.path(), 1 << 20);
    text = std::regex_replace(text, std::regex("/usr/sbin/airheald"), AIRHEALD_PATH);
    text = std::regex_replace(text, std::regex("/usr/bin/airhealctl"), AIRHEALCTL_PATH);
    text = std::regex_replace(text, std::regex("/usr/libexec/airheal/airheal-builder"),
                              AIRHEAL_BUILDER_PATH);
    std::ofstream(dir / e.path().filename()) << text;
  }
  return dir;
}

double exposure(const std::string& out) {
  std::smatch m;
  std::regex re("Overall exposure level for [^:]+: ([0-9.]+)");
  return std::regex_search(out, m, re) ? std::stod(m[1]) : 99;
}
}  // namespace

TEST_CASE("The systemd units verify and report their exposure", "[integration][systemd]") {
  if (!have_program("systemd-analyze")) FAIL("systemd-analyze is needed (package systemd)");
  TempDir tmp;
  auto dir = units_for_test(tmp / "units");
  std::vector<std::string> units;
  for (const auto& e : fsys::directory_iterator(dir)) units.push_back(e.path().filename().string());
  std::sort(units.begin(), units.end());
  CHECK(units == std::vector<std::string>{"airheal-builder.service", "airheal-import.path",
                                          "airheal-import.service", "airheal-maintenance.service",
                                          "airheal-maintenance.timer", "airheald.service"});
  std::vector<std::string> verify = {"env", "--chdir=" + dir.string(), "systemd-analyze", "verify",
                                     "--man=no"};
  verify.insert(verify.end(), units.begin(), units.end());
  auto v = run(verify);
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  CHECK(v.err.find(".service:") == std::string::npos);  // no warning about any unit line

  auto security = [&](const std::string& unit) {
    auto r = run({"env", "--chdir=" + dir.string(), "systemd-analyze", "security", "--offline=true",
                  "--no-pager", unit});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    return r.out;
  };
  auto daemon = security("airheald.service");
  INFO(daemon);
  // Issue 24: the process the network reaches holds no build powers (at most 2.0): its own user,
  // no capability but binding port 443, no namespaces, no privilege gains, no W+X memory.
  CHECK(exposure(daemon) <= 2.0);
  for (auto held : {"✓ User=/DynamicUser=",
                    "✓ CapabilityBoundingSet=~CAP_SYS_ADMIN",
                    "✓ CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)",
                    "✓ CapabilityBoundingSet=~CAP_SYS_CHROOT",
                    "✓ CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)",
                    "✓ RestrictNamespaces=~user",
                    "✓ RestrictNamespaces=~mnt",
                    "✓ NoNewPrivileges=",
                    "✓ MemoryDenyWriteExecute=",
                    "✓ RestrictSUIDSGID=",
                    "✓ SystemCallFilter=~@mount",
                    "✓ SystemCallFilter=~@resources",
                    "✓ ProtectSystem=",
                    "✓ ProtectHome=",
                    "✓ PrivateTmp=",
                    "✓ PrivateDevices=",
                    "✓ ProtectControlGroups=",
                    "✓ ProtectKernelModules=",
                    "✓ ProtectKernelTunables=",
                    "✓ SystemCallArchitectures=",
                    "✓ RestrictAddressFamilies=~AF_PACKET",
                    "✓ RestrictAddressFamilies=~AF_NETLINK",
                    "✓ PrivateMounts="})
    CHECK(daemon.find(held) != std::string::npos);
  // The builder: the only unit with buildah's powers, and no network at all (issue 24's target
  // for it is 4.0; what it still needs is explained in systemd/README.md). Its builds are
  // rootless (--build-user), which is why newuidmap must stay able to gain its privileges.
  auto builder = security("airheal-builder.service");
  INFO(builder);
  CHECK(exposure(builder) <= 4.0);
  for (auto held :
       {"✓ PrivateNetwork=", "✓ IPAddressDeny=", "✓ CapabilityBoundingSet=~CAP_NET_ADMIN",
        "✓ RestrictAddressFamilies=~AF_(INET|INET6)", "✓ ProtectSystem="})
    CHECK(builder.find(held) != std::string::npos);
  auto builder_unit =
      fs::read_file(fsys::path(AIRHEAL_SOURCE_DIR) / "systemd/airheal-builder.service", 1 << 16)
          .value_or("");
  CHECK_THAT(builder_unit, Catch::Contains("--build-user airheal-build") &&
                               Catch::Contains("Delegate=memory") &&
                               Catch::Contains("StateDirectoryMode=0711"));
  for (auto unit : {"airheal-import.service", "airheal-maintenance.service"}) {
    auto out = security(unit);
    CHECK(exposure(out) <= 2.0);
    CHECK(out.find("✓ PrivateNetwork=") != std::string::npos);
    CHECK(out.find("✓ User=/DynamicUser=") != std::string::npos);
  }
  // sysusers.d and tmpfiles.d entries parse (systemd-sysusers/-tmpfiles in a scratch root).
  auto root = tmp / "root";
  fsys::create_directories(root / "etc");
  std::ofstream(root / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream(root / "etc/group") << "root:x:0:\n";
  auto su = run({"systemd-sysusers", "--root=" + root.string(),
                 (fsys::path(AIRHEAL_SOURCE_DIR) / "systemd/airheal.sysusers").string()});
  INFO(su.out << su.err);
  CHECK(su.exit_code == 0);
  CHECK(fs::read_file(root / "etc/group", 1 << 16).value_or("").find("airheal:x:") !=
        std::string::npos);
  CHECK(fs::read_file(root / "etc/passwd", 1 << 16).value_or("").find("airheal:x:") !=
        std::string::npos);
  // The build user, in airheald's group (it reads the store and the work folders through it).
  CHECK(fs::read_file(root / "etc/passwd", 1 << 16).value_or("").find("airheal-build:x:") !=
        std::string::npos);
  CHECK_THAT(fs::read_file(root / "etc/group", 1 << 16).value_or(""),
             Catch::Matches("(.|\n)*\nairheal:x:[0-9]+:airheal-build\n(.|\n)*"));
  auto tf = run({"systemd-tmpfiles", "--root=" + root.string(), "--create",
                 (fsys::path(AIRHEAL_SOURCE_DIR) / "systemd/airheal.tmpfiles").string()});
  INFO(tf.out << tf.err);
  CHECK(tf.exit_code == 0);
  CHECK(fsys::is_directory(root / "var/lib/airheal/import"));
  CHECK(fsys::is_directory(root / "etc/airheal"));
  CHECK(fsys::is_directory(root / "var/lib/airheal-builder"));
}
