// The rpm package family against real rpm tooling: packages built by the host's rpmbuild (the
// made-up "greet" family of tests/support/rpm_fixtures: no rpm distribution's repository is
// reachable here), an image root whose rpmdb.sqlite the host's dnf wrote, createrepo_c for the
// local repositories, and the host's rpm for heals of images without rpm. Findings are written
// as scan::list_findings gives them (the scanner makes them in the integration test).
#include "heal/rpm/rpm_family.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "builder/server.hpp"
#include "core/confine.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "heal/heal_layer.hpp"
#include "heal/remote_builder.hpp"
#include "support/heal_fixtures.hpp"
#include "support/rpm_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

std::string rpm_slurp(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct GreetFixture {
  TempDir tmp;
  std::optional<RpmSigner> signer;
  GreetRpms rpms;
  fsys::path root = tmp / "root";
  std::map<std::string, std::string> image_files;
  std::vector<ImportedContent> imported;
  std::map<std::string, fsys::path> files;  // digest -> package file
  const PackageFamily& family = *package_family("rpm");

  explicit GreetFixture(bool sign = false, bool trust = false) {
    if (sign) signer = make_rpm_signing_key(tmp / "key", "airheal rpm test <rpm@test>");
    rpms = build_greet_rpms(tmp / "top", signer);
    fsys::create_directories(tmp / "repo");
    for (const auto& f : {rpms.base, rpms.libgreet_old, rpms.app})
      fsys::copy_file(f, tmp / "repo" / f.filename());
    create_rpm_repo(tmp / "repo");
    std::vector<fsys::path> keys;
    if (trust) keys.push_back(signer->public_key);
    make_rpm_root(root, tmp / "repo", {"greet-base", "libgreet", "greet-app"}, "rocky", "9.3",
                  keys);
    image_files["var/lib/rpm/rpmdb.sqlite"] = rpm_slurp(root / "var/lib/rpm/rpmdb.sqlite");
    image_files["etc/os-release"] = rpm_slurp(root / "etc/os-release");
    image_files["etc/greet.conf"] = rpm_slurp(root / "etc/greet.conf");
    image_files["usr/share/greet/message"] = rpm_slurp(root / "usr/share/greet/message");
    image_files["usr/share/greet/old-only"] = rpm_slurp(root / "usr/share/greet/old-only");
    image_files["usr/bin/rpm"] = "(binary)";
    image_files["usr/bin/dnf"] = "(script)";
  }
  void import_fixed(const std::string& channel, bool with_data = true) {
    for (const auto& f : {rpms.libgreet_new, rpms.data}) {
      if (!with_data && f == rpms.data) continue;
      auto p = rpm::read_package(f);
      REQUIRE(p);
      auto d = Sha256::of_file(f)->str();
      files[d] = f;
      imported.push_back(
          {p->header.name, p->header.evr(), d, "sha256:snap", json{{"format", "rpm"}}, 1, channel});
    }
  }
  json findings() const {
    json out = json::array();
    for (auto id : {"RLSA-2026:0001", "CVE-2026-0001"})
      out.push_back({{"advisory", id},
                     {"type", "rpm"},
                     {"package", "libgreet"},
                     {"source", "libgreet"},
                     {"installed", "1.0-1.el9"},
                     {"fixed", "1.1-1.el9"},
                     {"location", "var/lib/rpm/rpmdb.sqlite"}});
    return out;
  }
  // The plan for the imported fixed packages (channel rocky taken unsigned), to be installed by
  // INSTALLER ("dnf", "rpm", or "host-rpm": an image without rpm, its database at var/lib/rpm).
  Plan install_plan(const std::string& installer) {
    auto fp = plan({"rocky"});
    Plan p;
    p.family = "rpm";
    p.packages = fp.packages;
    p.installer = installer;
    if (installer == "host-rpm") {
      for (auto& pin : p.packages) pin.record = "var/lib/rpm";
      image_files.erase("usr/bin/dnf");
      image_files.erase("usr/bin/rpm");
    }
    return p;
  }
  FamilyPlan plan(const std::set<std::string>& unsigned_channels) {
    PlanSources io;
    io.image = [this]() -> Result<ImageFiles> { return image_in_memory(image_files); };
    io.package_metadata = [this](const std::string& d) -> Result<std::string> {
      return family.package_metadata(files.at(d));
    };
    FamilyPlanInput in;
    for (const auto& f : findings()) in.findings.push_back(f);
    scan::ImageInventory inv;
    in.inventory = &inv;
    in.imported = &imported;
    in.unsigned_channels = &unsigned_channels;
    return family.plan(in, io);
  }
};

std::set<std::string> pins_of(const FamilyPlan& p) {
  std::set<std::string> out;
  for (const auto& x : p.packages) out.insert(x.name + "=" + x.version);
  return out;
}

}  // namespace

TEST_CASE("rpm plans take the fixed build and what it requires, and nothing else", "[heal][rpm]") {
  GreetFixture f;
  f.import_fixed("rocky");
  auto p = f.plan({"rocky"});
  CHECK(pins_of(p) == std::set<std::string>{"greet-data=1.1-1.el9", "libgreet=1.1-1.el9"});
  CHECK(p.installer == "dnf");
  CHECK(p.targeted == std::set<std::string>{"CVE-2026-0001", "RLSA-2026:0001"});
  CHECK(p.deferred.empty());
  CHECK(p.notes.empty());  // dnf runs the scriptlets inside the image
  for (const auto& pin : p.packages) {
    CHECK(pin.record.empty());
    if (pin.name == "greet-data") {
      CHECK(pin.fixes.empty());
      CHECK(pin.needed_by == "libgreet 1.1-1.el9 requires greet-data >= 1.1");
    } else {
      CHECK(pin.fixes == "CVE-2026-0001,RLSA-2026:0001");
    }
  }

  SECTION("an image with rpm but no dnf runs its rpm") {
    f.image_files.erase("usr/bin/dnf");
    CHECK(f.plan({"rocky"}).installer == "rpm");
  }
  SECTION("without rpm the host's rpm installs, and the skipped scriptlets are named") {
    f.image_files.erase("usr/bin/dnf");
    f.image_files.erase("usr/bin/rpm");
    auto q = f.plan({"rocky"});
    CHECK(q.installer == "host-rpm");
    for (const auto& pin : q.packages) CHECK(pin.record == "var/lib/rpm");
    REQUIRE(q.notes.size() == 1);
    CHECK(q.notes[0] ==
          "%post (/bin/sh) scriptlet of libgreet 1.1-1.el9 is not run (--noscripts: nothing from "
          "the image runs on the host)");
  }
  SECTION("a requirement no package provides defers the source, naming it") {
    std::erase_if(f.imported, [](const ImportedContent& c) { return c.name == "greet-data"; });
    auto q = f.plan({"rocky"});
    CHECK(q.packages.empty());
    CHECK(q.deferred == std::set<std::string>{"CVE-2026-0001", "RLSA-2026:0001"});
    REQUIRE(q.deferrals.size() == 1);
    CHECK(q.deferrals[0]["reason"] ==
          "libgreet 1.1-1.el9 requires greet-data >= 1.1, which neither the image nor an imported "
          "package provides");
    CHECK(q.missing == std::vector<std::string>{"libgreet 1.1-1.el9: greet-data >= 1.1"});
  }
  SECTION("unsigned packages from a channel whose policy does not allow them are deferred") {
    auto q = f.plan({"another-channel"});
    CHECK(q.packages.empty());
    REQUIRE(q.deferrals.size() == 1);
    CHECK_THAT(q.deferrals[0]["reason"].get<std::string>(),
               Catch::Contains("is unsigned and channel 'rocky' may not bring unsigned packages"));
  }
  SECTION("a Berkeley DB rpm database is read for scans but not written") {
    f.image_files.erase("var/lib/rpm/rpmdb.sqlite");
    f.image_files["var/lib/rpm/Packages"] = "(bdb)";
    auto q = f.plan({"rocky"});
    CHECK(q.packages.empty());
    REQUIRE(q.deferrals.size() == 1);
    CHECK_THAT(q.deferrals[0]["reason"].get<std::string>(),
               Catch::Contains("is Berkeley DB or ndb (rpm before 4.16)"));
  }
  SECTION("a database with changes still in its write-ahead log is not planned from") {
    f.image_files["var/lib/rpm/rpmdb.sqlite-wal"] = std::string(4096, 'w');
    auto q = f.plan({"rocky"});
    CHECK(q.packages.empty());
    REQUIRE(q.deferrals.size() == 1);
    CHECK_THAT(q.deferrals[0]["reason"].get<std::string>(),
               Catch::Contains("rpmdb.sqlite-wal holds changes"));
  }
}

TEST_CASE("Signed rpm packages heal only with a key the image's rpm database holds",
          "[heal][rpm]") {
  SECTION("the image does not hold the key") {
    GreetFixture f(true, false);
    f.import_fixed("site");
    auto p = f.plan({});
    CHECK(p.packages.empty());
    REQUIRE(p.deferrals.size() == 1);
    CHECK_THAT(p.deferrals[0]["reason"].get<std::string>(),
               Catch::Contains("which the image's rpm database does not hold (no gpg-pubkey-"));
  }
  SECTION("the image trusts it: planned though the channel allows no unsigned packages") {
    GreetFixture f(true, true);
    f.import_fixed("site");
    auto p = f.plan({});
    CHECK(pins_of(p) == std::set<std::string>{"greet-data=1.1-1.el9", "libgreet=1.1-1.el9"});
  }
}

TEST_CASE("The rpm family orders rpm versions, knows its database and its files", "[heal][rpm]") {
  GreetFixture f;
  CHECK(f.family.name() == "rpm");
  CHECK(package_family_for_component("rpm") == &f.family);
  CHECK(package_family_of_file(f.rpms.libgreet_new) == &f.family);
  CHECK(*f.family.compare_versions("1.1-1.el9", "1.0-1.el9") > 0);
  CHECK(*f.family.compare_versions("1:1.0-1", "2.0-1") > 0);
  CHECK(f.family.database_path("var/lib/rpm/rpmdb.sqlite"));
  CHECK(f.family.database_path("usr/lib/sysimage/rpm/rpmdb.sqlite"));
  auto paths = f.family.package_paths(f.rpms.libgreet_old);
  REQUIRE(paths);
  CHECK(*paths == std::set<std::string>{"etc/greet.conf", "usr/share/greet/message",
                                        "usr/share/greet/old-only"});
  PackagePin wrong{"libgreet", "9.9-1", "noarch", "", "", "", ""};
  auto r = f.family.read_package(wrong, f.rpms.libgreet_new);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "the imported file for libgreet 9.9-1 is libgreet 1.1-1.el9");
  rpm::Dependency ge{"x", ">=", "1.1"};
  CHECK(rpmfamily::satisfies("1.1-1.el9", ge));
  CHECK_FALSE(rpmfamily::satisfies("1.0-9", ge));
  CHECK(rpmfamily::satisfies("", ge));  // an unversioned provide satisfies any version
  CHECK(rpmfamily::satisfies("2:0.1", ge));
}

TEST_CASE(
    "rpm tool installs read from createrepo_c repositories, and the host's rpm heals images "
    "without rpm",
    "[heal][rpm]") {
  GreetFixture f;
  f.import_fixed("rocky");
  auto plan = f.install_plan("dnf");
  std::vector<FixedPackage> packages;
  for (const auto& pin : plan.packages) {
    auto r = f.family.read_package(pin, f.files.at(pin.digest));
    REQUIRE(r);
    packages.push_back(*r);
  }
  auto t =
      f.family.tool_install(plan, packages, f.tmp / "heal-repo", f.tmp / "scratch", 1700000000);
  REQUIRE(t);
  CHECK(t->tool == "dnf");
  REQUIRE(t->commands.size() == 1);
  const auto& cmd = t->commands[0];
  CHECK(cmd.front() == "dnf");
  CHECK(std::find(cmd.begin(), cmd.end(), "--setopt=reposdir=/airheal-heal/repos.d") != cmd.end());
  CHECK(std::vector<std::string>(cmd.end() - 3, cmd.end()) ==
        std::vector<std::string>{"install", "greet-data-1.1-1.el9.noarch",
                                 "libgreet-1.1-1.el9.noarch"});
  CHECK(fsys::exists(f.tmp / "heal-repo/unsigned/repodata/repomd.xml"));
  CHECK(fsys::exists(f.tmp / "heal-repo/unsigned/libgreet-1.1-1.el9.noarch.rpm"));
  auto repo_file = rpm_slurp(f.tmp / "heal-repo/repos.d/airheal.repo");
  CHECK_THAT(repo_file, Catch::Contains("[airheal-unsigned]") &&
                            Catch::Contains("baseurl=file:///airheal-heal/unsigned") &&
                            Catch::Contains("gpgcheck=0"));
  CHECK_FALSE(fsys::exists(f.tmp / "heal-repo/signed"));

  plan.installer = "rpm";
  auto u = f.family.tool_install(plan, packages, f.tmp / "heal-repo2", {}, 1700000000);
  REQUIRE(u);
  REQUIRE(u->commands.size() == 1);  // nothing signed: no rpm -K
  CHECK(u->commands[0] ==
        std::vector<std::string>{"rpm", "-U", "-v",
                                 "/airheal-heal/unsigned/greet-data-1.1-1.el9.noarch.rpm",
                                 "/airheal-heal/unsigned/libgreet-1.1-1.el9.noarch.rpm"});

  // The host's rpm: the layer holds what rpm changed, the database and a whiteout.
  plan.installer = "host-rpm";
  for (auto& pin : plan.packages) pin.record = "var/lib/rpm";
  f.image_files.erase("usr/bin/dnf");
  f.image_files.erase("usr/bin/rpm");
  LayerWriter w(f.tmp / "layer");
  auto st = f.family.write_files(plan, packages, image_in_memory(f.image_files), w);
  INFO((st ? "" : st.error().message));
  REQUIRE(st);
  CHECK(w.written().count("usr/share/greet/message"));
  CHECK(w.written().count("usr/share/greet/data"));
  CHECK(w.written().count("var/lib/rpm/rpmdb.sqlite"));
  CHECK(w.written().count("usr/share/greet/.wh.old-only"));
  // the same bytes, but rpm set the new package's time on it (rpm -V checks it)
  CHECK(w.written().count("etc/greet.conf"));
  CHECK_FALSE(w.written().count("var/lib/rpm/.rpm.lock"));
  CHECK_FALSE(w.written().count("var/lib/rpm/rpmdb.sqlite-wal"));
  auto blob = w.finish();
  REQUIRE(blob);
  auto message = run_ok({"tar", "-xzOf", blob->file.string(), "usr/share/greet/message"}).out;
  CHECK(message == "hello from libgreet 1.1\n");
  auto db = run_ok({"tar", "-xzOf", blob->file.string(), "var/lib/rpm/rpmdb.sqlite"}).out;
  auto headers = rpm::read_database_sqlite(db);
  REQUIRE(headers);
  std::map<std::string, std::string> versions;
  for (const auto& h : *headers) versions[h.name] = h.evr();
  CHECK(versions["libgreet"] == "1.1-1.el9");
  CHECK(versions["greet-data"] == "1.1-1.el9");
  CHECK(versions["greet-app"] == "1.0-1.el9");
  CHECK(versions["greet-base"] == "1.0-1");

  SECTION("a package the image's database cannot take fails with rpm's reason") {
    // greet-data left out of the transaction: libgreet 1.1's requirement is not met
    Plan one = plan;
    std::vector<FixedPackage> only;
    one.packages.clear();
    for (std::size_t i = 0; i < plan.packages.size(); ++i)
      if (plan.packages[i].name == "libgreet") {
        one.packages.push_back(plan.packages[i]);
        only.push_back(packages[i]);
      }
    LayerWriter w2(f.tmp / "layer2");
    auto r = f.family.write_files(one, only, image_in_memory(f.image_files), w2);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("the host's rpm could not install") &&
                                      Catch::Contains("greet-data"));
  }
}

// airheald runs as the unprivileged airheal user with --confine (issue 24): rpm --root enters
// the staging root with chroot (or a user namespace it makes), which such a process may not do,
// so the distroless rpm heal has airheal-builder (root) run rpm there. A child that becomes nobody
// and confines itself as the daemon does: rpm in its own process fails, through a real builder
// server it works, and the staging root comes back as the child's.
TEST_CASE("A confined process has the builder run the host's rpm", "[heal][rpm][builder]") {
  AIRHEAL_REQUIRE_ROOT("needs root to become nobody");
  GreetFixture f;
  f.import_fixed("rocky");
  auto plan = f.install_plan("host-rpm");
  // The packages as the store holds them: blobs/sha256/HE/HEX.
  auto state = f.tmp / "state";
  std::vector<FixedPackage> packages;
  for (const auto& pin : plan.packages) {
    auto hex = pin.digest.substr(7);
    auto blob = state / "blobs" / "sha256" / hex.substr(0, 2) / hex;
    fsys::create_directories(blob.parent_path());
    fsys::copy_file(f.files.at(pin.digest), blob);
    auto r = f.family.read_package(pin, blob);
    REQUIRE(r);
    packages.push_back(*r);
  }
  auto work = state / "heal" / "7";
  fsys::create_directories(work);
  fsys::create_directories(f.tmp / "tmp");
  run_ok({"chown", "-R", "65534:65534", f.tmp.path().string()});
  fsys::permissions(f.tmp.path(), fsys::perms(0755));
  auto socket = f.tmp / "builder.sock";
  auto image = image_in_memory(f.image_files);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("TMPDIR", (f.tmp / "tmp").c_str(), 1);
    ::setenv("HOME", (f.tmp / "tmp").c_str(), 1);
    gid_t g = 65534;
    if (::setgroups(1, &g) != 0 || ::setresgid(g, g, g) != 0 || ::setresuid(g, g, g) != 0)
      ::_exit(10);
    if (!confine::confine_process()) ::_exit(11);
    LayerWriter alone(f.tmp / "alone");
    auto own = f.family.write_files(plan, packages, image, alone);
    std::ofstream(f.tmp / "own-error") << (own ? "" : own.error().message);
    if (own) ::_exit(12);
    for (int i = 0; i < 100 && !fsys::exists(socket); ++i) ::usleep(100000);
    RemoteBuilder remote(socket);
    LayerWriter w(f.tmp / "layer");
    if (auto st = f.family.write_files(plan, packages, image, w, {work, &remote}); !st) {
      std::ofstream(f.tmp / "error") << st.error().message;
      ::_exit(13);
    }
    if (!w.written().count("var/lib/rpm/rpmdb.sqlite") ||
        !w.written().count("usr/share/greet/message"))
      ::_exit(14);
    auto blob = w.finish();
    if (!blob) ::_exit(15);
    std::ofstream(f.tmp / "layer-file") << blob->file.string();
    ::_exit(0);
  }
  airheal::builder::ServerOptions o;
  o.socket = socket;
  o.policy.work_root = state / "heal";
  o.policy.blobs_root = state / "blobs" / "sha256";
  o.buildah.storage = f.tmp / "buildah";
  o.allowed_uids = {65534};
  o.socket_group = 65534;
  std::string said;
  std::mutex m;
  o.log = [&](const std::string& line) {
    std::lock_guard l(m);
    said += line + "\n";
  };
  airheal::builder::Server server(o);
  REQUIRE(server.listen());
  std::atomic<bool> stop{false};
  std::thread serving([&] { server.serve(stop); });
  int status = 0;
  ::waitpid(pid, &status, 0);
  stop = true;
  serving.join();
  INFO(
      "child exit: 10 setuid, 11 confine, 12 rpm ran in the confined process, 13 host rpm "
      "through the builder, 14 layer, 15 finish");
  INFO(fs::read_file(f.tmp / "error", 1 << 20).value_or("") << "\nbuilder: " << said);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK_THAT(fs::read_file(f.tmp / "own-error", 1 << 20).value_or(""),
             Catch::Contains("Unable to change root directory: Operation not permitted"));
  CHECK_THAT(said, Catch::Contains("host_rpm in " + work.string() + " for uid 65534") &&
                       Catch::Contains("host_rpm: done"));
  auto layer = rpm_slurp(f.tmp / "layer-file");
  auto message = run_ok({"tar", "-xzOf", layer, "usr/share/greet/message"}).out;
  CHECK(message == "hello from libgreet 1.1\n");
  // What rpm (root) wrote in the staging root is the requester's.
  struct stat st {};
  REQUIRE(::stat((work / "rpm-root" / "usr/share/greet/message").c_str(), &st) == 0);
  CHECK(st.st_uid == 65534);
}
