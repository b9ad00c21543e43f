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

heal::ImageFiles memory_image(const std::map<std::string, std::string>& files) {
  auto data = std::make_shared<std::map<std::string, std::string>>();
  std::map<std::string, scan::FinalFile> fs;
  for (const auto& [path, bytes] : files) {
    scan::FinalFile f;
    f.layer = 0;
    if (path.ends_with("/")) {
      auto p = path.substr(0, path.size() - 1);
      f.file = {p, 'd', 0, ""};
      fs[p] = f;
      continue;
    }
    f.file = {path, 'f', bytes.size(), ""};
    fs[path] = f;
    (*data)[path] = bytes;
  }
  return heal::ImageFiles(std::move(fs),
                          [data](const std::string& path, const scan::FinalFile&,
                                 std::uint64_t max) -> Result<std::string> {
                            auto it = data->find(path);
                            if (it == data->end()) return make_error(Errc::not_found, path);
                            if (it->second.size() > max) return make_error(Errc::too_large, path);
                            return it->second;
                          });
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
