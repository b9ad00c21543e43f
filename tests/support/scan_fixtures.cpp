#include "support/scan_fixtures.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "core/fs.hpp"
#include "heal/deb/control.hpp"
#include "scan/pkgdb.hpp"
#include "support/heal_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"
#include "version/version.hpp"

namespace airheal::test {
namespace fsys = std::filesystem;

// (Defined here rather than in test_support.cpp, which tools without Catch also link.)
std::string describe_run(const std::vector<std::string>& argv, const ProcessResult& r) {
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  return cmd + "\nexit " + std::to_string(r.exit_code) + "\nstdout: " + r.out.substr(0, 8000) +
         "\nstderr: " + r.err.substr(0, 8000);
}

ProcessResult run_ok(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  auto r = run(argv, timeout);
  INFO(describe_run(argv, r));
  REQUIRE(r.exit_code == 0);
  return r;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

ProcessResult Ctl::operator()(std::vector<std::string> args) const {
  args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
  return run_ok(args);
}

nlohmann::json Ctl::json_of(std::vector<std::string> args) const {
  args.insert(args.begin(), "--json");
  return nlohmann::json::parse((*this)(args).out);
}

std::filesystem::path source_dir() { return AIRHEAL_SOURCE_DIR; }

// Fixtures are shared by test processes running in parallel (ctest -j): each is built under an
// exclusive lock on the cache, and readers wait for it.
class CacheLock {
 public:
  CacheLock() {
    if (depth_++ > 0) return;  // re-entered from another fixture function: already held
    fd_ = ::open((fixture_cache() / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~CacheLock() {
    --depth_;
    if (fd_ >= 0) ::close(fd_);
  }
  CacheLock(const CacheLock&) = delete;

 private:
  int fd_ = -1;
  static inline thread_local int depth_ = 0;
};

fsys::path fixture_cache() {
  auto p = fsys::temp_directory_path() / "airheal-fixtures";
  fsys::create_directories(p);
  return p;
}

fsys::path debian_minbase_tar() {
  CacheLock lock;
  auto out = fixture_cache() / "bookworm-minbase.tar";
  if (fsys::exists(out)) return out;
  if (!have_program("mmdebstrap")) FAIL("mmdebstrap is needed (scripts/setup.sh installs it)");
  auto tmp = fixture_cache() / ("bookworm-minbase.tar.part" + std::to_string(::getpid()));
  run_ok({"mmdebstrap", "--quiet", "--variant=minbase", "--format=tar", "bookworm", tmp.string(),
          "http://deb.debian.org/debian"});
  fsys::rename(tmp, out);
  return out;
}

fsys::path debian_minbase_status() {
  CacheLock lock;
  auto out = fixture_cache() / "bookworm-minbase.status";
  if (fsys::exists(out)) return out;
  auto r = run_ok({"tar", "-xOf", debian_minbase_tar().string(), "./var/lib/dpkg/status"});
  auto tmp = out.string() + ".part";
  std::ofstream(tmp, std::ios::binary) << r.out;
  fsys::rename(tmp, out);
  return out;
}

fsys::path debian_security_tracker() {
  CacheLock lock;
  auto out = fixture_cache() / "bookworm-security-tracker.json";
  if (fsys::exists(out)) return out;
  run_ok({"/usr/bin/python3",
          std::string(AIRHEAL_SOURCE_DIR) + "/tests/fixtures/debian_security_advisories.py",
          debian_minbase_status().string(), out.string(), "--cache",
          (fixture_cache() / "debian-cache").string()});
  return out;
}

std::string minbase_version(const std::string& package) {
  auto text = fs::read_file(debian_minbase_status(), 64 << 20);
  REQUIRE(text);
  for (const auto& p : scan::parse_dpkg_status(*text))
    if (p.name == package) return p.version;
  FAIL("package " << package << " is not in the minbase image");
  return {};
}

fsys::path download_deb(const std::string& package, const std::string& version) {
  CacheLock lock;
  auto dir = fixture_cache() / "debs";
  fsys::create_directories(dir);
  for (const auto& e : fsys::directory_iterator(dir)) {
    auto n = e.path().filename().string();
    if (n.rfind(package + "_", 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".deb") {
      auto v = run({"dpkg-deb", "-f", e.path().string(), "Version"});
      if (v.exit_code == 0 && v.out.substr(0, v.out.find('\n')) == version) return e.path();
    }
  }
  auto r = run({"env", "--chdir=" + dir.string(), "apt-get", "download", package + "=" + version});
  if (r.exit_code != 0) {
    run_ok({"apt-get", "update", "-qq"});
    run_ok({"env", "--chdir=" + dir.string(), "apt-get", "download", package + "=" + version});
  }
  for (const auto& e : fsys::directory_iterator(dir)) {
    auto n = e.path().filename().string();
    if (n.rfind(package + "_", 0) == 0) {
      auto v = run({"dpkg-deb", "-f", e.path().string(), "Version"});
      if (v.out.substr(0, v.out.find('\n')) == version) return e.path();
    }
  }
  FAIL("apt-get download " << package << "=" << version << " left no .deb");
  return {};
}

fsys::path security_deb(const std::string& package) {
  CacheLock lock;
  auto r = run({"apt-cache", "madison", package});
  if (r.exit_code != 0 || r.out.find("-security") == std::string::npos) {
    run_ok({"apt-get", "update", "-qq"});
    r = run({"apt-cache", "madison", package});
  }
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("-security") == std::string::npos) continue;
    auto a = line.find('|'), b = line.find('|', a + 1);
    auto v = line.substr(a + 1, b - a - 1);
    v = v.substr(v.find_first_not_of(' '));
    v = v.substr(0, v.find_last_not_of(' ') + 1);
    return download_deb(package, v);
  }
  return {};
}

fsys::path go_binary() {
  CacheLock lock;
  auto out = fixture_cache() / "go-app";
  if (fsys::exists(out)) return out;
  fsys::path go = "/usr/lib/go-1.19/bin/go";
  if (!fsys::exists(go)) FAIL("golang-1.19-go is needed (scripts/setup.sh installs it)");
  TempDir src;
  fsys::create_directories(src / "greeter");
  std::ofstream(src / "go.mod")
      << "module example.com/app\n\ngo 1.19\n\nrequire example.com/greeter v1.2.3\n\n"
         "replace example.com/greeter v1.2.3 => ./greeter\n";
  std::ofstream(src / "main.go")
      << "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\n\t\"example.com/greeter\"\n)\n\n"
         "func main() {\n\tfmt.Println(greeter.Hello())\n\t_ = http.StatusOK\n}\n";
  std::ofstream(src / "greeter" / "go.mod") << "module example.com/greeter\n\ngo 1.19\n";
  std::ofstream(src / "greeter" / "greeter.go")
      << "package greeter\n\nfunc Hello() string { return \"hello\" }\n";
  auto tmp = out.string() + ".part";
  run_ok({"env", "--chdir=" + src.path().string(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod",
          "GOPROXY=off", "GOTOOLCHAIN=local", "GOCACHE=" + (fixture_cache() / "gocache").string(),
          "GOPATH=" + (fixture_cache() / "gopath").string(), go.string(), "build", "-o", tmp, "."});
  fsys::rename(tmp, out);
  return out;
}

nlohmann::json greeter_osv(const std::string& id, const std::string& fixed) {
  nlohmann::json events = nlohmann::json::array({{{"introduced", "0"}}});
  if (!fixed.empty()) events.push_back({{"fixed", fixed}});
  return {{"schema_version", "1.3.1"},
          {"id", id},
          {"modified", "2026-11-01T00:00:00Z"},
          {"published", "2026-11-01T00:00:00Z"},
          {"summary", "greeter test advisory"},
          {"affected",
           nlohmann::json::array(
               {{{"package", {{"name", "example.com/greeter"}, {"ecosystem", "Go"}}},
                 {"ranges", nlohmann::json::array({{{"type", "SEMVER"}, {"events", events}}})}}})},
          {"database_specific", {{"severity", "HIGH"}}}};
}

void write_greeter_advisory(const fsys::path& dir, const std::string& id,
                            const std::string& fixed) {
  fsys::create_directories(dir);
  std::ofstream(dir / (id + ".json")) << greeter_osv(id, fixed).dump(2);
}

void import_greeter_gold(const fsys::path& work, const std::string& address,
                         const fsys::path& state, const std::vector<std::string>& refs,
                         const Signer& signer, bool with_unfixed) {
  fsys::create_directories(work / "root");
  fsys::copy_file(go_greeter_app("v1.2.3"), work / "root" / "app",
                  fsys::copy_options::overwrite_existing);
  run_ok({"tar", "-cf", (work / "app.tar").string(), "-C", (work / "root").string(), "app"});
  make_oci_image_from_tars(work / "layout", "app", {work / "app.tar"});
  for (const auto& ref : refs)
    run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
            "oci:" + (work / "layout").string() + ":app", "docker://" + address + "/" + ref});
  write_greeter_advisory(work / "adv", "GO-2026-9001", "1.2.4");
  if (with_unfixed) write_greeter_advisory(work / "adv", "GO-2026-9002", "");
  fsys::create_directories(work / "gold");
  fsys::copy_file(go_greeter_app("v1.2.4"), work / "gold" / "app",
                  fsys::copy_options::overwrite_existing);
  std::ofstream(work / "gold" / "app.json") << R"({"path": "/app", "version": "1.2.4"})";
  auto snap = work / "go-1.snapshot";
  run_ok({airheal_snapshot_path().string(), "create", "--channel", "go", "--sequence", "1",
          "--expires", "30d", "--out", snap.string(), "--advisories", (work / "adv").string(),
          "--artifacts", (work / "gold").string()});
  run_ok({airheal_snapshot_path().string(), "sign", snap.string(), "--key", signer.fingerprint(),
          "--gpg-home", signer.home().string()});
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    run_ok(args);
  };
  ctl({"trust", "add", signer.write_public_key(work).string(), "--channel", "go"});
  ctl({"import", snap.string()});
}

fsys::path go_greeter_app(const std::string& greeter_version) {
  CacheLock lock;
  auto out = fixture_cache() / ("greeter-app-" + greeter_version);
  if (fsys::exists(out)) return out;
  fsys::path go = "/usr/lib/go-1.19/bin/go";
  if (!fsys::exists(go)) FAIL("golang-1.19-go is needed (scripts/setup.sh installs it)");
  TempDir src;
  fsys::create_directories(src / "vendor/example.com/greeter");
  std::ofstream(src / "go.mod")
      << "module example.com/app\n\ngo 1.19\n\nrequire example.com/greeter " << greeter_version
      << "\n";
  std::ofstream(src / "vendor/modules.txt")
      << "# example.com/greeter " << greeter_version << "\n## explicit\nexample.com/greeter\n";
  std::ofstream(src / "vendor/example.com/greeter/greeter.go")
      << "package greeter\n\nfunc Hello() string { return \"hello from greeter " << greeter_version
      << "\" }\n";
  std::ofstream(src / "main.go")
      << "package main\n\nimport "
         "(\n\t\"fmt\"\n\t\"os\"\n\t\"time\"\n\n\t\"example.com/greeter\"\n)\n\n"
         "func main() {\n\tif len(os.Args) > 1 && os.Args[1] == \"fail\" {\n\t\tos.Exit(4)\n\t}\n"
         "\tif len(os.Args) > 1 && os.Args[1] == \"sleep\" {\n\t\ttime.Sleep(10 * "
         "time.Minute)\n\t}\n"
         "\tfmt.Println(greeter.Hello())\n}\n";
  auto tmp = out.string() + ".part";
  run_ok({"env", "--chdir=" + src.path().string(), "CGO_ENABLED=0", "GOFLAGS=-mod=vendor",
          "GOPROXY=off", "GOTOOLCHAIN=local", "GOCACHE=" + (fixture_cache() / "gocache").string(),
          "GOPATH=" + (fixture_cache() / "gopath").string(), go.string(), "build", "-o", tmp, "."});
  fsys::rename(tmp, out);
  return out;
}

fsys::path distroless_root(const fsys::path& root) {
  std::map<std::string, fsys::path> debs;
  for (auto p : {"base-files", "libc6", "libcrypt1", "zlib1g", "perl-base", "libpcre2-8-0"}) {
    debs[p] = download_deb(p, minbase_version(p));
    run_ok({"dpkg-deb", "-x", debs[p].string(), root.string()});
  }
  auto statusd = root / "var/lib/dpkg/status.d";
  fsys::create_directories(statusd / "perl-base");
  auto control = [&](const std::string& p) {
    return run_ok({"dpkg-deb", "-f", debs[p].string()}).out;
  };
  auto md5sums = [&](const std::string& p) {
    return run_ok({"dpkg-deb", "-I", debs[p].string(), "md5sums"}).out;
  };
  std::ofstream(statusd / "libc6") << control("libc6");  // file form
  std::ofstream(statusd / "libc6.md5sums") << md5sums("libc6");
  std::ofstream(statusd / "libcrypt1") << control("libcrypt1");  // file form without md5sums
  std::ofstream(statusd / "perl-base" / "control") << control("perl-base");  // directory form
  std::ofstream(statusd / "perl-base" / "md5sums") << md5sums("perl-base");
  std::ofstream(statusd / "base") << control("base-files") << "\n"
                                  << control("zlib1g") << "\n"
                                  << control("libpcre2-8-0");
  return root;
}

std::string buildah_image(const fsys::path& work, const fsys::path& root, const std::string& dest,
                          const std::vector<std::string>& entrypoint) {
  BuildahCli with{work};
  auto ctr = with({"from", "scratch"}).out;
  ctr = ctr.substr(0, ctr.find_last_not_of("\n ") + 1);
  with({"copy", ctr, root.string() + "/", "/"});
  if (!entrypoint.empty()) {
    std::string ep = "[";
    for (std::size_t i = 0; i < entrypoint.size(); ++i)
      ep += (i ? ",\"" : "\"") + entrypoint[i] + "\"";
    with({"config", "--entrypoint", ep + "]", "--cmd", "", ctr});
  }
  static int counter = 0;
  auto name = "localhost/airheal-fixture-" + std::to_string(::getpid()) + "-" +
              std::to_string(++counter) + ":latest";
  with({"commit", "--quiet", "--format", "oci", ctr, name});
  with({"push", "--quiet", "--tls-verify=false", name, "docker://" + dest});
  with({"rm", ctr});
  return name;
}

DebianImage debian_image(const std::string& suite, const std::string& variant,
                         const std::vector<std::string>& include, bool with_security) {
  CacheLock lock;
  std::string key = suite + (with_security ? "-with-security-" : "-") + variant;
  std::string inc;
  for (const auto& p : include) inc += (inc.empty() ? "" : ",") + p;
  if (!include.empty()) key += "-" + sha256_hex(inc).substr(0, 12);
  DebianImage img{fixture_cache() / (key + ".tar"), fixture_cache() / (key + ".status")};
  if (fsys::exists(img.tar) && fsys::exists(img.status)) return img;
  if (!have_program("mmdebstrap")) FAIL("mmdebstrap is needed (scripts/setup.sh installs it)");
  auto tmp = fixture_cache() / (key + ".tar.part" + std::to_string(::getpid()));
  std::vector<std::string> argv = {"mmdebstrap", "--quiet", "--variant=" + variant, "--format=tar"};
  if (!inc.empty()) argv.push_back("--include=" + inc);
  for (auto a : {suite, tmp.string(), "deb http://deb.debian.org/debian " + suite + " main"})
    argv.push_back(a);
  if (with_security)
    argv.push_back("deb http://deb.debian.org/debian-security " + suite + "-security main");
  run_ok(argv, std::chrono::seconds(1800));
  auto status = run_ok({"tar", "-xOf", tmp.string(), "./var/lib/dpkg/status"});
  std::ofstream(img.status.string() + ".part", std::ios::binary) << status.out;
  fsys::rename(img.status.string() + ".part", img.status);
  fsys::rename(tmp, img.tar);
  return img;
}

std::vector<std::string> realistic_packages(const std::string& suite) {
  return {"openssl",
          suite == "bullseye" ? "libssl1.1" : "libssl3",
          "curl",
          "openssh-client",
          "python3",
          "perl",
          "libpam-modules",
          "libsystemd0",
          "libxml2",
          "zlib1g",
          "ca-certificates",
          "tzdata"};
}

fsys::path security_advisories(const fsys::path& status, const std::string& suite) {
  CacheLock lock;
  auto out = fixture_cache() / (status.stem().string() + "-" + suite + "-security-tracker.json");
  if (fsys::exists(out)) return out;
  run_ok({"/usr/bin/python3",
          std::string(AIRHEAL_SOURCE_DIR) + "/tests/fixtures/debian_security_advisories.py",
          status.string(), out.string(), "--suite", suite, "--cache",
          (fixture_cache() / "debian-cache").string()},
         std::chrono::seconds(1800));
  return out;
}

SecurityBuilds security_builds(const fsys::path& status, const std::string& suite,
                               const fsys::path& out) {
  CacheLock lock;
  namespace deb = heal::deb;
  auto dir = fixture_cache() / ("apt-" + suite + "-security");
  for (auto sub : {"etc/sources.list.d", "etc/preferences.d", "state/lists/partial",
                   "cache/archives/partial", "debs"})
    fsys::create_directories(dir / sub);
  std::ofstream(dir / "etc/sources.list")
      << "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
         "http://deb.debian.org/debian-security "
      << suite << "-security main\n";
  std::ofstream(dir / "etc/preferences").close();
  std::ofstream(dir / "status").close();
  std::vector<std::string> apt = {
      "-o", "Dir::Etc::SourceList=" + (dir / "etc/sources.list").string(),
      "-o", "Dir::Etc::SourceParts=" + (dir / "etc/sources.list.d").string(),
      "-o", "Dir::Etc::Preferences=" + (dir / "etc/preferences").string(),
      "-o", "Dir::Etc::PreferencesParts=" + (dir / "etc/preferences.d").string(),
      "-o", "Dir::State=" + (dir / "state").string(),
      "-o", "Dir::State::status=" + (dir / "status").string(),
      "-o", "Dir::Cache=" + (dir / "cache").string(),
      "-o", "APT::Architecture=amd64",
      "-o", "APT::Architectures=amd64",
      "-o", "Acquire::Languages=none",
      "-o", "Acquire::GzipIndexes=false",
      "-o", "quiet=1"};
  auto with = [&](std::string tool, std::vector<std::string> args) {
    std::vector<std::string> v = {"env", "--chdir=" + (dir / "debs").string(), tool};
    v.insert(v.end(), apt.begin(), apt.end());
    v.insert(v.end(), args.begin(), args.end());
    return v;
  };
  // Today's index of the suite, checked against its signed InRelease by apt.
  run_ok(with("apt-get", {"update"}), std::chrono::seconds(600));
  std::string index;
  for (const auto& e : fsys::directory_iterator(dir / "state/lists"))
    if (e.path().filename().string().ends_with("_main_binary-amd64_Packages"))
      index = *fs::read_file(e.path(), 256 << 20);
  REQUIRE_FALSE(index.empty());
  auto secp = deb::parse_paragraphs(index, 256 << 20);
  REQUIRE(secp);
  auto newer = [](const std::string& a, const std::string& b) {
    return version::compare_dpkg(a, b).value_or(0) > 0;
  };
  std::map<std::string, deb::Package> newest;  // binary -> newest security build (amd64 or all)
  std::map<std::string, std::string> source_newest;
  for (const auto& p : *secp) {
    auto pkg = deb::package_from(p);
    if (!pkg || (pkg->architecture != "amd64" && pkg->architecture != "all")) continue;
    if (!newest.count(pkg->name) || newer(pkg->version, newest[pkg->name].version))
      newest[pkg->name] = *pkg;
    if (!source_newest.count(pkg->source) || newer(pkg->source_version, source_newest[pkg->source]))
      source_newest[pkg->source] = pkg->source_version;
  }
  auto installed_paras = deb::parse_paragraphs(*fs::read_file(status, 64 << 20));
  REQUIRE(installed_paras);
  std::vector<deb::Package> installed;
  for (const auto& p : *installed_paras)
    if (auto pkg = deb::package_from(p); pkg && pkg->installed()) installed.push_back(*pkg);
  SecurityBuilds out_builds;
  for (const auto& i : installed)
    if (source_newest.count(i.source) && newer(source_newest[i.source], i.source_version))
      out_builds.sources.insert(i.source);
  fsys::create_directories(out);
  for (const auto& i : installed) {
    if (!out_builds.sources.count(i.source)) continue;
    auto it = newest.find(i.name);
    if (it == newest.end() || !newer(it->second.version, i.version)) {
      out_builds.absent.push_back(i.name);
      continue;
    }
    auto v = it->second.version;
    auto file_version = v;
    if (auto c = file_version.find(':'); c != std::string::npos) file_version.replace(c, 1, "%3a");
    auto file =
        dir / "debs" / (i.name + "_" + file_version + "_" + it->second.architecture + ".deb");
    if (!fsys::exists(file))
      run_ok(with("apt-get", {"download", i.name + "=" + v}), std::chrono::seconds(600));
    REQUIRE(fsys::exists(file));
    fsys::copy_file(file, out / file.filename(), fsys::copy_options::overwrite_existing);
    out_builds.versions[i.name] = v;
    out_builds.installed[i.name] = i.version;
    out_builds.source_of[i.name] = i.source;
  }
  return out_builds;
}

}  // namespace airheal::test
