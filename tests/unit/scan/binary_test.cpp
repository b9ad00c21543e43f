#include "scan/binary.hpp"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;

namespace {

void put(std::string& b, std::size_t off, std::uint64_t v, int width) {
  for (int i = 0; i < width; ++i)
    b[off + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// A minimal little-endian ELF64 file: one PT_LOAD segment mapping the whole file at `base`, and
// section headers for the given named sections (contents appended after the headers).
std::string make_elf(const std::vector<std::pair<std::string, std::string>>& sections,
                     std::uint64_t base = 0x400000, std::uint32_t note_type_for = 0) {
  std::string b(64 + 56, '\0');
  std::memcpy(&b[0],
              "\x7f"
              "ELF",
              4);
  b[4] = 2;  // 64-bit
  b[5] = 1;  // little endian
  b[6] = 1;
  put(b, 16, 2, 2);   // ET_EXEC
  put(b, 18, 62, 2);  // x86-64
  put(b, 32, 64, 8);  // phoff
  put(b, 54, 56, 2);  // phentsize
  put(b, 56, 1, 2);   // phnum
  put(b, 58, 64, 2);  // shentsize
  std::vector<std::pair<std::size_t, std::size_t>> placed;
  std::string shstr(1, '\0');
  std::vector<std::size_t> name_off;
  for (const auto& [name, data] : sections) {
    while (b.size() % 16) b.push_back('\0');
    placed.emplace_back(b.size(), data.size());
    b += data;
    name_off.push_back(shstr.size());
    shstr += name + '\0';
  }
  auto shstr_off = b.size();
  b += shstr;
  while (b.size() % 8) b.push_back('\0');
  auto shoff = b.size();
  std::size_t n = sections.size() + 2;  // null + sections + .shstrtab
  b.resize(b.size() + n * 64, '\0');
  for (std::size_t i = 0; i < sections.size(); ++i) {
    auto h = shoff + (i + 1) * 64;
    put(b, h, name_off[i], 4);
    bool note = sections[i].first.rfind(".note", 0) == 0;
    put(b, h + 4, note ? 7 : 1, 4);  // SHT_NOTE or SHT_PROGBITS
    put(b, h + 16, base + placed[i].first, 8);
    put(b, h + 24, placed[i].first, 8);
    put(b, h + 32, placed[i].second, 8);
  }
  auto h = shoff + (n - 1) * 64;
  put(b, h, shstr.size() - 0 > 0 ? 0 : 0, 4);
  put(b, h + 4, 3, 4);  // SHT_STRTAB
  put(b, h + 24, shstr_off, 8);
  put(b, h + 32, shstr.size(), 8);
  put(b, 40, shoff, 8);
  put(b, 60, n, 2);
  put(b, 62, n - 1, 2);
  // PT_LOAD for the whole file.
  put(b, 64, 1, 4);
  put(b, 64 + 8, 0, 8);
  put(b, 64 + 16, base, 8);
  put(b, 64 + 32, b.size(), 8);
  put(b, 64 + 40, b.size(), 8);
  (void)note_type_for;
  return b;
}

std::string uvarint(std::uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
  return s;
}

const std::string kSentinelStart =
    std::string("0w\xaf\x0c\x92t\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6", 16);
const std::string kSentinelEnd =
    std::string("\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2", 16);

const std::string kModinfo =
    "path\texample.com/app\n"
    "mod\texample.com/app\t(devel)\t\n"
    "dep\tgolang.org/x/net\tv0.0.0-20220722155237-a158d28d115b\th1:abc=\n"
    "dep\tgolang.org/x/text\tv0.3.7\th1:def=\n"
    "=>\tgolang.org/x/text\tv0.3.8\th1:ghi=\n"
    "build\t-compiler=gc\n"
    "build\tGOOS=linux\n";

std::string note(const std::string& owner, std::uint32_t type, const std::string& desc) {
  std::string n(12, '\0');
  put(n, 0, owner.size() + 1, 4);
  put(n, 4, desc.size() + 1, 4);
  put(n, 8, type, 4);
  n += owner + '\0';
  while (n.size() % 4) n.push_back('\0');
  n += desc + '\0';
  while (n.size() % 4) n.push_back('\0');
  return n;
}

std::string zlib(const std::string& s) {
  uLongf n = compressBound(s.size());
  std::string out(n, '\0');
  REQUIRE(compress(reinterpret_cast<Bytef*>(out.data()), &n,
                   reinterpret_cast<const Bytef*>(s.data()), s.size()) == Z_OK);
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("Go build info in the inline format of Go 1.18 and later", "[scan][binary][go]") {
  std::string header(32, '\0');
  std::memcpy(&header[0], "\xff Go buildinf:", 14);
  header[14] = 8;
  header[15] = 2;  // inline strings, little endian
  std::string mod = kSentinelStart + kModinfo + kSentinelEnd;
  auto bi = header + uvarint(8) + "go1.19.8" + uvarint(mod.size()) + mod;
  auto elf = make_elf({{".text", std::string(100, '\x90')}, {".go.buildinfo", bi}});
  auto info = scan::read_binary(elf);
  REQUIRE(info.go);
  CHECK(info.go->go_version == "go1.19.8");
  CHECK(info.go->path == "example.com/app");
  CHECK(info.go->main.version == "(devel)");
  REQUIRE(info.go->deps.size() == 2);
  CHECK(info.go->deps[0].path == "golang.org/x/net");
  CHECK(info.go->deps[1].version == "v0.3.8");  // the replacement is what was compiled in
  CHECK(info.problems.empty());
}

TEST_CASE("Go build info in the pointer format of Go 1.13 to 1.17", "[scan][binary][go]") {
  // Layout inside one section at base+off: header (32 bytes) with two pointers to Go string
  // headers {data, len}, then the headers, then the bytes.
  const std::uint64_t base = 0x400000;
  std::string version = "go1.16.15";
  std::string mod = kSentinelStart + kModinfo + kSentinelEnd;
  std::string body(32 + 32, '\0');
  std::memcpy(&body[0], "\xff Go buildinf:", 14);
  body[14] = 8;
  body[15] = 0;
  auto vdata = body.size();
  body += version;
  auto mdata = body.size();
  body += mod;
  // The section lands at a 16-aligned offset; compute it the way make_elf does.
  std::size_t text = 100;
  std::size_t sec_off = 64 + 56;
  sec_off = (sec_off + 15) / 16 * 16 + text;
  sec_off = (sec_off + 15) / 16 * 16;
  auto addr = [&](std::size_t o) { return base + sec_off + o; };
  put(body, 16, addr(32), 8);
  put(body, 24, addr(48), 8);
  put(body, 32, addr(vdata), 8);
  put(body, 40, version.size(), 8);
  put(body, 48, addr(mdata), 8);
  put(body, 56, mod.size(), 8);
  auto elf = make_elf({{".text", std::string(text, '\x90')}, {".go.buildinfo", body}}, base);
  auto info = scan::read_binary(elf);
  REQUIRE(info.go);
  CHECK(info.go->go_version == "go1.16.15");
  CHECK(info.go->deps.size() == 2);
  CHECK(scan::go_version_to_semver(info.go->go_version) == "1.16.15");
}

TEST_CASE("Go toolchain versions become the semver OSV uses", "[scan][binary][go]") {
  CHECK(scan::go_version_to_semver("go1.19.8") == "1.19.8");
  CHECK(scan::go_version_to_semver("go1.20") == "1.20.0");
  CHECK(scan::go_version_to_semver("go1.21rc2") == "1.21.0-rc.2");
  CHECK(scan::go_version_to_semver("go1.22.0 X:boringcrypto") == "1.22.0");
  CHECK_FALSE(scan::go_version_to_semver("devel go1.23-abcdef"));
  CHECK_FALSE(scan::go_version_to_semver("go1.a"));
}

TEST_CASE(".note.package and .dep-v0 added to a real executable with objcopy", "[scan][binary]") {
  if (!test::have_program("objcopy")) FAIL("objcopy (binutils) is required");
  test::TempDir dir;
  auto json =
      R"({"type":"deb","os":"debian","name":"coreutils","version":"9.1-1","architecture":"amd64"})";
  std::string n = note("FDO", 0xcafe1a7e, json);
  std::ofstream(dir.path() / "note", std::ios::binary) << n;
  auto dep =
      zlib(R"({"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},)"
           R"({"name":"smallvec","version":"1.6.0","source":"crates.io","dependencies":[]}]})");
  std::ofstream(dir.path() / "dep", std::ios::binary) << dep;
  auto out = dir.path() / "true";
  auto r = test::run({"objcopy", "--add-section", ".note.package=" + (dir.path() / "note").string(),
                      "--set-section-flags", ".note.package=noload,readonly", "--add-section",
                      ".dep-v0=" + (dir.path() / "dep").string(), "/bin/true", out.string()});
  REQUIRE(r.exit_code == 0);
  auto bytes = fs::read_file(out, 64 << 20);
  REQUIRE(bytes);
  auto info = scan::read_binary(*bytes);
  REQUIRE(info.package_note);
  CHECK((*info.package_note)["name"] == "coreutils");
  REQUIRE(info.rust.size() == 2);
  CHECK(info.rust[1].name == "smallvec");
  CHECK(info.rust[0].root);
  CHECK_FALSE(info.go);
}

TEST_CASE("Hostile executables yield problems, never crashes", "[scan][binary]") {
  std::string header(32, '\0');
  std::memcpy(&header[0], "\xff Go buildinf:", 14);
  header[14] = 8;
  header[15] = 2;
  auto truncated = make_elf({{".go.buildinfo", header + uvarint(1000) + "go1"}});
  auto info = scan::read_binary(truncated);
  CHECK_FALSE(info.go);
  CHECK_FALSE(info.problems.empty());
  // Section headers pointing past the end, absurd counts, garbage.
  auto elf = make_elf({{".text", "x"}});
  for (std::size_t off : {32u, 40u, 58u, 60u, 62u}) {
    auto bad = elf;
    put(bad, off, 0xffffffff, 2);
    (void)scan::read_binary(bad);
  }
  std::string garbage =
      "\x7f"
      "ELF" +
      std::string(200, '\xff');
  (void)scan::read_binary(garbage);
  auto bad_note = make_elf({{".note.package", note("FDO", 0xcafe1a7e, "{not json")}});
  CHECK_FALSE(scan::read_binary(bad_note).package_note);
  auto bad_dep = make_elf({{".dep-v0", "not zlib at all"}});
  CHECK(scan::read_binary(bad_dep).rust.empty());
  CHECK_FALSE(scan::looks_like_elf("#!/bin/sh"));
}
