// The packages as an operator receives them: packaging/deb builds airheal, airheal-evidence and
// airheal-snapshot with dpkg-buildpackage and lintian passes them; they install with their Debian
// dependencies into a clean bookworm root (mmdebstrap), where the files, the group, the
// directories and the enabled units land where they should and the installed daemon serves;
// they purge cleanly. packaging/rpm builds the same split with rpmbuild.
// Slow (the clean root downloads buildah and its dependencies from Debian's archive); they
// package the binaries the suite just tested (build.sh --prebuilt), and run in CI like every
// other test.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/fs.hpp"
#include "support/test_support.hpp"

extern char** environ;

using namespace airheal;
using namespace airheal::test;
namespace fsys = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fsys::path kSource = AIRHEAL_SOURCE_DIR;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Files with this extension (debug symbol packages left out).
std::vector<fsys::path> files_with_extension(const fsys::path& dir, const std::string& ext) {
  std::vector<fsys::path> out;
  for (const auto& e : fsys::directory_iterator(dir))
    if (e.path().extension() == ext &&
        e.path().filename().string().find("-dbgsym") == std::string::npos)
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

fsys::path find_package(const std::vector<fsys::path>& files, const std::string& name) {
  for (const auto& f : files) {
    auto base = f.filename().string();
    if (base.rfind(name + "_", 0) == 0 || base.rfind(name + "-0", 0) == 0) return f;
  }
  FAIL("no package " << name);
  return {};
}

// Group entry of /etc/group in a root directory: "name:x:gid:" or "".
std::string group_line(const fsys::path& root, const std::string& name,
                       const char* file = "etc/group") {
  std::ifstream in(root / file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) return line;
  return "";
}

gid_t gid_of(const std::string& group_entry) {
  // name:x:GID:members
  auto a = group_entry.find(':');
  auto b = group_entry.find(':', a + 1);
  auto c = group_entry.find(':', b + 1);
  return static_cast<gid_t>(std::stoul(group_entry.substr(b + 1, c - b - 1)));
}

// Starts argv in the background with stdout and stderr to log; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const fsys::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

// Every process whose root directory is ROOT (daemons and agents a chroot left running).
void kill_processes_in(const fsys::path& root_dir) {
  auto root = fsys::canonical(root_dir);
  for (int round = 0; round < 50; ++round) {
    int found = 0;
    for (const auto& e : fsys::directory_iterator("/proc")) {
      auto name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::error_code ec;
      auto r = fsys::read_symlink(e.path() / "root", ec);
      if (ec || r != root) continue;
      ++found;
      ::kill(std::stoi(name), round < 20 ? SIGTERM : SIGKILL);
    }
    if (!found) return;
    std::this_thread::sleep_for(100ms);
  }
}

// What the guide's test adds around the guide's own commands (docs/airgap/operator-guide.md,
// "How this guide is tested"): systemd is not PID 1 here, so `systemctl start|stop|restart UNIT`
// runs the unit file's own ExecStart= lines (with its UMask= and WorkingDirectory=), and
// `systemctl enable` is the real one, which works on a root without a running systemd.
const char* kGuidePrelude = R"bash(
set -euo pipefail
export HOME=/root
cd /root
ci_unit() { local u=$1; [[ $u == *.* ]] || u=$u.service; echo "/lib/systemd/system/$u"; }
ci_start() {
  local file; file=$(ci_unit "$1")
  local name; name=$(basename "$file" .service)
  local type; type=$(sed -n 's/^Type=//p' "$file")
  local dir; dir=$(sed -n 's/^WorkingDirectory=//p' "$file")
  local mask; mask=$(sed -n 's/^UMask=//p' "$file")
  local cmds; mapfile -t cmds < <(sed -n 's/^ExecStart=//p' "$file")
  local user; user=$(sed -n 's/^User=//p' "$file")
  local rtd; rtd=$(sed -n 's/^RuntimeDirectory=//p' "$file")
  local rtm; rtm=$(sed -n 's/^RuntimeDirectoryMode=//p' "$file")
  local std; std=$(sed -n 's/^StateDirectory=//p' "$file")
  local stm; stm=$(sed -n 's/^StateDirectoryMode=//p' "$file")
  # The folders systemd would make, owned by the unit's User= (root when it has none).
  [ -z "$rtd" ] || [ -d "/run/$rtd" ] || install -d -m "${rtm:-0755}" -o "${user:-root}" -g "${user:-root}" "/run/$rtd"
  [ -z "$std" ] || [ -d "/var/lib/$std" ] || install -d -m "${stm:-0755}" -o "${user:-root}" -g "${user:-root}" "/var/lib/$std"
  if [ "$type" = oneshot ]; then
    local c
    for c in "${cmds[@]}"; do (umask "${mask:-0022}"; cd "${dir:-/}"; eval "$c"); done
    return
  fi
  # Ready when its socket exists (airheal-builder --socket PATH), else when airheald says where
  # it serves.
  local sock; sock=$(sed -n 's/^ExecStart=.* --socket \([^ ]*\).*/\1/p' "$file")
  [ -n "$sock" ] || rm -f /var/lib/airheal/airheald.addr
  (umask "${mask:-0022}"; cd "${dir:-/}"; eval "exec ${cmds[0]}") >>"/var/log/airheal/$name.log" 2>&1 &
  echo $! >"/run/ci-$name.pid"
  local i
  for i in $(seq 300); do
    if [ -n "$sock" ]; then [ -S "$sock" ] && return 0; else [ -s /var/lib/airheal/airheald.addr ] && return 0; fi
    sleep 0.1
  done
  echo "CI: $name did not start:" >&2; cat "/var/log/airheal/$name.log" >&2; return 1
}
ci_stop() {
  local name; name=$(basename "$(ci_unit "$1")" .service)
  [ -f "/run/ci-$name.pid" ] || return 0
  local pid; pid=$(cat "/run/ci-$name.pid"); rm -f "/run/ci-$name.pid"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
systemctl() {
  local verb=$1; shift
  if [ "$verb" = enable ] && [ "${1:-}" = --now ]; then shift; command systemctl enable "$@"; verb=start; fi
  local u
  for u in "$@"; do
    case "$verb" in
      start) ci_start "$u" ;;
      stop) ci_stop "$u" ;;
      restart) ci_stop "$u"; ci_start "$u" ;;
      *) command systemctl "$verb" "$u" ;;
    esac
  done
}
)bash";
}  // namespace

TEST_CASE("The .deb packages build, pass lintian, install into a clean root and serve",
          "[packaging][deb][slow]") {
  for (const char* p : {"dpkg-buildpackage", "dh", "help2man", "lintian", "mmdebstrap"})
    if (!have_program(p)) FAIL(p << " is needed (scripts/setup.sh installs it)");
  TempDir tmp;
  auto out = tmp / "debs";

  // 1. dpkg-buildpackage, then lintian (the build script fails on any lintian error or warning).
  // The binaries the test suite runs are the ones packaged (no second compile).
  auto build = run({(kSource / "packaging/deb/build.sh").string(), "--prebuilt", AIRHEAL_BINARY_DIR,
                    out.string()},
                   3600s);
  INFO(describe_run({"packaging/deb/build.sh"}, build));
  REQUIRE(build.exit_code == 0);
  CHECK(contains(build.out, "deb: lintian clean"));
  auto debs = files_with_extension(out, ".deb");
  REQUIRE(debs.size() == 3);
  auto appliance = find_package(debs, "airheal");
  auto evidence = find_package(debs, "airheal-evidence");
  auto snapshot = find_package(debs, "airheal-snapshot");

  // lintian once more on its own, so the test shows its verdict whatever build.sh does.
  auto changes = files_with_extension(out, ".changes");
  REQUIRE(changes.size() == 1);
  auto lint = run({"lintian", "--fail-on", "error,warning", changes[0].string()}, 1800s);
  INFO(describe_run({"lintian", changes[0].string()}, lint));
  CHECK(lint.exit_code == 0);
  CHECK_FALSE(std::regex_search(lint.out, std::regex("^[EW]: ", std::regex::multiline)));

  // 2. Metadata: Debian's buildah, runc and gpg are dependencies; the split is as documented.
  auto field = [](const fsys::path& deb, const std::string& f) {
    auto r = run({"dpkg-deb", "-f", deb.string(), f});
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  auto depends = field(appliance, "Depends");
  for (const char* d : {"buildah", "runc", "gpg", "libgpgme11", "libarchive13", "libdeflate0",
                        "libzstd1", "libsqlite3-0"})
    CHECK(contains(depends, d));
  CHECK(contains(field(evidence, "Depends"), "gpg"));
  CHECK_FALSE(contains(field(evidence, "Depends"), "buildah"));  // the auditor's tool stays small
  CHECK_FALSE(contains(field(snapshot, "Depends"), "buildah"));
  auto contents = [](const fsys::path& deb) { return run({"dpkg-deb", "-c", deb.string()}).out; };
  auto app_files = contents(appliance);
  for (const char* f :
       {"./usr/sbin/airheald", "./usr/bin/airhealctl", "./lib/systemd/system/airheald.service",
        "./usr/libexec/airheal/airheal-builder", "./lib/systemd/system/airheal-builder.service",
        "./usr/libexec/airheal/airheal-subids", "./lib/systemd/system/airheal-import.path",
        "./lib/systemd/system/airheal-maintenance.timer", "./usr/lib/sysusers.d/airheal.conf",
        "./usr/lib/tmpfiles.d/airheal.conf", "./etc/airheal/airheal.yaml",
        "./usr/share/man/man8/airheald.8.gz", "./usr/share/doc/airheal/operator-guide.md"})
    CHECK(contains(app_files, f));
  CHECK_FALSE(contains(app_files, "airheal-evidence"));
  CHECK(contains(contents(evidence), "./usr/bin/airheal-evidence"));
  CHECK(contains(contents(snapshot), "./usr/bin/airheal-snapshot"));

  // 3. A clean bookworm root with the three packages and what they depend on, from Debian.
  auto root = tmp / "root";
  // The local .debs must be readable inside the root while apt installs them (a setup hook puts
  // them at the same path there; a customize hook removes them). skopeo, openssl and mawk are for
  // the operator guide's commands (a node's client, TLS, awk).
  auto deb_dir = fsys::canonical(out).string();
  auto mm = run({"mmdebstrap", "--quiet", "--variant=apt",
                 "--setup-hook=mkdir -p \"$1" + deb_dir + "\" && cp '" + deb_dir + "'/*.deb \"$1" +
                     deb_dir + "/\"",
                 "--customize-hook=rm -rf \"$1" + deb_dir + "\"",
                 "--include=" + deb_dir + "/" + appliance.filename().string(),
                 "--include=" + deb_dir + "/" + evidence.filename().string(),
                 "--include=" + deb_dir + "/" + snapshot.filename().string(),
                 "--include=skopeo,openssl,mawk,ca-certificates", "bookworm", root.string(),
                 "http://deb.debian.org/debian"},
                1800s);
  INFO(describe_run({"mmdebstrap", "...", root.string()}, mm));
  REQUIRE(mm.exit_code == 0);

  auto in_root = [&](std::vector<std::string> argv, std::chrono::seconds t = 120s) {
    argv.insert(argv.begin(), {"chroot", root.string()});
    return run(argv, t);
  };
  auto status = in_root({"dpkg-query", "-W", "-f=${Package} ${Status}\n", "airheal",
                         "airheal-evidence", "airheal-snapshot", "buildah", "runc", "gpg"});
  INFO(status.out << status.err);
  for (const char* p :
       {"airheal", "airheal-evidence", "airheal-snapshot", "buildah", "runc", "gpg"})
    CHECK(contains(status.out, std::string(p) + " install ok installed"));

  // Files where the packages put them.
  for (const char* f : {"usr/sbin/airheald", "usr/bin/airhealctl", "usr/bin/airheal-evidence",
                        "usr/bin/airheal-snapshot", "lib/systemd/system/airheald.service",
                        "usr/lib/sysusers.d/airheal.conf", "usr/lib/tmpfiles.d/airheal.conf",
                        "etc/airheal/airheal.yaml", "usr/share/man/man8/airhealctl.8.gz",
                        "usr/share/man/man1/airheal-evidence.1.gz"})
    CHECK(fsys::exists(root / f));
  auto conffiles = fs::read_file(root / "var/lib/dpkg/info/airheal.conffiles", 1 << 16);
  REQUIRE(conffiles);
  CHECK(contains(*conffiles, "/etc/airheal/airheal.yaml"));

  // The user and group from sysusers.d, the directories from tmpfiles.d with their owners and
  // modes: the state is the airheal user's (airheald runs as it), /etc/airheal root's.
  auto grp = group_line(root, "airheal");
  REQUIRE_FALSE(grp.empty());
  auto gid = gid_of(grp);
  CHECK(gid < 1000);                                    // a system group
  auto pw = group_line(root, "airheal", "etc/passwd");  // name:x:UID:GID:...
  REQUIRE_FALSE(pw.empty());
  auto uid = static_cast<uid_t>(gid_of(pw));
  CHECK(uid < 1000);  // a system user
  CHECK(uid != 0);
  CHECK(contains(pw, ":/var/lib/airheal:/usr/sbin/nologin"));
  for (auto [dir, mode, owner, group] :
       std::vector<std::tuple<std::string, unsigned, uid_t, gid_t>>{
           {"var/lib/airheal", 0750, uid, gid},
           {"var/lib/airheal/import", 0770, uid, gid},
           {"var/lib/airheal/quarantine", 0750, uid, gid},
           {"var/lib/airheal/heal", 0750, uid, gid},
           {"var/lib/airheal/blobs", 0750, uid, gid},
           {"var/lib/airheal-builder", 0711, 0, 0},
           {"etc/airheal", 0750, 0, gid},
           {"var/log/airheal", 0750, uid, gid}}) {
    struct stat st {};
    INFO(dir);
    REQUIRE(::stat((root / dir).c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == mode);
    CHECK(st.st_uid == owner);
    CHECK(st.st_gid == group);
  }

  // The user rootless builds run as: a system user in airheald's group, with 65536 subordinate
  // uids and gids of its own (airheal-subids, from the postinst), overlapping no one's.
  auto build_pw = group_line(root, "airheal-build", "etc/passwd");
  REQUIRE_FALSE(build_pw.empty());
  CHECK(gid_of(build_pw) < 1000);
  CHECK(gid_of(build_pw) != 0);
  CHECK(contains(grp, "airheal-build"));  // airheal:x:GID:airheal-build
  for (const char* file : {"etc/subuid", "etc/subgid"}) {
    auto ids = fs::read_file(root / file, 1 << 16).value_or("");
    INFO(file << ":\n" << ids);
    CHECK(contains(ids, "airheal-build:"));
    std::istringstream lines(ids);
    std::string line;
    std::vector<std::pair<unsigned long, unsigned long>> ranges;
    while (std::getline(lines, line)) {
      auto a = line.find(':'), b = line.rfind(':');
      if (a == std::string::npos || a == b) continue;
      ranges.emplace_back(std::stoul(line.substr(a + 1, b - a - 1)),
                          std::stoul(line.substr(b + 1)));
      if (line.rfind("airheal-build:", 0) == 0) {
        CHECK(ranges.back().first >= 100000);
        CHECK(ranges.back().second == 65536);
      }
    }
    for (std::size_t i = 0; i < ranges.size(); ++i)
      for (std::size_t j = i + 1; j < ranges.size(); ++j)
        CHECK((ranges[i].first + ranges[i].second <= ranges[j].first ||
               ranges[j].first + ranges[j].second <= ranges[i].first));
  }
  // Run again (an upgrade's postinst), it gives nothing twice.
  auto again = in_root({"/usr/libexec/airheal/airheal-subids", "airheal-build"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.empty());

  // The units enabled by the postinst (deb-systemd-helper works without a running systemd).
  CHECK(fsys::is_symlink(root / "etc/systemd/system/multi-user.target.wants/airheald.service"));
  CHECK(fsys::is_symlink(root /
                         "etc/systemd/system/multi-user.target.wants/airheal-builder.service"));
  CHECK(fsys::is_symlink(root / "etc/systemd/system/paths.target.wants/airheal-import.path"));
  CHECK(
      fsys::is_symlink(root / "etc/systemd/system/timers.target.wants/airheal-maintenance.timer"));
  auto enabled =
      run({"systemctl", "--root=" + root.string(), "is-enabled", "airheald.service",
           "airheal-builder.service", "airheal-import.path", "airheal-maintenance.timer"});
  INFO(enabled.out << enabled.err);
  CHECK(enabled.out == "enabled\nenabled\nenabled\nenabled\n");
  auto verify =
      run({"systemd-analyze", "verify", "--root=" + root.string(), "--man=no", "airheald.service",
           "airheal-builder.service", "airheal-import.path", "airheal-import.service",
           "airheal-maintenance.timer", "airheal-maintenance.service"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);

  // Every binary runs in the clean root: its shared libraries came in through the Depends.
  for (const char* b : {"/usr/sbin/airheald", "/usr/bin/airhealctl", "/usr/bin/airheal-evidence",
                        "/usr/bin/airheal-snapshot"}) {
    auto v = in_root({b, "--version"});
    INFO(b << ": " << v.out << v.err);
    CHECK(v.exit_code == 0);
    CHECK(contains(v.out, "0.1.0"));
  }

  // The installed daemon, with the packaged configuration (state in /var/lib/airheal), serves;
  // airhealctl in the root finds it through /etc/airheal/airheal.yaml with no options.
  auto log = tmp / "airheald.log";
  fsys::remove(root / "tmp/ready");
  pid_t pid =
      spawn({"chroot", root.string(), "/usr/sbin/airheald", "--config", "/etc/airheal/airheal.yaml",
             "--listen", "127.0.0.1:0", "--ready-file", "/tmp/ready"},
            log);
  std::string ready;
  for (int i = 0; i < 300 && ready.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    if (auto r = fs::read_file(root / "tmp/ready", 256)) ready = *r;
  }
  INFO("airheald log: " << fs::read_file(log, 1 << 20).value_or(""));
  REQUIRE_FALSE(ready.empty());
  auto port = static_cast<std::uint16_t>(std::stoi(ready.substr(ready.rfind(':') + 1)));
  {
    HttpClient http("127.0.0.1", port);
    CHECK(http.get("/v2/").status == 200);
    auto api = http.get("/api/v1/status");
    CHECK(api.status == 200);
    CHECK(contains(api.body, "\"images\""));
  }
  auto ctl = in_root({"airhealctl", "status"});
  INFO(ctl.out << ctl.err);
  CHECK(ctl.exit_code == 0);
  CHECK(contains(ctl.out, "state:        /var/lib/airheal"));
  CHECK(contains(ctl.out, "serving on http://127.0.0.1:" + std::to_string(port)));
  CHECK(fsys::exists(root / "var/lib/airheal/metadata.db"));
  // Started as root, it became the state's owner: what it wrote is airheal's.
  CHECK(
      contains(fs::read_file(log, 1 << 20).value_or(""), "running as uid " + std::to_string(uid)));
  {
    struct stat st {};
    REQUIRE(::stat((root / "var/lib/airheal/metadata.db").c_str(), &st) == 0);
    CHECK(st.st_uid == uid);
  }
  ::kill(pid, SIGTERM);
  int wst = 0;
  ::waitpid(pid, &wst, 0);
  CHECK(WIFEXITED(wst));
  CHECK(WEXITSTATUS(wst) == 0);

  // 4. The operator guide, every `sh` block in order, unchanged, in this root.
  {
    auto guide = kSource / "docs/airgap/operator-guide.md";
    auto blocks = markdown_blocks(guide, "sh");
    REQUIRE(blocks.size() >= 15);
    fsys::create_directories(root / "root/packages");
    for (const auto& d : debs) fsys::copy_file(d, root / "root/packages" / d.filename());
    // The connected side's feeds: real Go vulnerability database entries and an OCI image.
    fsys::create_directories(root / "srv/feeds/osv");
    int n = 0;
    for (const auto& e : fsys::directory_iterator(kSource / "tests/data/osv-go"))
      if (e.path().extension() == ".json" && n++ < 20)
        fsys::copy_file(e.path(), root / "srv/feeds/osv" / e.path().filename());
    auto image = make_oci_image(root / "srv/feeds/images/app", "1.0", 2, 64 << 10, 7);
    {
      std::ofstream hosts(root / "etc/hosts", std::ios::app);
      hosts << "127.0.0.1 airheal.lan\n";
    }
    std::string script = kGuidePrelude;
    for (const auto& b : blocks)
      script += "echo '== operator-guide.md line " + std::to_string(b.line) + "'\n" + b.text;
    script += "echo '== operator guide: every block ran'\n";
    REQUIRE(fs::write_file_atomic(root / "root/guide.sh", script));
    // A private mount namespace with /proc for the root; gone when its last process is.
    auto g = run({"unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c",
                  "mount -t proc proc \"$1/proc\" && exec chroot \"$1\" bash /root/guide.sh", "sh",
                  root.string()},
                 1800s);
    kill_processes_in(root);
    INFO("guide output:\n"
         << g.out << "\nstderr:\n"
         << g.err << "\nairheald log:\n"
         << fs::read_file(root / "var/log/airheal/airheald.log", 1 << 20).value_or(""));
    REQUIRE(g.exit_code == 0);
    CHECK(contains(g.out, "== operator guide: every block ran"));
    // What the guide promises its reader along the way.
    CHECK(contains(g.out, "trusted "));  // trust add
    CHECK(
        contains(g.err, "REFUSED replay.tar: replayed snapshot: channel stable is at sequence 2"));
    CHECK(contains(
        g.err,
        "REFUSED /root/tampered.tar: bad signature by key"));  // signatures are checked before the
                                                               // manifest is parsed
    CHECK(std::regex_search(g.out, std::regex("refused, exit 1")));
    CHECK(contains(g.out,
                   image.manifest_digest));  // skopeo pulled through registries.conf + TLS + login
    CHECK(contains(g.out, "cluster-pull may not push: refused"));  // pull-only by default
    CHECK(contains(g.out,
                   "ci-team-a  pull=apps/*;push=apps/team-a/*;delete=;roles=viewer"));  // user list
    CHECK(contains(g.out, "VERIFIED"));  // airheal-evidence on the exported bundle
    CHECK(contains(g.out, "audit journal intact"));
    CHECK(fsys::exists(root / "var/lib/airheal/import/imported/stable-2.tar"));
    CHECK_FALSE(fsys::exists(root / "var/lib/airheal.before-restore"));
    // The containerd hosts.toml the guide writes is valid TOML with the mirror it describes.
    auto toml =
        run({"python3", "-c",
             "import sys,tomllib; d=tomllib.load(open(sys.argv[1],'rb')); print(d['server'], "
             "list(d['host'])[0], d['host']['https://airheal.lan']['capabilities'])",
             (root / "etc/containerd/certs.d/registry.example.org/hosts.toml").string()});
    INFO(toml.err);
    CHECK(toml.out ==
          "https://airheal.lan https://airheal.lan ['pull', 'resolve']\n");  // no fallback to the
                                                                             // upstream name
  }

  // An upgrade from a version whose airheald ran as root: its state (root's, with airheald's own
  // buildah storage) becomes the airheal user's; a link in it is not followed.
  {
    REQUIRE(
        in_root({"chown", "-R", "root:root", "/var/lib/airheal", "/var/log/airheal"}).exit_code ==
        0);
    fsys::create_directories(root / "var/lib/airheal/heal/buildah/root/vfs");
    fsys::create_symlink("/etc/shadow", root / "var/lib/airheal/shadow-link");
    auto deb_in_root = "/root/packages/" + appliance.filename().string();
    // (with /proc, as on a host: systemd-tmpfiles needs it)
    auto up = run({"unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c",
                   "mount -t proc proc \"$1/proc\" && exec chroot \"$1\" dpkg -i \"$2\"", "sh",
                   root.string(), deb_in_root},
                  300s);
    INFO(up.out << up.err);
    CHECK(up.exit_code == 0);
    for (const char* f : {"var/lib/airheal/metadata.db", "var/lib/airheal/audit",
                          "var/lib/airheal/blobs", "var/log/airheal"}) {
      struct stat st {};
      INFO(f);
      CHECK(::lstat((root / f).c_str(), &st) == 0);
      CHECK(st.st_uid == uid);
    }
    CHECK_FALSE(fsys::exists(root / "var/lib/airheal/heal/buildah"));
    struct stat shadow {};
    REQUIRE(::stat((root / "etc/shadow").c_str(), &shadow) == 0);
    CHECK(shadow.st_uid == 0);
  }

  // Purge removes the programs, the units and the conffile, and disables the units.
  auto purge =
      in_root({"dpkg", "--purge", "airheal", "airheal-evidence", "airheal-snapshot"}, 300s);
  INFO(purge.out << purge.err);
  CHECK(purge.exit_code == 0);
  for (const char* f : {"usr/sbin/airheald", "usr/bin/airhealctl", "usr/bin/airheal-evidence",
                        "lib/systemd/system/airheald.service", "etc/airheal/airheal.yaml"})
    CHECK_FALSE(fsys::exists(root / f));
  CHECK_FALSE(fsys::exists(
      fsys::symlink_status(root / "etc/systemd/system/multi-user.target.wants/airheald.service")));
}

TEST_CASE("The .rpm packages build from the spec with rpmbuild", "[packaging][rpm][slow]") {
  for (const char* p : {"rpmbuild", "rpm", "help2man"})
    if (!have_program(p)) FAIL(p << " is needed (scripts/setup.sh installs it)");
  TempDir tmp;
  auto out = tmp / "rpms";
  // Debian has no RPM database to check BuildRequires against: --nodeps (see
  // packaging/rpm/build.sh).
  auto build = run({"env", "AIRHEAL_RPM_NODEPS=1", (kSource / "packaging/rpm/build.sh").string(),
                    "--prebuilt", AIRHEAL_BINARY_DIR, out.string()},
                   3600s);
  INFO(describe_run({"packaging/rpm/build.sh"}, build));
  REQUIRE(build.exit_code == 0);
  auto rpms = files_with_extension(out, ".rpm");
  auto pick = [&](const std::string& prefix) {
    for (const auto& r : rpms) {
      auto b = r.filename().string();
      if (b.rfind(prefix, 0) == 0 && b.find(".src.rpm") == std::string::npos) return r;
    }
    FAIL("no rpm " << prefix);
    return fsys::path();
  };
  auto appliance = pick("airheal-0.1.0");
  auto evidence = pick("airheal-evidence-0.1.0");
  auto snapshot = pick("airheal-snapshot-0.1.0");
  bool have_srpm = std::any_of(rpms.begin(), rpms.end(), [](const fsys::path& p) {
    return p.string().ends_with(".src.rpm");
  });
  CHECK(have_srpm);

  auto q = [](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"rpm", "-qp"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  // Files with the owners and modes the spec gives them.
  auto listing = q({"--qf", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]",
                    appliance.string()});
  INFO(listing);
  for (const char* line :
       {"-rwxr-xr-x root root /usr/sbin/airheald", "-rwxr-xr-x root root /usr/bin/airhealctl",
        "-rw-r--r-- root root /usr/lib/systemd/system/airheald.service",
        "-rw-r--r-- root root /usr/lib/systemd/system/airheal-maintenance.timer",
        "-rw-r--r-- root root /usr/lib/sysusers.d/airheal.conf",
        "-rw-r--r-- root root /usr/lib/tmpfiles.d/airheal.conf",
        "drwxr-x--- root airheal /etc/airheal", "-rw-r----- root airheal /etc/airheal/airheal.yaml",
        "drwxr-x--- airheal airheal /var/lib/airheal",
        "drwxrwx--- airheal airheal /var/lib/airheal/import",
        "drwxr-x--- airheal airheal /var/lib/airheal/heal",
        "drwx--x--x root root /var/lib/airheal-builder",
        "-rwxr-xr-x root root /usr/libexec/airheal/airheal-subids",
        "drwxr-x--- airheal airheal /var/log/airheal",
        "-rw-r--r-- root root /usr/lib/systemd/system/airheal-builder.service"})
    CHECK(contains(listing, line));
  CHECK(contains(q({"--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", appliance.string()}),
                 "cn /etc/airheal/airheal.yaml"));
  CHECK_FALSE(contains(listing, "airheal-evidence"));
  CHECK(contains(q({"-l", evidence.string()}), "/usr/bin/airheal-evidence"));
  CHECK(contains(q({"-l", snapshot.string()}), "/usr/bin/airheal-snapshot"));

  auto requires_ = q({"--requires", appliance.string()});
  for (const char* r : {"buildah", "runc", "gnupg2", "/usr/sbin/groupadd"})
    CHECK(contains(requires_, r));
  CHECK(contains(q({"--requires", evidence.string()}), "gnupg2"));
  CHECK_FALSE(contains(q({"--requires", evidence.string()}), "buildah"));

  // The scriptlets create the group before the files and enable the units through presets.
  auto scripts = q({"--scripts", appliance.string()});
  INFO(scripts);
  CHECK(contains(scripts, "groupadd -r airheal"));
  CHECK(contains(scripts, "useradd -r -g airheal"));
  CHECK(contains(scripts, "useradd -r -U -G airheal"));
  CHECK(contains(scripts, "/usr/libexec/airheal/airheal-subids airheal-build"));
  CHECK(contains(scripts, "systemd-tmpfiles --create /usr/lib/tmpfiles.d/airheal.conf"));
  CHECK(contains(scripts,
                 "preset airheal-builder.service airheald.service airheal-import.path "
                 "airheal-maintenance.timer"));

  // The packaged binary is the one built from this source.
  auto root = tmp / "unpacked";
  fsys::create_directories(root);
  auto unpack = run({"sh", "-c", "cd \"$1\" && rpm2cpio \"$2\" | cpio -idm --quiet", "sh",
                     root.string(), appliance.string()});
  INFO(unpack.out << unpack.err);
  REQUIRE(unpack.exit_code == 0);
  auto v = run({(root / "usr/sbin/airheald").string(), "--version"});
  CHECK(v.exit_code == 0);
  CHECK(contains(v.out, "airheald 0.1.0"));
}
