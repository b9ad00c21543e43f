#include "core/rpm.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include "core/archive_path.hpp"
#include "core/digest.hpp"

namespace airheal::rpm {
namespace fsys = std::filesystem;

namespace {

constexpr std::uint32_t kTypeInt16 = 3, kTypeInt32 = 4, kTypeString = 6, kTypeBin = 7,
                        kTypeStringArray = 8, kTypeI18n = 9;

std::uint32_t be32(std::string_view s, std::size_t off) {
  auto b = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[i]));
  };
  return (b(off) << 24) | (b(off + 1) << 16) | (b(off + 2) << 8) | b(off + 3);
}

struct Entry {
  std::uint32_t type = 0, offset = 0, count = 0;
};

// A header's index over its data store, every entry's offset checked against the store.
struct Index {
  std::map<std::uint32_t, Entry> entries;  // by tag (the first entry of a tag wins)
  std::string_view data;

  const Entry* find(std::uint32_t tag, std::uint32_t type) const {
    auto it = entries.find(tag);
    return it == entries.end() || it->second.type != type ? nullptr : &it->second;
  }
  std::optional<std::string> string(std::uint32_t tag) const {
    auto it = entries.find(tag);
    if (it == entries.end()) return std::nullopt;
    auto t = it->second.type;
    if (t != kTypeString && t != kTypeI18n && t != kTypeStringArray) return std::nullopt;
    auto s = data.substr(it->second.offset);
    auto nul = s.find('\0');
    if (nul == std::string_view::npos) return std::nullopt;
    return std::string(s.substr(0, nul));
  }
  std::vector<std::string> strings(std::uint32_t tag) const {
    std::vector<std::string> out;
    const auto* e = find(tag, kTypeStringArray);
    if (!e) {
      if (auto s = string(tag)) out.push_back(*s);
      return out;
    }
    std::size_t off = e->offset;
    for (std::uint32_t i = 0; i < e->count; ++i) {
      if (off >= data.size()) return {};
      auto nul = data.find('\0', off);
      if (nul == std::string_view::npos) return {};
      out.emplace_back(data.substr(off, nul - off));
      off = nul + 1;
    }
    return out;
  }
  std::vector<std::uint32_t> ints(std::uint32_t tag) const {
    std::vector<std::uint32_t> out;
    auto it = entries.find(tag);
    if (it == entries.end()) return out;
    const auto& e = it->second;
    std::size_t width = e.type == kTypeInt32 ? 4 : e.type == kTypeInt16 ? 2 : 0;
    if (!width || e.offset + static_cast<std::uint64_t>(width) * e.count > data.size()) return out;
    out.reserve(e.count);
    for (std::uint32_t i = 0; i < e.count; ++i) {
      auto off = e.offset + i * width;
      out.push_back(width == 4
                        ? be32(data, off)
                        : (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[off])) << 8) |
                              static_cast<std::uint8_t>(data[off + 1]));
    }
    return out;
  }
  std::string_view bin(std::uint32_t tag) const {
    const auto* e = find(tag, kTypeBin);
    if (!e || e->offset + static_cast<std::uint64_t>(e->count) > data.size()) return {};
    return data.substr(e->offset, e->count);
  }
};

// BLOB: index count, data size, entries, data store (no magic).
Result<Index> parse_index(std::string_view blob, std::string_view what) {
  if (blob.size() < 8)
    return make_error(Errc::invalid_argument, std::string(what) + " is shorter than 8 bytes");
  std::uint64_t il = be32(blob, 0), dl = be32(blob, 4);
  if (il == 0 || il > kMaxHeaderEntries)
    return make_error(Errc::invalid_argument, std::string(what) + " has " + std::to_string(il) +
                                                  " entries (limit " +
                                                  std::to_string(kMaxHeaderEntries) + ")");
  if (dl > kMaxHeaderBytes)
    return make_error(Errc::invalid_argument, std::string(what) + " data is larger than " +
                                                  std::to_string(kMaxHeaderBytes) + " bytes");
  if (8 + il * 16 + dl > blob.size())
    return make_error(Errc::invalid_argument, std::string(what) + " is truncated");
  Index ix;
  ix.data = blob.substr(8 + il * 16, dl);
  for (std::uint64_t i = 0; i < il; ++i) {
    auto e = 8 + i * 16;
    Entry en{be32(blob, e + 4), be32(blob, e + 8), be32(blob, e + 12)};
    if (en.offset >= dl || en.count == 0 || en.count > kMaxHeaderBytes) continue;
    ix.entries.emplace(be32(blob, e), en);
  }
  return ix;
}

std::vector<Dependency> dependencies(const Index& ix, std::uint32_t names_tag,
                                     std::uint32_t flags_tag, std::uint32_t versions_tag) {
  auto names = ix.strings(names_tag);
  auto flags = ix.ints(flags_tag);
  auto versions = ix.strings(versions_tag);
  std::vector<Dependency> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    Dependency d;
    d.name = names[i];
    if (i < flags.size() && i < versions.size() && !versions[i].empty()) {
      auto f = flags[i] & 0x0e;  // LESS 2, GREATER 4, EQUAL 8
      d.op = f == 2 ? "<" : f == 4 ? ">" : f == 8 ? "=" : f == 10 ? "<=" : f == 12 ? ">=" : "";
      if (!d.op.empty()) d.version = versions[i];
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::string hex_of(std::string_view raw) {
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

}  // namespace

std::string Dependency::text() const { return op.empty() ? name : name + " " + op + " " + version; }

std::string Header::evr() const {
  return (epoch ? std::to_string(*epoch) + ":" : "") + version +
         (release.empty() ? "" : "-" + release);
}

std::string Header::nevra() const { return name + "-" + evr() + "." + arch; }

std::string Header::source_name() const {
  for (std::string_view suffix : {".src.rpm", ".nosrc.rpm"}) {
    if (sourcerpm.size() <= suffix.size() ||
        sourcerpm.compare(sourcerpm.size() - suffix.size(), suffix.size(), suffix))
      continue;
    auto s = sourcerpm.substr(0, sourcerpm.size() - suffix.size());
    auto rel = s.rfind('-');
    auto ver = rel == std::string::npos || rel == 0 ? std::string::npos : s.rfind('-', rel - 1);
    if (ver != std::string::npos && ver > 0) return s.substr(0, ver);
  }
  return name;
}

Result<Header> parse_header(std::string_view blob) {
  auto ix = parse_index(blob, "rpm header");
  if (!ix) return ix.error();
  Header h;
  h.name = ix->string(1000).value_or("");
  h.version = ix->string(1001).value_or("");
  h.release = ix->string(1002).value_or("");
  if (auto e = ix->ints(1003); !e.empty() && ix->find(1003, kTypeInt32)) h.epoch = e[0];
  h.summary = ix->string(1004).value_or("");
  h.license = ix->string(1014).value_or("");
  h.vendor = ix->string(1011).value_or("");
  h.packager = ix->string(1015).value_or("");
  h.arch = ix->string(1022).value_or("");
  h.sourcerpm = ix->string(1044).value_or("");
  h.payload_format = ix->string(1124).value_or("");
  h.payload_compressor = ix->string(1125).value_or("");
  if (h.name.empty() || h.version.empty())
    return make_error(Errc::invalid_argument, "rpm header without NAME or VERSION");
  h.provides = dependencies(*ix, 1047, 1112, 1113);
  h.requires_ = dependencies(*ix, 1049, 1048, 1050);
  h.conflicts = dependencies(*ix, 1054, 1053, 1055);
  h.obsoletes = dependencies(*ix, 1090, 1114, 1115);
  // Files: DIRNAMES[DIRINDEXES[i]] + BASENAMES[i], or OLDFILENAMES in old packages.
  std::vector<std::string> paths;
  auto base = ix->strings(1117);
  if (!base.empty()) {
    auto dirs = ix->strings(1118);
    auto di = ix->ints(1116);
    if (di.size() != base.size())
      return make_error(Errc::invalid_argument, "rpm header: DIRINDEXES and BASENAMES differ");
    for (std::size_t i = 0; i < base.size(); ++i) {
      if (di[i] >= dirs.size())
        return make_error(Errc::invalid_argument,
                          "rpm header: a file's directory index is out of range");
      paths.push_back(dirs[di[i]] + base[i]);
    }
  } else {
    paths = ix->strings(1027);
  }
  if (paths.size() > kMaxFiles)
    return make_error(Errc::invalid_argument,
                      "rpm header lists more than " + std::to_string(kMaxFiles) + " files");
  auto modes = ix->ints(1030);
  auto flags = ix->ints(1037);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto p = normalise_archive_path(paths[i]);
    if (!p || p->empty())
      return make_error(Errc::invalid_argument,
                        "rpm header: file path '" + paths[i] + "' leaves the root or is empty");
    h.files.push_back(std::move(*p));
    if (modes.size() == paths.size()) h.file_modes.push_back(modes[i]);
    if (flags.size() == paths.size()) h.file_flags.push_back(flags[i]);
  }
  struct Script {
    std::uint32_t body, prog;
    const char* name;
  };
  for (auto s :
       {Script{1151, 1153, "%pretrans"}, Script{1023, 1085, "%pre"}, Script{1024, 1086, "%post"},
        Script{1025, 1087, "%preun"}, Script{1026, 1088, "%postun"},
        Script{1152, 1154, "%posttrans"}, Script{1065, 1092, "%trigger"},
        Script{5066, 5067, "%filetrigger"}, Script{5076, 5077, "%transfiletrigger"}}) {
    bool body = ix->entries.count(s.body) > 0;
    auto prog = ix->strings(s.prog);
    if (!body && prog.empty()) continue;
    h.scripts.push_back(std::string(s.name) + " (" + (prog.empty() ? "/bin/sh" : prog[0]) + ")");
  }
  return h;
}

std::optional<std::string> signature_key_id(std::string_view p) {
  if (p.size() < 2) return std::nullopt;
  auto b0 = static_cast<std::uint8_t>(p[0]);
  if (!(b0 & 0x80)) return std::nullopt;
  std::size_t pos = 1, len = 0;
  if (b0 & 0x40) {  // new format
    if ((b0 & 0x3f) != 2) return std::nullopt;
    auto o = static_cast<std::uint8_t>(p[1]);
    if (o < 192) {
      len = o;
      pos = 2;
    } else if (o < 224 && p.size() >= 3) {
      len = ((o - 192) << 8) + static_cast<std::uint8_t>(p[2]) + 192;
      pos = 3;
    } else if (o == 255 && p.size() >= 6) {
      len = be32(p, 2);
      pos = 6;
    } else {
      return std::nullopt;
    }
  } else {  // old format
    if (((b0 >> 2) & 0x0f) != 2) return std::nullopt;
    switch (b0 & 3) {
      case 0:
        len = static_cast<std::uint8_t>(p[1]);
        pos = 2;
        break;
      case 1:
        if (p.size() < 3) return std::nullopt;
        len = (static_cast<std::size_t>(static_cast<std::uint8_t>(p[1])) << 8) |
              static_cast<std::uint8_t>(p[2]);
        pos = 3;
        break;
      case 2:
        if (p.size() < 5) return std::nullopt;
        len = be32(p, 1);
        pos = 5;
        break;
      default:
        len = p.size() - 1;
        pos = 1;
    }
  }
  if (pos + len > p.size() || len < 1) return std::nullopt;
  auto body = p.substr(pos, len);
  auto version = static_cast<std::uint8_t>(body[0]);
  if (version == 3) {
    if (body.size() < 15) return std::nullopt;
    return hex_of(body.substr(7, 8));
  }
  if (version != 4 || body.size() < 6) return std::nullopt;
  std::optional<std::string> from_fpr;
  std::size_t off = 4;
  for (int area = 0; area < 2; ++area) {
    if (off + 2 > body.size()) return std::nullopt;
    std::size_t n = (static_cast<std::size_t>(static_cast<std::uint8_t>(body[off])) << 8) |
                    static_cast<std::uint8_t>(body[off + 1]);
    off += 2;
    if (off + n > body.size()) return std::nullopt;
    auto sub = body.substr(off, n);
    off += n;
    std::size_t q = 0;
    while (q < sub.size()) {
      auto o = static_cast<std::uint8_t>(sub[q]);
      std::size_t sl = 0;
      if (o < 192) {
        sl = o;
        q += 1;
      } else if (o < 255) {
        if (q + 1 >= sub.size()) break;
        sl = ((o - 192) << 8) + static_cast<std::uint8_t>(sub[q + 1]) + 192;
        q += 2;
      } else {
        if (q + 5 > sub.size()) break;
        sl = be32(sub, q + 1);
        q += 5;
      }
      if (sl == 0 || q + sl > sub.size()) break;
      auto type = static_cast<std::uint8_t>(sub[q]) & 0x7f;
      auto data = sub.substr(q + 1, sl - 1);
      if (type == 16 && data.size() == 8) return hex_of(data);
      if (type == 33 && data.size() == 21 && data[0] == 4) from_fpr = hex_of(data.substr(13, 8));
      q += sl;
    }
  }
  return from_fpr;
}

Result<PackageFile> read_package(const fsys::path& file) {
  std::error_code ec;
  auto size = fsys::file_size(file, ec);
  if (ec) return make_error(Errc::io_error, file.filename().string() + ": " + ec.message());
  if (size > kMaxPackageBytes)
    return make_error(Errc::invalid_argument,
                      "rpm package larger than " + std::to_string(kMaxPackageBytes) + " bytes");
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(Errc::io_error, "cannot open " + file.filename().string());
  auto read_at = [&](std::uint64_t off, std::size_t n) -> Result<std::string> {
    if (off + n > size) return make_error(Errc::invalid_argument, "rpm package is truncated");
    std::string s(n, '\0');
    in.seekg(static_cast<std::streamoff>(off));
    if (!in.read(s.data(), static_cast<std::streamsize>(n)))
      return make_error(Errc::io_error, "cannot read " + file.filename().string());
    return s;
  };
  auto magic = read_at(0, std::min<std::uint64_t>(size, 4));
  if (!magic) return magic.error();
  if (*magic != std::string("\xed\xab\xee\xdb", 4))
    return make_error(Errc::invalid_argument, "not an rpm package (no lead magic)");
  if (auto lead = read_at(0, 96); !lead) return lead.error();
  // A header in a file: 8 bytes of magic and reserved, then the rpmdb form.
  auto header_at = [&](std::uint64_t off, std::string_view what) -> Result<std::string> {
    auto intro = read_at(off, 16);
    if (!intro) return intro.error();
    if (intro->substr(0, 4) != std::string("\x8e\xad\xe8\x01", 4))
      return make_error(Errc::invalid_argument, std::string(what) + " has no header magic");
    std::uint64_t il = be32(*intro, 8), dl = be32(*intro, 12);
    if (il > kMaxHeaderEntries || dl > kMaxHeaderBytes)
      return make_error(Errc::invalid_argument, std::string(what) + " exceeds airheal's limits");
    return read_at(off, 16 + il * 16 + dl);
  };
  auto sig = header_at(96, "the signature header");
  if (!sig) return sig.error();
  auto sig_ix = parse_index(std::string_view(*sig).substr(8), "the signature header");
  if (!sig_ix) return sig_ix.error();
  std::uint64_t main_off = 96 + sig->size();
  main_off += (8 - (sig->size() % 8)) % 8;
  auto main = header_at(main_off, "the main header");
  if (!main) return main.error();
  PackageFile out;
  out.size = size;
  out.payload_offset = main_off + main->size();
  auto h = parse_header(std::string_view(*main).substr(8));
  if (!h) return h.error();
  out.header = std::move(*h);
  if (auto want = sig_ix->string(273)) {
    auto got = Sha256::of(*main).hex();
    if (got != *want)
      return make_error(Errc::invalid_argument, "rpm package " + out.header.name +
                                                    ": the header's SHA-256 is " + got +
                                                    ", its signature header says " + *want);
    out.header_sha256 = got;
  }
  for (std::uint32_t tag : {268u, 267u, 1002u, 1005u})  // RSA, DSA, PGP, GPG
    if (auto packet = sig_ix->bin(tag); !packet.empty())
      if (auto id = signature_key_id(packet))
        if (std::find(out.signer_key_ids.begin(), out.signer_key_ids.end(), *id) ==
            out.signer_key_ids.end())
          out.signer_key_ids.push_back(*id);
  return out;
}

Result<std::vector<Header>> read_database_sqlite(std::string_view bytes) {
  if (bytes.size() > kMaxDatabaseBytes)
    return make_error(Errc::invalid_argument, "rpmdb.sqlite is larger than airheal reads");
  if (bytes.size() < 100 || bytes.substr(0, 16) != std::string_view("SQLite format 3\0", 16))
    return make_error(Errc::invalid_argument, "rpmdb.sqlite is not an SQLite database");
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return make_error(Errc::io_error, "cannot open an in-memory database");
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  auto size = static_cast<sqlite3_int64>(bytes.size());
  auto* copy = static_cast<unsigned char*>(sqlite3_malloc64(bytes.size()));
  if (!copy) return make_error(Errc::io_error, "out of memory reading rpmdb.sqlite");
  std::memcpy(copy, bytes.data(), bytes.size());
  // rpm keeps its database in WAL mode; an in-memory image must read as a rollback-journal one.
  if (copy[18] == 2) copy[18] = 1;
  if (copy[19] == 2) copy[19] = 1;
  if (sqlite3_deserialize(db.get(), "main", copy, size, size,
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) !=
      SQLITE_OK)
    return make_error(Errc::invalid_argument, "rpmdb.sqlite cannot be loaded");
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT blob FROM Packages", -1, &st, nullptr) != SQLITE_OK)
    return make_error(Errc::invalid_argument,
                      std::string("rpmdb.sqlite: ") + sqlite3_errmsg(db.get()));
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(st, &sqlite3_finalize);
  std::vector<Header> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(st, 0));
    auto n = sqlite3_column_bytes(st, 0);
    if (!p || n <= 0) continue;
    if (auto h = parse_header(std::string_view(p, static_cast<std::size_t>(n))))
      out.push_back(std::move(*h));
  }
  if (rc != SQLITE_DONE)
    return make_error(Errc::invalid_argument,
                      std::string("rpmdb.sqlite: ") + sqlite3_errmsg(db.get()));
  return out;
}

}  // namespace airheal::rpm
