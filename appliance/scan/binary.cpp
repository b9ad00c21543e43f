#include "scan/binary.hpp"

#include <zlib.h>

#include <cstdint>
#include <cstring>

#include "core/json.hpp"

namespace airheal::scan {
namespace {

// Bounds-checked little/big-endian reads over an untrusted image.
class Elf {
 public:
  explicit Elf(std::string_view b) : b_(b) {}

  bool parse() {
    if (b_.size() < 52 || !looks_like_elf(b_)) return false;
    is64_ = b_[4] == 2;
    big_ = b_[5] == 2;
    if ((b_[4] != 1 && b_[4] != 2) || (b_[5] != 1 && b_[5] != 2)) return false;
    if (is64_ && b_.size() < 64) return false;
    phoff_ = is64_ ? u64(32) : u32(28);
    shoff_ = is64_ ? u64(40) : u32(32);
    phentsize_ = u16(is64_ ? 54 : 42);
    phnum_ = u16(is64_ ? 56 : 44);
    shentsize_ = u16(is64_ ? 58 : 46);
    shnum_ = u16(is64_ ? 60 : 48);
    shstrndx_ = u16(is64_ ? 62 : 50);
    return true;
  }

  struct Section {
    std::string name;
    std::uint32_t type = 0;
    std::uint64_t addr = 0, offset = 0, size = 0;
  };
  struct Segment {
    std::uint32_t type = 0;
    std::uint64_t offset = 0, vaddr = 0, filesz = 0;
  };

  std::vector<Section> sections() const {
    std::vector<Section> out;
    if (!shoff_ || shentsize_ < (is64_ ? 64 : 40) || shnum_ == 0 || shnum_ > 65000) return out;
    auto at = [&](std::size_t i) { return shoff_ + i * shentsize_; };
    if (!fits(at(shnum_ - 1), shentsize_)) return out;
    Section strtab;
    if (shstrndx_ < shnum_) strtab = raw_section(at(shstrndx_));
    for (std::size_t i = 0; i < shnum_; ++i) {
      auto s = raw_section(at(i));
      s.name = cstring(strtab.offset, strtab.size, name_offset(at(i)));
      out.push_back(std::move(s));
    }
    return out;
  }

  std::vector<Segment> segments() const {
    std::vector<Segment> out;
    if (!phoff_ || phentsize_ < (is64_ ? 56 : 32) || phnum_ == 0 || phnum_ > 65000) return out;
    for (std::size_t i = 0; i < phnum_; ++i) {
      auto o = phoff_ + i * phentsize_;
      if (!fits(o, phentsize_)) break;
      Segment s;
      s.type = u32(o);
      s.offset = is64_ ? u64(o + 8) : u32(o + 4);
      s.vaddr = is64_ ? u64(o + 16) : u32(o + 8);
      s.filesz = is64_ ? u64(o + 32) : u32(o + 16);
      out.push_back(s);
    }
    return out;
  }

  // File bytes at a virtual address (PT_LOAD segments), or empty.
  std::string_view at_address(std::uint64_t addr, std::uint64_t len) const {
    for (const auto& s : segments()) {
      if (s.type != 1 || addr < s.vaddr || addr - s.vaddr >= s.filesz) continue;
      auto off = s.offset + (addr - s.vaddr);
      if (len > s.filesz - (addr - s.vaddr) || !fits(off, len)) return {};
      return b_.substr(off, len);
    }
    return {};
  }

  std::string_view bytes(std::uint64_t off, std::uint64_t len) const {
    return fits(off, len) ? b_.substr(off, len) : std::string_view{};
  }
  bool big() const { return big_; }
  bool is64() const { return is64_; }

  std::uint64_t read_uint(std::string_view s, std::size_t off, std::size_t width) const {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) {
      auto byte = static_cast<std::uint8_t>(s[off + (big_ ? i : width - 1 - i)]);
      v = (v << 8) | byte;
    }
    return v;
  }

 private:
  bool fits(std::uint64_t off, std::uint64_t len) const {
    return off <= b_.size() && len <= b_.size() - off;
  }
  std::uint64_t u(std::uint64_t off, std::size_t w) const {
    return fits(off, w) ? read_uint(b_, off, w) : 0;
  }
  std::uint16_t u16(std::uint64_t off) const { return static_cast<std::uint16_t>(u(off, 2)); }
  std::uint32_t u32(std::uint64_t off) const { return static_cast<std::uint32_t>(u(off, 4)); }
  std::uint64_t u64(std::uint64_t off) const { return u(off, 8); }

  Section raw_section(std::uint64_t o) const {
    Section s;
    s.type = u32(o + 4);
    s.addr = is64_ ? u64(o + 16) : u32(o + 12);
    s.offset = is64_ ? u64(o + 24) : u32(o + 16);
    s.size = is64_ ? u64(o + 32) : u32(o + 20);
    return s;
  }
  std::uint32_t name_offset(std::uint64_t o) const { return u32(o); }
  std::string cstring(std::uint64_t base, std::uint64_t size, std::uint64_t off) const {
    if (off >= size || !fits(base, size)) return {};
    auto s = b_.substr(base + off, size - off);
    return std::string(s.substr(0, s.find('\0')));
  }

  std::string_view b_;
  bool is64_ = false, big_ = false;
  std::uint64_t phoff_ = 0, shoff_ = 0;
  std::uint16_t phentsize_ = 0, phnum_ = 0, shentsize_ = 0, shnum_ = 0, shstrndx_ = 0;
};

constexpr std::string_view kGoMagic("\xff Go buildinf:", 14);

// Go's uvarint; false when truncated or overlong.
bool read_uvarint(std::string_view& s, std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (s.empty()) return false;
    auto b = static_cast<std::uint8_t>(s[0]);
    s.remove_prefix(1);
    out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool read_varint_string(std::string_view& s, std::string& out) {
  std::uint64_t n;
  if (!read_uvarint(s, n) || n > s.size()) return false;
  out.assign(s.substr(0, n));
  s.remove_prefix(n);
  return true;
}

std::string strip_sentinels(std::string modinfo) {
  // cmd/go wraps the text in 16-byte sentinels; the newline before the trailing one marks them.
  if (modinfo.size() >= 33 && modinfo[modinfo.size() - 17] == '\n')
    return modinfo.substr(16, modinfo.size() - 32);
  return modinfo;
}

void read_go(const Elf& elf, std::string_view blob, BinaryInfo& info) {
  if (blob.size() < 32) {
    info.problems.push_back("Go build info header truncated");
    return;
  }
  auto ptr_size = static_cast<std::uint8_t>(blob[14]);
  auto flags = static_cast<std::uint8_t>(blob[15]);
  std::string version, modinfo;
  if (flags & 2) {  // Go 1.18+: inline varint-prefixed strings
    auto rest = blob.substr(32);
    if (!read_varint_string(rest, version) || !read_varint_string(rest, modinfo)) {
      info.problems.push_back("Go build info strings truncated");
      return;
    }
  } else {  // before 1.18: two pointers to Go string headers {data pointer, length}
    if (ptr_size != 4 && ptr_size != 8) {
      info.problems.push_back("Go build info has an invalid pointer size");
      return;
    }
    auto read_string = [&](std::uint64_t header_addr, std::string& out) {
      auto header = elf.at_address(header_addr, 2 * ptr_size);
      if (header.empty()) return false;
      auto data = elf.read_uint(header, 0, ptr_size);
      auto len = elf.read_uint(header, ptr_size, ptr_size);
      if (len > (64u << 20)) return false;
      auto s = elf.at_address(data, len);
      if (s.size() != len) return false;
      out.assign(s);
      return true;
    };
    auto vptr = elf.read_uint(blob, 16, ptr_size);
    auto mptr = elf.read_uint(blob, 16 + ptr_size, ptr_size);
    if (!read_string(vptr, version)) {
      info.problems.push_back("Go build info version pointer does not resolve");
      return;
    }
    read_string(mptr, modinfo);  // binaries built outside module mode have none
  }
  info.go = parse_go_modinfo(strip_sentinels(std::move(modinfo)), version);
}

void read_notes(std::string_view data, const Elf& elf, BinaryInfo& info) {
  std::size_t off = 0;
  while (off + 12 <= data.size()) {
    auto namesz = elf.read_uint(data, off, 4), descsz = elf.read_uint(data, off + 4, 4);
    auto type = elf.read_uint(data, off + 8, 4);
    off += 12;
    auto pad = [](std::uint64_t n) { return (n + 3) & ~std::uint64_t{3}; };
    if (namesz > data.size() || descsz > data.size() ||
        pad(namesz) + pad(descsz) > data.size() - off)
      break;
    auto name = data.substr(off, namesz);
    auto desc = data.substr(off + pad(namesz), descsz);
    off += pad(namesz) + pad(descsz);
    if (type == 0xcafe1a7e && name.substr(0, name.find('\0')) == "FDO") {
      auto text = desc.substr(0, desc.find('\0'));
      auto parsed = parse_json(text, JsonLimits{1u << 20, 16, false}, ".note.package");
      auto j = parsed ? std::move(*parsed) : nlohmann::json();
      if (j.is_object())
        info.package_note = std::move(j);
      else
        info.problems.push_back(".note.package holds invalid JSON");
      return;
    }
  }
}

void read_dep_v0(std::string_view compressed, BinaryInfo& info) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return;
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK && out.size() < (16u << 20)) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    info.problems.push_back(".dep-v0 is not a complete zlib stream");
    return;
  }
  auto parsed = parse_json(out, JsonLimits{16u << 20, 16, false}, ".dep-v0");
  auto j = parsed ? std::move(*parsed) : nlohmann::json();
  if (!j.is_object() || !j.contains("packages") || !j["packages"].is_array()) {
    info.problems.push_back(".dep-v0 does not hold cargo-auditable JSON");
    return;
  }
  for (const auto& p : j["packages"]) {
    if (!p.is_object() || !p.contains("name") || !p["name"].is_string() || !p.contains("version") ||
        !p["version"].is_string())
      continue;
    RustPackage r;
    r.name = p["name"];
    r.version = p["version"];
    if (p.contains("source") && p["source"].is_string()) r.source = p["source"];
    r.root = p.value("root", false) == true;
    info.rust.push_back(std::move(r));
  }
}

}  // namespace

bool looks_like_elf(std::string_view head) {
  return head.size() >= 4 && head.substr(0, 4) == std::string_view(
                                                      "\x7f"
                                                      "ELF",
                                                      4);
}

BinaryInfo read_binary(std::string_view bytes) {
  BinaryInfo info;
  Elf elf(bytes);
  if (!elf.parse()) return info;
  bool go_done = false;
  for (const auto& s : elf.sections()) {
    if (s.type == 8) continue;  // SHT_NOBITS
    auto data = elf.bytes(s.offset, s.size);
    if (s.name == ".go.buildinfo" && data.substr(0, kGoMagic.size()) == kGoMagic) {
      read_go(elf, data, info);
      go_done = true;
    } else if (s.type == 7 && !info.package_note) {  // SHT_NOTE
      read_notes(data, elf, info);
    } else if (s.name == ".dep-v0") {
      read_dep_v0(data, info);
    }
  }
  if (!info.package_note)
    for (const auto& p : elf.segments())
      if (p.type == 4)
        read_notes(elf.bytes(p.offset, p.filesz), elf, info);  // PT_NOTE: stripped section headers
  if (!go_done) {
    // Section headers stripped: the header is 16-byte aligned somewhere in the file.
    for (auto pos = bytes.find(kGoMagic); pos != std::string_view::npos;
         pos = bytes.find(kGoMagic, pos + 1)) {
      if (pos % 16) continue;
      read_go(elf, bytes.substr(pos), info);
      break;
    }
  }
  return info;
}

std::optional<std::string> go_version_to_semver(std::string_view v) {
  if (v.substr(0, 2) != "go") return std::nullopt;
  v.remove_prefix(2);
  v = v.substr(0, v.find_first_of(" +"));  // "go1.22.0 X:boringcrypto", "go1.21.0+auto"
  std::string core(v), pre;
  for (auto tag : {"rc", "beta", "alpha"}) {
    auto p = core.find(tag);
    if (p != std::string::npos) {
      pre = std::string(tag) + "." + core.substr(p + std::strlen(tag));
      core = core.substr(0, p);
      break;
    }
  }
  int dots = 0;
  for (char c : core) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return std::nullopt;
  }
  if (core.empty() || dots > 2) return std::nullopt;
  while (dots++ < 2) core += ".0";
  return pre.empty() ? core : core + "-" + pre;
}

GoBuildInfo parse_go_modinfo(std::string_view modinfo, std::string go_version) {
  GoBuildInfo info;
  info.go_version = std::move(go_version);
  GoModule* last = nullptr;
  std::size_t start = 0;
  while (start < modinfo.size()) {
    auto end = modinfo.find('\n', start);
    auto line =
        modinfo.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    start = end == std::string_view::npos ? modinfo.size() : end + 1;
    std::vector<std::string_view> f;
    std::size_t p = 0;
    while (p <= line.size()) {
      auto tab = line.find('\t', p);
      f.push_back(line.substr(p, tab == std::string_view::npos ? std::string_view::npos : tab - p));
      if (tab == std::string_view::npos) break;
      p = tab + 1;
    }
    if (f.empty()) continue;
    if (f[0] == "path" && f.size() >= 2) {
      info.path = f[1];
    } else if ((f[0] == "mod" || f[0] == "dep") && f.size() >= 3) {
      GoModule m{std::string(f[1]), std::string(f[2]), f.size() >= 4 ? std::string(f[3]) : ""};
      if (f[0] == "mod") {
        info.main = std::move(m);
        last = &info.main;
      } else {
        info.deps.push_back(std::move(m));
        last = &info.deps.back();
      }
    } else if (f[0] == "=>" && last && f.size() >= 2) {
      // A replacement: the module compiled in. A local directory replacement keeps the module's
      // path but has no version that any advisory could name.
      bool local = !f[1].empty() && (f[1][0] == '.' || f[1][0] == '/');
      if (!local) last->path = f[1];
      last->version = local ? "" : f.size() >= 3 ? std::string(f[2]) : "";
      last->sum = local ? "" : f.size() >= 4 ? std::string(f[3]) : "";
    } else if (f[0] == "build" && f.size() >= 2) {
      auto kv = f[1];
      auto eq = kv.find('=');
      info.settings.emplace_back(
          std::string(kv.substr(0, eq)),
          eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1)));
    }
  }
  return info;
}

}  // namespace airheal::scan
