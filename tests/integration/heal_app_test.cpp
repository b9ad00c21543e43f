// Application packages healed in place, end to end, from real artefacts: a Debian bookworm image
// with Debian's own Java 17, Python 3.11 and Node.js 18 holding an application whose libraries
// are vulnerable (guava 31.1 from bookworm's libguava-java under /app/lib; commons-io 2.11.0 from
// bookworm inside a Spring-Boot-style fat jar, stored as Spring Boot requires; requests 2.28.1
// from bookworm's python3-requests in a virtualenv, laid out as pip installs it; minimist 1.2.5
// from the npm registry under node_modules with its package-lock.json). One signed snapshot
// carries GitHub's advisories (tests/data/ghsa-sample) and the fixed artefacts as they are today:
// Debian trixie's guava and commons-io jars, a wheel of trixie's python3-requests files (no
// Python package index is reachable; the wheel is assembled here from Debian's files) and
// minimist 1.2.6 from the npm registry. The healed image's own java, python3 and node load the
// fixed versions in its test command, with no network. Debian's own python3-urllib3 in the image
// (1.26.12, a backported fix) must not be reported by its upstream version.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/fs.hpp"
#include "heal/app/app_replace.hpp"
#include "support/app_fixtures.hpp"
#include "support/heal_fixtures.hpp"
#include "support/scan_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

std::string bytes_of(const fsys::path& p) {
  auto r = fs::read_file(p, 512u << 20);
  REQUIRE(r);
  return *r;
}

void put(const fsys::path& p, const std::string& bytes, fsys::perms mode = fsys::perms(0644)) {
  fsys::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
  fsys::permissions(p, mode);
}

// The files of Debian PACKAGE (a downloaded .deb) under DIR.
fsys::path unpack_deb(const fsys::path& deb, const fsys::path& dir) {
  fsys::create_directories(dir);
  run_ok({"dpkg-deb", "-x", deb.string(), dir.string()});
  return dir;
}

// The real jar (not a symbolic link) among JAR_NAMES under ROOT/usr/share/java.
fsys::path real_jar(const fsys::path& root, const std::string& stem) {
  for (const auto& e : fsys::directory_iterator(root / "usr/share/java"))
    if (e.is_regular_file() && !e.is_symlink() && e.path().filename().string().starts_with(stem) &&
        e.path().extension() == ".jar")
      return e.path();
  FAIL("no " << stem << "*.jar under " << root);
  return {};
}

const char* kCheckJava = R"(import java.io.*;
import java.util.Properties;
import java.util.jar.*;
import java.util.zip.ZipEntry;

// What the JVM loads: guava from the class path, commons-io from inside the fat jar.
public class Check {
  static String version(InputStream in) throws IOException {
    Properties p = new Properties();
    p.load(in);
    return p.getProperty("version");
  }
  public static void main(String[] args) throws Exception {
    Class.forName("com.google.common.base.Preconditions");
    System.out.println("guava " + version(Check.class.getClassLoader().getResourceAsStream(
        "META-INF/maven/com.google.guava/guava/pom.properties")));
    try (JarFile outer = new JarFile(args[0])) {
      JarEntry e = outer.getJarEntry("BOOT-INF/lib/commons-io.jar");
      if (e.getMethod() != ZipEntry.STORED) throw new Error("the nested jar is not stored");
      try (JarInputStream nested = new JarInputStream(outer.getInputStream(e))) {
        for (JarEntry n; (n = nested.getNextJarEntry()) != null;)
          if (n.getName().equals("META-INF/maven/commons-io/commons-io/pom.properties"))
            System.out.println("commons-io " + version(nested));
      }
    }
  }
}
)";

}  // namespace

TEST_CASE(
    "Java libraries (one in a fat jar) and a virtualenv and node_modules are healed in place from "
    "one snapshot",
    "[integration][heal][app][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  if (!have_program("javac")) FAIL("javac is needed to compile the image's check class");
  HealAppliance a;
  a.start(
      "scan:\n  poll_interval: 1s\nheal:\n  rules:\n"
      "    - {repository: \"apps/shop\", test: [\"/bin/sh\", \"/app/check.sh\"]}\n");
  auto work = a.tmp / "work";

  // The fixed artefacts, as Debian trixie and the npm registry have them today.
  auto trixie_guava = unpack_deb(suite_deb("trixie", "libguava-java"), work / "trixie-guava");
  auto trixie_io = unpack_deb(suite_deb("trixie", "libcommons-io-java"), work / "trixie-io");
  auto trixie_requests = unpack_deb(suite_deb("trixie", "python3-requests"), work / "trixie-req");
  auto guava_fixed = bytes_of(real_jar(trixie_guava, "guava"));
  auto io_fixed = bytes_of(real_jar(trixie_io, "commons-io"));
  auto gid = heal::app::identify(guava_fixed, "guava.jar");
  auto iid = heal::app::identify(io_fixed, "commons-io.jar");
  REQUIRE(gid);
  REQUIRE(iid);
  // the trixie requests files as a wheel
  std::string req_dist_info, req_version;
  auto req_site = trixie_requests / "usr/lib/python3/dist-packages";
  for (const auto& e : fsys::directory_iterator(req_site))
    if (e.path().filename().string().starts_with("requests-") &&
        e.path().extension() == ".dist-info")
      req_dist_info = e.path().filename().string();
  REQUIRE_FALSE(req_dist_info.empty());
  req_version = req_dist_info.substr(9, req_dist_info.size() - 9 - 10);
  auto wheel = wheel_from_tree(req_site, req_dist_info);
  auto rid = heal::app::identify(wheel, "requests-" + req_version + "-py3-none-any.whl");
  REQUIRE(rid);
  CHECK(rid->version == req_version);
  auto minimist_old = npm_tarball("minimist", "1.2.5");
  auto minimist_new = npm_tarball("minimist", "1.2.6");

  // The image: Debian bookworm with Debian's runtimes, and the application.
  auto base =
      debian_image("bookworm", "minbase",
                   {"openjdk-17-jre-headless", "python3", "python3-urllib3", "python3-idna",
                    "python3-charset-normalizer", "python3-chardet", "python3-certifi", "nodejs"});
  auto root = work / "root";
  fsys::create_directories(root);
  run_ok({"tar", "-xf", base.tar.string(), "-C", root.string()}, std::chrono::seconds(600));
  auto bookworm = work / "bookworm";
  for (auto [pkg, ver] : {std::pair{"libguava-java", "31.1-1"},
                          {"libcommons-io-java", "2.11.0-2"},
                          {"python3-requests", "2.28.1+dfsg-1"}})
    unpack_deb(download_deb(pkg, ver), bookworm);
  // /app/lib/guava.jar and a fat jar with commons-io stored under BOOT-INF/lib (made-up demo
  // metadata around the real library)
  put(root / "app/lib/guava.jar", bytes_of(bookworm / "usr/share/java/guava.jar"));
  auto fat = work / "fat";
  put(fat / "META-INF/MANIFEST.MF",
      "Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n"
      "Start-Class: com.example.Shop\r\n\r\n");
  put(fat / "META-INF/maven/com.example/shop/pom.properties",
      "groupId=com.example\nartifactId=shop\nversion=1.0.0\n");
  put(fat / "BOOT-INF/classpath.idx", "- \"BOOT-INF/lib/commons-io.jar\"\n");
  put(fat / "BOOT-INF/lib/commons-io.jar", bytes_of(bookworm / "usr/share/java/commons-io.jar"));
  run_ok({"env", "--chdir=" + fat.string(), "zip", "-q", "-X", "../shop.jar",
          "META-INF/MANIFEST.MF", "META-INF/maven/com.example/shop/pom.properties",
          "BOOT-INF/classpath.idx"});
  run_ok({"env", "--chdir=" + fat.string(), "zip", "-q", "-X", "-0", "../shop.jar",
          "BOOT-INF/lib/commons-io.jar"});
  put(root / "app/shop.jar", bytes_of(work / "shop.jar"));
  put(work / "javac/Check.java", kCheckJava);
  run_ok({"javac", "--release", "17", "-d", (root / "app").string(),
          (work / "javac/Check.java").string()});
  // a virtualenv with requests 2.28.1 as pip installs it (dist-info with RECORD), on Debian's
  // python3 with its system site-packages (urllib3, idna, chardet, certifi)
  auto venv = root / "srv/venv";
  put(venv / "pyvenv.cfg",
      "home = /usr/bin\ninclude-system-site-packages = true\nversion = 3.11.2\n");
  fsys::create_directories(venv / "bin");
  fsys::create_symlink("/usr/bin/python3", venv / "bin/python");
  auto site = venv / "lib/python3.11/site-packages";
  fsys::create_directories(site);
  fsys::copy(bookworm / "usr/lib/python3/dist-packages/requests", site / "requests",
             fsys::copy_options::recursive);
  {
    auto di = site / "requests-2.28.1.dist-info";
    put(di / "METADATA",
        bytes_of(bookworm / "usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO"));
    put(di / "INSTALLER", "pip\n");
    put(di / "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
    std::string record;
    for (const auto& e : fsys::recursive_directory_iterator(site))
      if (e.is_regular_file())
        record += fsys::relative(e.path(), site).string() + "," +
                  record_hash_of(bytes_of(e.path())) + "," +
                  std::to_string(fsys::file_size(e.path())) + "\n";
    put(di / "RECORD", record + "requests-2.28.1.dist-info/RECORD,,\n");
  }
  // a Node.js application with minimist 1.2.5 from the npm registry
  auto srv = root / "srv/app";
  fsys::create_directories(srv / "node_modules/minimist");
  run_ok({"tar", "-xzf", minimist_old.string(), "-C", (srv / "node_modules/minimist").string(),
          "--strip-components=1"});
  put(srv / "package.json",
      R"({"name":"shop","version":"1.0.0","dependencies":{"minimist":"^1.2.5"}})");
  put(srv / "package-lock.json",
      json{{"name", "shop"},
           {"version", "1.0.0"},
           {"lockfileVersion", 3},
           {"requires", true},
           {"packages",
            {{"",
              {{"name", "shop"}, {"version", "1.0.0"}, {"dependencies", {{"minimist", "^1.2.5"}}}}},
             {"node_modules/minimist",
              {{"version", "1.2.5"},
               {"resolved", "https://registry.npmjs.org/minimist/-/minimist-1.2.5.tgz"},
               {"integrity",
                "sha512-FM9nNUYrRBAELZQT3xeZQ7fmMOBg6nWNmJKTcgsJeaLstP/"
                "UODVpGsr5OhXhhXg6f+qtJ8uiZ+PUxkDWcgIXLw=="},
               {"license", "MIT"}}}}}}
              .dump(2) +
          "\n");
  put(root / "app/check.sh",
      "#!/bin/sh\nset -e\n"
      "v=$(java -cp /app/lib/guava.jar:/app Check /app/shop.jar)\n"
      "echo \"$v\" >&2\n"
      "echo \"$v\" | grep -qx 'guava " +
          gid->version +
          "'\n"
          "echo \"$v\" | grep -qx 'commons-io " +
          iid->version +
          "'\n"
          "cd /srv/app\n"
          "node -e 'const m = require(\"minimist\"); const v = require(\"minimist/package.json\")"
          ".version; console.error(\"minimist \" + v); if (v !== \"1.2.6\" || m([\"--a\", "
          "\"1\"]).a "
          "!== 1) process.exit(3)'\n"
          "/srv/venv/bin/python -c 'import sys, requests; print(\"requests\", "
          "requests.__version__, "
          "requests.__file__, file=sys.stderr); sys.exit(0 if requests.__version__ == \"" +
          req_version + "\" and requests.__file__.startswith(\"/srv/venv/\") else 5)'\n",
      fsys::perms(0755));
  buildah_image(a.tmp.path(), root, a.reg() + "/apps/shop:1");

  // One snapshot: the advisories and the fixed artefacts with their metadata.
  auto adv = work / "adv";
  fsys::create_directories(adv);
  for (auto rel : {"maven/GHSA-7g45-4rm6-3mm3.json", "maven/GHSA-78wr-2p64-hpwj.json",
                   "npm/GHSA-xvch-5gv4-984h.json", "pypi/GHSA-j8r2-6x86-q33q.json",
                   "pypi/GHSA-v845-jxx5-vc9f.json"})
    fsys::copy_file(source_dir() / "tests/data/ghsa-sample" / rel,
                    adv / fsys::path(rel).filename());
  auto arts = work / "artifacts";
  auto artefact = [&](const std::string& name, const std::string& bytes, const std::string& eco,
                      const std::string& package, const std::string& version) {
    put(arts / name, bytes);
    put(arts / (name + ".json"),
        json{{"ecosystem", eco}, {"package", package}, {"version", version}}.dump());
  };
  artefact("guava-" + gid->version + ".jar", guava_fixed, "Maven", gid->name, gid->version);
  artefact("commons-io-" + iid->version + ".jar", io_fixed, "Maven", iid->name, iid->version);
  artefact("requests-" + req_version + "-py3-none-any.whl", wheel, "PyPI", "requests", req_version);
  // no FILE.json: airheal-snapshot reads what the tarball says it is
  put(arts / "minimist-1.2.6.tgz", bytes_of(minimist_new));
  // a FILE.json that disagrees with the package's own metadata is refused, nothing written
  auto lying = work / "lying";
  put(lying / "minimist-1.2.6.tgz", bytes_of(minimist_new));
  put(lying / "minimist-1.2.6.tgz.json",
      R"({"ecosystem": "npm", "package": "minimist", "version": "9.9.9"})");
  auto refused =
      run({airheal_snapshot_path().string(), "create", "--channel", "x", "--sequence", "1", "--out",
           (work / "lying.snapshot").string(), "--artifacts", lying.string()});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("artefact minimist-1.2.6.tgz: minimist-1.2.6.tgz.json says version "
                         "\"9.9.9\" but the package's own metadata says \"1.2.6\"") !=
        std::string::npos);
  CHECK_FALSE(fsys::exists(work / "lying.snapshot"));
  a.import("apps", {"--advisories", adv.string(), "--artifacts", arts.string()});

  auto heals = a.wait_heals({"apps/shop"}, 1200);
  auto h = heals["apps/shop"];
  INFO(h.dump(2) << a.daemon->log().substr(0, 20000));
  // what was found: the four application findings, not Debian's patched urllib3
  std::set<std::string> found;
  for (const auto& f : a.ctl_json({"findings", "--image", "apps/shop:1"}))
    found.insert(f["advisory"].get<std::string>() + " " + f["package"].get<std::string>() + " " +
                 f["installed"].get<std::string>());
  CHECK(found == std::set<std::string>{"GHSA-78wr-2p64-hpwj commons-io:commons-io 2.11.0",
                                       "GHSA-7g45-4rm6-3mm3 com.google.guava:guava 31.1-jre",
                                       "GHSA-j8r2-6x86-q33q requests 2.28.1",
                                       "GHSA-xvch-5gv4-984h minimist 1.2.5"});
  REQUIRE(h["state"] == "staged");
  CHECK(h["strategy"] == "app-in-place");
  std::map<std::string, json> apps;
  for (const auto& r : h["plan"]["applications"]) apps[r["package"].get<std::string>()] = r;
  REQUIRE(apps.size() == 4);
  CHECK(apps["com.google.guava:guava"]["location"] == "app/lib/guava.jar");
  CHECK(apps["commons-io:commons-io"]["location"] == "app/shop.jar!/BOOT-INF/lib/commons-io.jar");
  CHECK(apps["requests"]["version"] == req_version);
  CHECK(apps["minimist"]["changes"]["lockfiles"][0]["to"]["version"] == "1.2.6");
  CHECK(apps["minimist"]["changes"]["dependents_checked"].size() == 1);
  // the staged image has none of them left
  auto staged =
      a.ctl_json({"findings", "--image", "apps/shop:" + h["staged_tag"].get<std::string>()});
  CHECK(staged.empty());
  // the changes are attested
  bool attested = false;
  for (const auto& at : h.value("attestations", json::array()))
    attested =
        attested || at["predicateType"] == "https://airheal.dev/attestation/application-changes/v1";
  CHECK(attested);
}
