#include "support/rpm_fixtures.hpp"

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/subprocess.hpp"

namespace airheal::test {
namespace fsys = std::filesystem;

namespace {

// Runs ARGV; throws with its output when it fails (no Catch here, as in apk_fixtures).
std::string must_run(const std::vector<std::string>& argv, const ProcessOptions& o = {}) {
  auto r = run_process(argv, o);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error(cmd + " failed (" + std::to_string(r.exit_code) + "): " + r.out +
                             r.err);
  }
  return r.out;
}

void write(const fsys::path& p, const std::string& text) {
  fsys::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace

fsys::path rpm_home(const fsys::path& dir) {
  fsys::create_directories(dir);
  write(dir / ".rpmmacros", "%_dbpath /var/lib/rpm\n");
  return dir;
}

fsys::path build_rpm(const RpmSpec& spec, const fsys::path& top,
                     const std::optional<RpmSigner>& signer) {
  auto sources = top / "SOURCES" / (spec.name + "-" + spec.version + "-" + spec.release);
  fsys::create_directories(sources);
  std::ostringstream s;
  s << "Name: " << spec.name << "\nVersion: " << spec.version << "\nRelease: " << spec.release
    << "\nSummary: " << spec.name << " (made up for airheal's tests)\nLicense: MIT\n"
    << "AutoReqProv: no\n";
  if (spec.arch == "noarch") s << "BuildArch: noarch\n";
  for (const auto& r : spec.requires_) s << "Requires: " << r << "\n";
  for (const auto& p : spec.provides) s << "Provides: " << p << "\n";
  s << "%description\n" << spec.name << " " << spec.version << "\n%install\n";
  int n = 0;
  std::string files;
  auto add = [&](const std::string& path, const std::string& content, const char* mode) {
    auto src = sources / ("f" + std::to_string(n++));
    write(src, content);
    s << "install -D -m " << mode << " '" << src.string() << "' '%{buildroot}" << path << "'\n";
    files += path + "\n";
  };
  for (const auto& [path, content] : spec.files) add(path, content, "0644");
  for (const auto& [path, content] : spec.programs) add(path, content, "0755");
  std::string plain_files = files;
  files.clear();
  for (const auto& [path, content] : spec.configs) add(path, content, "0644");
  std::string config_files;
  for (std::size_t b = 0, e; b < files.size(); b = e + 1) {
    e = files.find('\n', b);
    config_files += "%config(noreplace) " + files.substr(b, e - b) + "\n";
  }
  files = plain_files + config_files;
  // Each build's files carry its own time, as distributions' reproducible builds clamp them to
  // the changelog date (builds made in one second would otherwise share times, and buildah's vfs
  // driver tells changed files by size and time).
  std::int64_t when = 1600000000;
  for (char c : spec.name + spec.version + spec.release) when = (when * 31 + c) % 1700000000;
  s << "find %{buildroot} -exec touch -h -d @" << (1000000000 + when % 600000000) << " {} +\n";
  if (!spec.post.empty()) s << "%post\n" << spec.post << "\n";
  s << "%files\n" << files;
  auto specfile = top / "SPECS" / (spec.name + "-" + spec.version + ".spec");
  write(specfile, s.str());
  must_run({"rpmbuild", "--quiet", "--define", "_topdir " + top.string(), "--define",
            "_binary_payload w2.xzdio", "-bb", specfile.string()});
  auto rpm = top / "RPMS" / spec.arch /
             (spec.name + "-" + spec.version + "-" + spec.release + "." + spec.arch + ".rpm");
  if (!fsys::exists(rpm)) throw std::runtime_error("rpmbuild wrote no " + rpm.string());
  if (signer) {
    ProcessOptions o;
    o.env_overrides["GNUPGHOME"] = signer->gnupg_home.string();
    // Debian's rpm names gpg2, which Debian's GnuPG no longer installs
    must_run({"rpmsign", "--define", "__gpg /usr/bin/gpg", "--define", "_gpg_name " + signer->name,
              "--define", "_gpg_path " + signer->gnupg_home.string(), "--addsign", rpm.string()},
             o);
  }
  return rpm;
}

GreetRpms build_greet_rpms(const fsys::path& top, const std::optional<RpmSigner>& signer) {
  GreetRpms out;
  std::ifstream bb("/bin/busybox", std::ios::binary);
  std::ostringstream busybox;
  busybox << bb.rdbuf();
  if (busybox.str().empty()) throw std::runtime_error("/bin/busybox (busybox-static) is missing");
  RpmSpec base;
  base.name = "greet-base";
  base.version = "1.0";
  base.arch = "x86_64";
  base.provides = {"/bin/sh"};
  base.programs = {{"/usr/bin/sh", busybox.str()}};
  out.base = build_rpm(base, top, signer);
  auto lib = [&](const std::string& version) {
    RpmSpec s;
    s.name = "libgreet";
    s.version = version;
    s.release = "1.el9";
    s.requires_ = {"greet-base", "/bin/sh"};
    s.files = {{"/usr/share/greet/message", "hello from libgreet " + version + "\n"}};
    s.configs = {{"/etc/greet.conf", "greeting=hello\n"}};
    s.post = "mkdir -p /var/lib/greet && echo \"libgreet " + version +
             " %post ran\" > /var/lib/greet/post-ran";
    return s;
  };
  auto old_lib = lib("1.0");
  old_lib.files["/usr/share/greet/old-only"] = "shipped by 1.0 only\n";
  out.libgreet_old = build_rpm(old_lib, top, signer);
  auto new_lib = lib("1.1");
  new_lib.requires_.push_back("greet-data >= 1.1");
  out.libgreet_new = build_rpm(new_lib, top, signer);
  RpmSpec data;
  data.name = "greet-data";
  data.version = "1.1";
  data.release = "1.el9";
  data.files = {{"/usr/share/greet/data", "greet data 1.1\n"}};
  out.data = build_rpm(data, top, signer);
  RpmSpec app;
  app.name = "greet-app";
  app.version = "1.0";
  app.release = "1.el9";
  app.requires_ = {"libgreet >= 1.0", "/bin/sh"};
  app.programs = {{"/usr/bin/greet", "#!/bin/sh\ncat /usr/share/greet/message\n"}};
  out.app = build_rpm(app, top, signer);
  return out;
}

RpmSigner make_rpm_signing_key(const fsys::path& dir, const std::string& name) {
  RpmSigner k;
  k.gnupg_home = dir / "gnupg";
  k.name = name;
  fsys::create_directories(k.gnupg_home);
  fsys::permissions(k.gnupg_home, fsys::perms::owner_all);
  ProcessOptions o;
  o.env_overrides["GNUPGHOME"] = k.gnupg_home.string();
  must_run({"gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key",
            name, "rsa3072", "sign", "never"},
           o);
  k.public_key = dir / "RPM-GPG-KEY-test";
  write(k.public_key, must_run({"gpg", "--batch", "--armor", "--export", name}, o));
  return k;
}

void create_rpm_repo(const fsys::path& dir) {
  must_run({"createrepo_c", "--quiet", "--no-database", dir.string()});
}

void make_rpm_root(const fsys::path& root, const fsys::path& repo,
                   const std::vector<std::string>& packages, const std::string& id,
                   const std::string& version_id, const std::vector<fsys::path>& trust) {
  fsys::create_directories(root / "usr");
  // usr-merged, as RHEL 9 and Fedora are
  for (auto d : {"bin", "sbin", "lib", "lib64"}) {
    fsys::create_directories(root / "usr" / d);
    if (!fsys::exists(fsys::symlink_status(root / d)))
      fsys::create_symlink(std::string("usr/") + d, root / d);
  }
  write(root / "etc/os-release",
        "NAME=\"airheal test " + id + "\"\nID=\"" + id + "\"\nVERSION_ID=\"" + version_id + "\"\n");
  ProcessOptions o;
  o.env_overrides["HOME"] =
      rpm_home(root.parent_path() / (root.filename().string() + ".home")).string();
  must_run({"rpm", "--root", root.string(), "--dbpath", "/var/lib/rpm", "--initdb"}, o);
  for (const auto& k : trust)
    must_run({"rpm", "--root", root.string(), "--dbpath", "/var/lib/rpm", "--import", k.string()},
             o);
  std::vector<std::string> argv{
      "dnf",
      "-y",
      "-q",
      "--installroot",
      root.string(),
      "--releasever",
      version_id,
      "--setopt=reposdir=/dev/null",
      "--setopt=cachedir=" + (root.parent_path() / (root.filename().string() + ".cache")).string(),
      "--setopt=install_weak_deps=False",
      "--noplugins",
      "--repofrompath",
      "fixture," + repo.string(),
      "--repo",
      "fixture",
      trust.empty() ? "--nogpgcheck" : "--setopt=fixture.gpgcheck=1",
      "install"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  must_run(argv, o);
  // dnf's own logs and caches of the fixture build are not part of the image
  for (auto p : {"var/log/dnf.log", "var/log/dnf.librepo.log", "var/log/dnf.rpm.log",
                 "var/log/hawkey.log"}) {
    std::error_code ec;
    fsys::remove(root / p, ec);
  }
}

namespace {

// Copies the files of the host's packages NAMES and their dependency closure into ROOT.
void add_host_packages(const fsys::path& root, const std::vector<std::string>& names) {
  // Debian's installed packages, their dependencies (the first installed alternative) and what
  // they provide: the closure of dnf.
  auto out = must_run({"dpkg-query", "-W", "-f",
                       "${Package}\t${Status}\t${Depends}, ${Pre-Depends}\t${Provides}\n"});
  std::map<std::string, std::string> depends;
  std::map<std::string, std::string> provider;
  std::istringstream lines(out);
  std::string line;
  auto split = [](const std::string& s, char c) {
    std::vector<std::string> v;
    std::string cur;
    for (char x : s) {
      if (x == c) {
        v.push_back(cur);
        cur.clear();
      } else {
        cur += x;
      }
    }
    v.push_back(cur);
    return v;
  };
  auto name_of = [](std::string s) {
    auto b = s.find_first_not_of(' ');
    if (b == std::string::npos) return std::string();
    s = s.substr(b);
    s = s.substr(0, s.find_first_of(" :("));
    return s;
  };
  while (std::getline(lines, line)) {
    auto f = split(line, '\t');
    if (f.size() < 4 || f[1].find("ok installed") == std::string::npos) continue;
    depends[f[0]] = f[2];
    for (const auto& p : split(f[3], ','))
      if (auto n = name_of(p); !n.empty()) provider.emplace(n, f[0]);
  }
  std::set<std::string> seen;
  std::vector<std::string> queue(names.rbegin(), names.rend());
  while (!queue.empty()) {
    auto p = queue.back();
    queue.pop_back();
    if (!depends.count(p) || !seen.insert(p).second) continue;
    for (const auto& alt : split(depends[p], ','))
      for (const auto& a : split(alt, '|')) {
        auto n = name_of(a);
        if (n.empty()) continue;
        if (depends.count(n)) {
          queue.push_back(n);
          break;
        }
        if (auto it = provider.find(n); it != provider.end()) {
          queue.push_back(it->second);
          break;
        }
      }
  }
  for (const auto& n : names)
    if (!seen.count(n)) throw std::runtime_error(n + " is not installed on this host");
  for (const auto& p : seen) {
    std::istringstream files(must_run({"dpkg-query", "-L", p}));
    while (std::getline(files, line)) {
      if (line.empty() || line[0] != '/') continue;
      if (line.starts_with("/usr/share/doc") || line.starts_with("/usr/share/man") ||
          line.starts_with("/usr/share/locale") || line.starts_with("/usr/share/info") ||
          line.starts_with("/usr/share/lintian"))
        continue;
      std::error_code ec;
      auto st = fsys::symlink_status(line, ec);
      if (ec || st.type() == fsys::file_type::not_found) continue;
      auto to = root / line.substr(1);
      if (st.type() == fsys::file_type::directory) {
        fsys::create_directories(to, ec);
        continue;
      }
      if (fsys::exists(fsys::symlink_status(to, ec))) continue;
      fsys::create_directories(to.parent_path(), ec);
      if (st.type() == fsys::file_type::symlink)
        fsys::copy_symlink(line, to, ec);
      else if (st.type() == fsys::file_type::regular)
        fsys::copy_file(line, to, ec);
      if (ec) throw std::runtime_error("cannot copy " + line + ": " + ec.message());
    }
  }
  write(root / "etc/rpm/macros.dbpath", "%_dbpath /var/lib/rpm\n");
}

}  // namespace

void add_host_rpm(const fsys::path& root) { add_host_packages(root, {"rpm"}); }

void add_host_dnf(const fsys::path& root) {
  add_host_packages(root, {"dnf", "rpm", "python3"});
  // Python's bytecode, as a distribution's image ships it (Debian's packages compile it when they
  // are installed, so dpkg's file lists do not name it); otherwise the first dnf run in the image
  // would write it into the heal layer.
  std::vector<std::string> compile{"python3", "-m",          "compileall", "-q",
                                   "-s",      root.string(), "-p",         "/"};
  for (auto d : {"usr/lib/python3/dist-packages", "usr/lib/python3.11"})
    if (fsys::exists(root / d)) compile.push_back((root / d).string());
  must_run(compile);
}

std::string rpm_in_root(const fsys::path& root, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"rpm", "--root", root.string(), "--dbpath", "/var/lib/rpm"};
  argv.insert(argv.end(), args.begin(), args.end());
  return must_run(argv);
}

}  // namespace airheal::test
