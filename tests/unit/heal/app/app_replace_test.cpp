// In-place replacement of application packages: real npm tarballs (minimist 1.2.5 and 1.2.6 from
// the npm registry), real jars (Debian bookworm's guava and commons-io), and wheels assembled
// here around made-up modules (no Python package index is reachable), each in an image held in
// memory; zip(1) and unzip(1) check the rewritten fat jar independently.
#include "heal/app/app_replace.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "core/zip.hpp"
#include "heal/heal_layer.hpp"
#include "heal/pins.hpp"
#include "support/app_fixtures.hpp"
#include "support/heal_fixtures.hpp"
#include "support/scan_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;
using nlohmann::json;

namespace {

std::string slurp_bytes(const std::filesystem::path& p) {
  auto r = fs::read_file(p, 256u << 20);
  REQUIRE(r);
  return *r;
}

// The files of an npm tarball under DIR (the image path of node_modules/<name>).
void unpack_npm(std::map<std::string, std::string>& image, const std::filesystem::path& tgz,
                const std::string& dir) {
  test::TempDir t;
  test::run_ok({"tar", "-xzf", tgz.string(), "-C", t.path().string()});
  for (const auto& e : std::filesystem::recursive_directory_iterator(t.path() / "package"))
    if (e.is_regular_file())
      image[dir + "/" + std::filesystem::relative(e.path(), t.path() / "package").string()] =
          slurp_bytes(e.path());
}

const app::Ops::File* file_at(const app::Ops& ops, const std::string& path) {
  for (const auto& f : ops.files)
    if (f.path == path) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("Imported artefacts are identified by their own metadata", "[heal][app]") {
  auto tgz = test::npm_tarball("minimist", "1.2.6");
  auto id = app::identify(slurp_bytes(tgz), "minimist-1.2.6.tgz");
  REQUIRE(id);
  CHECK((id->ecosystem == "npm" && id->name == "minimist" && id->version == "1.2.6"));
  auto whl = test::make_wheel("Greet-Lib", "1.1", {{"greet_lib/__init__.py", "V = '1.1'\n"}});
  id = app::identify(whl, "greet_lib-1.1-py3-none-any.whl");
  REQUIRE(id);
  CHECK((id->ecosystem == "PyPI" && id->name == "greet-lib" && id->version == "1.1"));
  auto deb = test::download_deb("libguava-java", "31.1-1");
  test::TempDir dir;
  test::run_ok({"dpkg-deb", "-x", deb.string(), dir.path().string()});
  id = app::identify(slurp_bytes(dir.path() / "usr/share/java/guava.jar"), "guava.jar");
  REQUIRE(id);
  CHECK((id->ecosystem == "Maven" && id->name == "com.google.guava:guava" &&
         id->version == "31.1-jre"));
  CHECK_FALSE(app::identify("not an archive", "x.tgz"));
  CHECK_FALSE(app::identify(whl, "x.exe"));
}

TEST_CASE("An npm package is replaced in its folder and its lockfile entries updated",
          "[heal][app][npm]") {
  auto old_tgz = test::npm_tarball("minimist", "1.2.5");
  auto new_tgz = test::npm_tarball("minimist", "1.2.6");
  auto fixed = slurp_bytes(new_tgz);
  std::map<std::string, std::string> files;
  // a made-up application (package.json, lockfile) with the real minimist 1.2.5 installed
  unpack_npm(files, old_tgz, "srv/app/node_modules/minimist");
  files["srv/app/node_modules/minimist/stale-only-in-1.2.5.js"] = "old";
  files["srv/app/node_modules/minimist/node_modules/inner/package.json"] =
      R"({"name":"inner","version":"1.0.0","dependencies":{"minimist":"1.2.5"}})";
  files["srv/app/node_modules/minimist/node_modules/minimist/package.json"] =
      R"({"name":"minimist","version":"1.2.5"})";
  files["srv/app/node_modules/opts/package.json"] =
      R"({"name":"opts","version":"2.0.0","dependencies":{"minimist":"^1.2.0"}})";
  files["srv/app/package.json"] =
      R"({"name":"app","version":"1.0.0","dependencies":{"minimist":"^1.2.5","opts":"2.0.0"}})";
  auto lock = json{{"name", "app"},
                   {"lockfileVersion", 3},
                   {"packages",
                    {{"", {{"name", "app"}, {"dependencies", {{"minimist", "^1.2.5"}}}}},
                     {"node_modules/minimist",
                      {{"version", "1.2.5"},
                       {"resolved", "https://registry.npmjs.org/minimist/-/minimist-1.2.5.tgz"},
                       {"integrity", "sha512-old"}}}}}};
  files["srv/app/package-lock.json"] = lock.dump(2);
  auto image = test::image_in_memory(files);

  auto allowed = app::dependents_allow(image, "npm", "srv/app/node_modules/minimist/package.json",
                                       "minimist", "1.2.6");
  REQUIRE(allowed);
  CHECK(allowed->size() == 2);  // the app's ^1.2.5 and opts' ^1.2.0; inner resolves its own copy
  auto refused = app::dependents_allow(image, "npm", "srv/app/node_modules/minimist/package.json",
                                       "minimist", "2.0.0");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "/srv/app/node_modules/opts/package.json asks for minimist \"^1.2.0\", which 2.0.0 does "
        "not satisfy");

  app::Replacement r;
  r.ecosystem = "npm";
  r.package = "minimist";
  r.location = "srv/app/node_modules/minimist/package.json";
  r.installed = "1.2.5";
  r.version = "1.2.6";
  r.name = "minimist-1.2.6.tgz";
  auto ops = app::plan_ops(r, fixed, image);
  INFO((ops ? "" : ops.error().message));
  REQUIRE(ops);
  const auto* pj = file_at(*ops, "srv/app/node_modules/minimist/package.json");
  REQUIRE(pj);
  CHECK(json::parse(pj->bytes)["version"] == "1.2.6");
  CHECK(ops->whiteouts ==
        std::vector<std::string>{"srv/app/node_modules/minimist/stale-only-in-1.2.5.js"});
  for (const auto& f : ops->files)
    CHECK(f.path.find("minimist/node_modules/") == std::string::npos);
  const auto* lf = file_at(*ops, "srv/app/package-lock.json");
  REQUIRE(lf);
  auto after = json::parse(lf->bytes)["packages"]["node_modules/minimist"];
  CHECK(after["version"] == "1.2.6");
  CHECK(after["resolved"] == "https://registry.npmjs.org/minimist/-/minimist-1.2.6.tgz");
  CHECK(after["integrity"] == heal::sri_sha512(fixed));
  // npm's own integrity for the tarball, as the registry states it
  auto view = test::run({"npm", "view", "minimist@1.2.6", "dist.integrity"});
  if (view.exit_code == 0) CHECK(after["integrity"] == view.out.substr(0, view.out.find('\n')));
  CHECK(ops->changes["lockfiles"][0]["from"]["version"] == "1.2.5");

  // Into a layer: whiteouts and files
  test::TempDir dir;
  heal::LayerWriter w(dir.path() / "l");
  REQUIRE(app::write_ops(*ops, w));
  CHECK(w.written().count("srv/app/node_modules/minimist/.wh.stale-only-in-1.2.5.js"));
  CHECK(w.finish());
}

TEST_CASE("A Python distribution's files are replaced per RECORD and its dist-info rewritten",
          "[heal][app][pypi]") {
  // Made-up distributions (no package index is reachable): greet 1.0 installed by pip, with a
  // module the fixed version no longer has and a console script outside site-packages.
  auto site = std::string("srv/venv/lib/python3.11/site-packages");
  std::map<std::string, std::string> files = {
      {site + "/greet/__init__.py", "V = '1.0'\n"},
      {site + "/greet/old.py", "gone in 1.1\n"},
      {site + "/greet-1.0.dist-info/METADATA",
       "Metadata-Version: 2.1\nName: greet\nVersion: 1.0\n\n"},
      {site + "/greet-1.0.dist-info/WHEEL",
       "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
      {site + "/greet-1.0.dist-info/INSTALLER", "pip\n"},
      {site + "/user-2.0.dist-info/METADATA",
       "Metadata-Version: 2.1\nName: user\nVersion: 2.0\nRequires-Dist: greet (<2,>=1.0)\n"
       "Requires-Dist: greet<1.1; extra == 'old'\n\n"},
      {"srv/venv/bin/greet", "#!/srv/venv/bin/python\n"}};
  files[site + "/greet-1.0.dist-info/RECORD"] =
      "greet/__init__.py,sha256=x,10\ngreet/old.py,sha256=y,12\n"
      "greet-1.0.dist-info/METADATA,,\ngreet-1.0.dist-info/WHEEL,,\n"
      "greet-1.0.dist-info/INSTALLER,,\ngreet-1.0.dist-info/RECORD,,\n../../../bin/greet,,\n";
  auto image = test::image_in_memory(files);
  auto wheel = test::make_wheel("greet", "1.1",
                                {{"greet/__init__.py", "V = '1.1'\n"}, {"greet/new.py", "new\n"}});
  auto allowed =
      app::dependents_allow(image, "PyPI", site + "/greet-1.0.dist-info/METADATA", "greet", "1.1");
  REQUIRE(allowed);
  CHECK(allowed->size() == 1);  // the extra's requirement is optional
  auto refused =
      app::dependents_allow(image, "PyPI", site + "/greet-1.0.dist-info/METADATA", "greet", "2.0");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("requires greet (<2,>=1.0), which 2.0 does not satisfy") !=
        std::string::npos);

  app::Replacement r{"PyPI", "greet", site + "/greet-1.0.dist-info/METADATA",
                     "1.0",  "1.1",   "greet-1.1-py3-none-any.whl",
                     "",     "",      json::object()};
  auto ops = app::plan_ops(r, wheel, image);
  INFO((ops ? "" : ops.error().message));
  REQUIRE(ops);
  CHECK(file_at(*ops, site + "/greet/__init__.py")->bytes == "V = '1.1'\n");
  CHECK(file_at(*ops, site + "/greet/new.py"));
  CHECK(file_at(*ops, site + "/greet-1.1.dist-info/INSTALLER")->bytes == "airheal\n");
  auto record = file_at(*ops, site + "/greet-1.1.dist-info/RECORD")->bytes;
  CHECK(record.find("greet/new.py," + test::record_hash_of("new\n") + ",4\n") != std::string::npos);
  CHECK(record.find("greet-1.1.dist-info/RECORD,,\n") != std::string::npos);
  std::set<std::string> wh(ops->whiteouts.begin(), ops->whiteouts.end());
  CHECK(wh.count(site + "/greet/old.py"));
  CHECK(wh.count(site + "/greet-1.0.dist-info/METADATA"));
  CHECK(wh.count(site + "/greet-1.0.dist-info"));
  CHECK_FALSE(wh.count("srv/venv/bin/greet"));  // the console script stays: it imports by name
  CHECK(ops->changes["kept_outside_site_packages"][0] == "/srv/venv/bin/greet");

  // A wheel whose file does not match its RECORD is refused, as pip refuses it.
  test::TempDir tmp;
  std::ofstream(tmp.path() / "in.whl", std::ios::binary) << wheel;
  test::run_ok({"/usr/bin/python3", "-c",
                "import sys, zipfile\n"
                "src = zipfile.ZipFile(sys.argv[1])\n"
                "with zipfile.ZipFile(sys.argv[2], 'w') as out:\n"
                "  for i in src.infolist():\n"
                "    b = src.read(i)\n"
                "    out.writestr(i, b'tampered\\n' if i.filename == 'greet/new.py' else b)\n",
                (tmp.path() / "in.whl").string(), (tmp.path() / "out.whl").string()});
  auto tampered = app::plan_ops(r, slurp_bytes(tmp.path() / "out.whl"), image);
  REQUIRE_FALSE(tampered);
  CHECK(tampered.error().message ==
        "greet-1.1-py3-none-any.whl: greet/new.py does not match the hash in its RECORD");
  // a platform wheel for another platform is refused
  auto platform = test::make_wheel("greet", "1.1", {{"greet/__init__.py", "x"}}, {}, false);
  auto on_arm = files;
  on_arm[site + "/greet-1.0.dist-info/WHEEL"] =
      "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_17_aarch64\n";
  auto refused_platform = app::plan_ops(r, platform, test::image_in_memory(on_arm));
  REQUIRE_FALSE(refused_platform);
  CHECK(refused_platform.error().message.find("platform wheel") != std::string::npos);
  // an egg-info file with no file list
  files[site + "/PyYAML-5.3.1.egg-info"] = "Metadata-Version: 1.1\nName: PyYAML\nVersion: 5.3.1\n";
  auto image2 = test::image_in_memory(files);
  app::Replacement y{"PyPI",  "pyyaml", site + "/PyYAML-5.3.1.egg-info",
                     "5.3.1", "6.0",    "y.whl",
                     "",      "",       json::object()};
  auto refused_egg = app::plan_ops(y, wheel, image2);
  REQUIRE_FALSE(refused_egg);
  CHECK(refused_egg.error().message.find("single-file egg-info") != std::string::npos);
}

TEST_CASE("A jar nested in a fat jar is replaced with the entry order and methods kept",
          "[heal][app][java]") {
  test::TempDir dir;
  for (auto [pkg, ver] : {std::pair{"libguava-java", "31.1-1"}, {"libcommons-io-java", "2.11.0-2"}})
    test::run_ok(
        {"dpkg-deb", "-x", test::download_deb(pkg, ver).string(), (dir.path() / "root").string()});
  auto app = dir.path() / "app";
  std::filesystem::create_directories(app / "BOOT-INF/lib");
  std::filesystem::create_directories(app / "META-INF");
  {
    std::ofstream mf(app / "META-INF/MANIFEST.MF");
    mf << "Manifest-Version: 1.0\r\n";
    for (int i = 0; i < 40; ++i) mf << "X-Made-Up-" << i << ": a line that deflates well\r\n";
    mf << "\r\n";
  }
  std::ofstream(app / "BOOT-INF/classpath.idx") << "- \"BOOT-INF/lib/guava.jar\"\n";
  std::filesystem::copy_file(dir.path() / "root/usr/share/java/guava.jar",
                             app / "BOOT-INF/lib/guava.jar");
  // Spring Boot's layout: manifest and index deflated, nested jars stored
  test::run_ok({"env", "--chdir=" + app.string(), "zip", "-q", "-X", "../demo.jar",
                "META-INF/MANIFEST.MF", "BOOT-INF/classpath.idx"});
  test::run_ok({"env", "--chdir=" + app.string(), "zip", "-q", "-X", "-0", "../demo.jar",
                "BOOT-INF/lib/guava.jar"});
  auto outer = slurp_bytes(dir.path() / "demo.jar");
  auto replacement = slurp_bytes(dir.path() / "root/usr/share/java/commons-io.jar");
  auto rewritten = zip::replace_entry(outer, "BOOT-INF/lib/guava.jar", replacement);
  INFO((rewritten ? "" : rewritten.error().message));
  REQUIRE(rewritten);
  auto got = zip::entry(*rewritten, "BOOT-INF/lib/guava.jar", 64 << 20);
  REQUIRE(got);
  CHECK(*got == replacement);
  CHECK(zip::entry(*rewritten, "BOOT-INF/classpath.idx", 1 << 20).value() ==
        "- \"BOOT-INF/lib/guava.jar\"\n");
  std::ofstream(dir.path() / "out.jar", std::ios::binary) << *rewritten;
  // unzip's own checks: every CRC, the order, the methods
  auto t = test::run({"unzip", "-t", (dir.path() / "out.jar").string()});
  INFO(t.out << t.err);
  CHECK(t.exit_code == 0);
  auto v = test::run_ok({"unzip", "-v", (dir.path() / "out.jar").string()});
  auto line_of = [&](const std::string& name) {
    auto k = v.out.find(name);
    REQUIRE(k != std::string::npos);
    auto b = v.out.rfind('\n', k);
    return v.out.substr(b + 1, k - b - 1);
  };
  CHECK(line_of("BOOT-INF/lib/guava.jar").find("Stored") != std::string::npos);
  CHECK(line_of("META-INF/MANIFEST.MF").find("Defl") != std::string::npos);
  CHECK(v.out.find("META-INF/MANIFEST.MF") < v.out.find("BOOT-INF/lib/guava.jar"));

  // through plan_ops, from the image
  auto image = test::image_in_memory({{"srv/app/demo.jar", outer}});
  app::Replacement r{"Maven",
                     "commons-io:commons-io",
                     "srv/app/demo.jar!/BOOT-INF/lib/guava.jar",
                     "2.0",
                     "2.11.0",
                     "commons-io.jar",
                     "",
                     "",
                     json::object()};
  auto ops = app::plan_ops(r, replacement, image);
  REQUIRE(ops);
  REQUIRE(ops->files.size() == 1);
  CHECK(ops->files[0].path == "srv/app/demo.jar");
  CHECK(ops->files[0].bytes == *rewritten);
  CHECK(ops->changes["entry"] == "BOOT-INF/lib/guava.jar");

  // broken archives: a precise error, nothing written
  CHECK_FALSE(zip::replace_entry("PK\x05\x06 short", "x", "y"));
  CHECK_FALSE(zip::replace_entry(outer.substr(0, outer.size() / 2), "BOOT-INF/lib/guava.jar", "y"));
  auto missing = zip::replace_entry(outer, "BOOT-INF/lib/none.jar", "y");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "BOOT-INF/lib/none.jar is not in the archive");
}

TEST_CASE("An egg-info distribution's files come from installed-files.txt or top_level.txt",
          "[heal][app][pypi]") {
  // Made-up distributions in the two older layouts: setup.py install's installed-files.txt, and
  // Debian's egg-info that names only its top-level modules
  auto site = std::string("srv/venv/lib/python3.11/site-packages");
  auto wheel = test::make_wheel("greet", "1.1", {{"greet/__init__.py", "V = '1.1'\n"}});
  std::map<std::string, std::string> listed = {
      {site + "/greet-1.0.egg-info/PKG-INFO", "Metadata-Version: 1.1\nName: greet\nVersion: 1.0\n"},
      {site + "/greet-1.0.egg-info/installed-files.txt",
       "../greet/__init__.py\n../greet/gone.py\nPKG-INFO\ninstalled-files.txt\n../../../../bin/"
       "greet\n"},
      {site + "/greet/__init__.py", "V = '1.0'\n"},
      {site + "/greet/gone.py", "x\n"},
      {site + "/other/keep.py", "x\n"}};
  app::Replacement r{"PyPI", "greet", site + "/greet-1.0.egg-info/PKG-INFO",
                     "1.0",  "1.1",   "greet-1.1-py3-none-any.whl",
                     "",     "",      json::object()};
  auto ops = app::plan_ops(r, wheel, test::image_in_memory(listed));
  INFO((ops ? "" : ops.error().message));
  REQUIRE(ops);
  std::set<std::string> wh(ops->whiteouts.begin(), ops->whiteouts.end());
  CHECK(wh.count(site + "/greet/gone.py"));
  CHECK(wh.count(site + "/greet-1.0.egg-info/installed-files.txt"));
  CHECK_FALSE(wh.count(site + "/other/keep.py"));
  CHECK(ops->changes["kept_outside_site_packages"][0] == "/srv/venv/bin/greet");

  std::map<std::string, std::string> debian = {
      {site + "/greet-1.0.egg-info/PKG-INFO", "Metadata-Version: 1.1\nName: greet\nVersion: 1.0\n"},
      {site + "/greet-1.0.egg-info/top_level.txt", "greet\n"},
      {site + "/greet/__init__.py", "V = '1.0'\n"},
      {site + "/greet/sub/old.py", "x\n"},
      {site + "/greeting.py", "not greet's\n"}};
  ops = app::plan_ops(r, wheel, test::image_in_memory(debian));
  REQUIRE(ops);
  wh = std::set<std::string>(ops->whiteouts.begin(), ops->whiteouts.end());
  CHECK(wh.count(site + "/greet/sub/old.py"));
  CHECK(wh.count(site + "/greet-1.0.egg-info/top_level.txt"));
  CHECK_FALSE(wh.count(site + "/greeting.py"));
  // a file list that tries to leave the image root is not followed
  debian[site + "/greet-1.0.egg-info/installed-files.txt"] = "../../../../../../../../etc/passwd\n";
  ops = app::plan_ops(r, wheel, test::image_in_memory(debian));
  REQUIRE(ops);
  for (const auto& w : ops->whiteouts) CHECK(w.find("etc/passwd") == std::string::npos);
}
