#include "support/app_fixtures.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "support/scan_fixtures.hpp"
#include "support/test_support.hpp"

namespace airheal::test {

std::filesystem::path npm_tarball(const std::string& name, const std::string& version) {
  auto dir = fixture_cache() / "npm";
  std::filesystem::create_directories(dir);
  auto file = dir / (name + "-" + version + ".tgz");
  if (std::filesystem::exists(file)) return file;
  auto tmp = dir / (".pack-" + name + "-" + version);
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp);
  run_ok({"npm", "pack", "--silent", name + "@" + version, "--pack-destination", tmp.string()});
  for (const auto& e : std::filesystem::directory_iterator(tmp))
    if (e.path().extension() == ".tgz") std::filesystem::rename(e.path(), file);
  std::filesystem::remove_all(tmp);
  REQUIRE(std::filesystem::exists(file));
  return file;
}

std::string make_wheel(const std::string& name, const std::string& version,
                       const std::map<std::string, std::string>& files,
                       const std::vector<std::string>& requires_dist, bool purelib) {
  nlohmann::json spec = {{"name", name},
                         {"version", version},
                         {"files", files},
                         {"requires", requires_dist},
                         {"purelib", purelib}};
  TempDir dir;
  auto out = dir.path() / "out.whl";
  ProcessOptions o;
  o.input = spec.dump();
  // zipfile and hashlib from Python's standard library write the archive and RECORD as pip's
  // wheel builder does (urlsafe base64 SHA-256 without padding).
  auto r = run_process(
      {"/usr/bin/python3", "-c",
       "import sys, json, zipfile, hashlib, base64\n"
       "s = json.load(sys.stdin)\n"
       "di = '%s-%s.dist-info' % (s['name'].replace('-', '_'), s['version'])\n"
       "files = dict(s['files'])\n"
       "files[di + '/METADATA'] = 'Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n%s\\n' % "
       "(s['name'], s['version'], ''.join('Requires-Dist: %s\\n' % q for q in s['requires']))\n"
       "files[di + '/WHEEL'] = 'Wheel-Version: 1.0\\nGenerator: airheal-tests\\nRoot-Is-Purelib: %s"
       "\\nTag: py3-none-any\\n' % ('true' if s['purelib'] else 'false')\n"
       "rec = ''\n"
       "for p, b in files.items():\n"
       "  d = base64.urlsafe_b64encode(hashlib.sha256(b.encode()).digest()).rstrip(b'=').decode()\n"
       "  rec += '%s,sha256=%s,%d\\n' % (p, d, len(b.encode()))\n"
       "files[di + '/RECORD'] = rec + di + '/RECORD,,\\n'\n"
       "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n"
       "  for p, b in files.items(): z.writestr(p, b)\n",
       out.string()},
      o);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto bytes = fs::read_file(out, 64 << 20);
  REQUIRE(bytes);
  return *bytes;
}

std::string wheel_from_tree(const std::filesystem::path& root, const std::string& dist_info) {
  TempDir dir;
  auto out = dir.path() / "out.whl";
  auto r = run_process(
      {"/usr/bin/python3", "-c",
       "import sys, os, zipfile, hashlib, base64\n"
       "root, di, out = sys.argv[1], sys.argv[2], sys.argv[3]\n"
       "files = {}\n"
       "for d, _, names in os.walk(root):\n"
       "  for n in names:\n"
       "    p = os.path.join(d, n)\n"
       "    if os.path.isfile(p) and not os.path.islink(p):\n"
       "      files[os.path.relpath(p, root)] = open(p, 'rb').read()\n"
       "files.pop(di + '/RECORD', None)\n"
       "files.setdefault(di + '/WHEEL', b'Wheel-Version: 1.0\\nGenerator: airheal-tests\\n"
       "Root-Is-Purelib: true\\nTag: py3-none-any\\n')\n"
       "rec = ''\n"
       "for p, b in sorted(files.items()):\n"
       "  d = base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()\n"
       "  rec += '%s,sha256=%s,%d\\n' % (p, d, len(b))\n"
       "files[di + '/RECORD'] = (rec + di + '/RECORD,,\\n').encode()\n"
       "with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n"
       "  for p, b in sorted(files.items()): z.writestr(p, b)\n",
       root.string(), dist_info, out.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto bytes = fs::read_file(out, 256 << 20);
  REQUIRE(bytes);
  return *bytes;
}

std::filesystem::path suite_deb(const std::string& suite, const std::string& package) {
  namespace fsys = std::filesystem;
  auto dir = fixture_cache() / ("apt-" + suite);
  for (auto sub : {"etc/sources.list.d", "etc/preferences.d", "state/lists/partial",
                   "cache/archives/partial", "debs"})
    fsys::create_directories(dir / sub);
  std::ofstream(dir / "etc/sources.list")
      << "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
         "http://deb.debian.org/debian "
      << suite << " main\n";
  std::ofstream(dir / "etc/preferences").close();
  std::ofstream(dir / "status").close();
  std::vector<std::string> argv = {
      "env",
      "--chdir=" + (dir / "debs").string(),
      "apt-get",
      "-o",
      "Dir::Etc::SourceList=" + (dir / "etc/sources.list").string(),
      "-o",
      "Dir::Etc::SourceParts=" + (dir / "etc/sources.list.d").string(),
      "-o",
      "Dir::Etc::Preferences=" + (dir / "etc/preferences").string(),
      "-o",
      "Dir::Etc::PreferencesParts=" + (dir / "etc/preferences.d").string(),
      "-o",
      "Dir::State=" + (dir / "state").string(),
      "-o",
      "Dir::State::status=" + (dir / "status").string(),
      "-o",
      "Dir::Cache=" + (dir / "cache").string(),
      "-o",
      "APT::Architecture=amd64",
      "-o",
      "Acquire::Languages=none",
      "-o",
      "quiet=1"};
  for (const auto& e : fsys::directory_iterator(dir / "debs"))
    if (e.path().filename().string().starts_with(package + "_")) return e.path();
  auto update = argv;
  update.push_back("update");
  run_ok(update, std::chrono::seconds(600));
  auto download = argv;
  download.push_back("download");
  download.push_back(package);
  run_ok(download, std::chrono::seconds(600));
  for (const auto& e : fsys::directory_iterator(dir / "debs"))
    if (e.path().filename().string().starts_with(package + "_")) return e.path();
  FAIL("apt-get download " << package << " from " << suite << " left no .deb");
  return {};
}

std::filesystem::path npm_semver() {
  if (!have_program("node")) FAIL("node is needed for the node-semver oracle (scripts/setup.sh)");
  std::vector<std::filesystem::path> candidates;
  if (have_program("npm")) {
    auto root = run_process({"npm", "root", "-g"});
    if (root.exit_code == 0)
      candidates.push_back(std::filesystem::path(root.out.substr(0, root.out.find('\n'))) / "npm" /
                           "node_modules" / "semver");
  }
  for (auto p : {"/usr/lib/node_modules/npm/node_modules/semver",
                 "/usr/share/nodejs/npm/node_modules/semver", "/usr/share/nodejs/semver"})
    candidates.emplace_back(p);
  for (const auto& c : candidates)
    if (std::filesystem::exists(c / "package.json")) return c;
  FAIL("no node-semver found (npm's bundled copy or Debian's node-semver)");
  return {};
}

std::string record_hash_of(const std::string& bytes) {
  ProcessOptions o;
  o.input = bytes;
  auto r = run_process({"/usr/bin/python3", "-c",
                        "import sys, hashlib, base64\n"
                        "print('sha256=' + base64.urlsafe_b64encode(hashlib.sha256("
                        "sys.stdin.buffer.read()).digest()).rstrip(b'=').decode())"},
                       o);
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

}  // namespace airheal::test
