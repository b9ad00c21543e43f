#include "core/zip.hpp"

#include <zlib.h>

#include <algorithm>

namespace airheal::zip {
namespace {

Error bad(const std::string& m) { return make_error(Errc::invalid_argument, m); }

std::uint32_t le32(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}
std::uint16_t le16(const std::string& b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                    static_cast<unsigned char>(b[at + 1]) << 8);
}
void put16(std::string& o, std::uint32_t v) {
  o.push_back(static_cast<char>(v & 0xff));
  o.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put32(std::string& o, std::uint32_t v) {
  put16(o, v & 0xffff);
  put16(o, v >> 16);
}

Result<std::string> deflate_raw(const std::string& in) {
  z_stream s{};
  if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return make_error(Errc::io_error, "zlib: deflateInit2 failed");
  std::string out(deflateBound(&s, in.size()), '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  if (rc != Z_STREAM_END) return make_error(Errc::io_error, "zlib: deflate failed");
  return out;
}

}  // namespace

Result<ZipArchive> read(const std::string& z) {
  if (z.size() < 22) return bad("not a zip archive (too short)");
  std::size_t eocd = std::string::npos;
  std::size_t lowest = z.size() >= 22 + 65535 ? z.size() - 22 - 65535 : 0;
  for (std::size_t i = z.size() - 22 + 1; i-- > lowest;)
    if (le32(z, i) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos) return bad("not a zip archive (no end of central directory)");
  std::size_t count = le16(z, eocd + 10);
  std::uint32_t cd_size = le32(z, eocd + 12), cd_offset = le32(z, eocd + 16);
  std::size_t comment_len = le16(z, eocd + 20);
  if (count == 0xffff || cd_offset == 0xffffffff || cd_size == 0xffffffff)
    return make_error(Errc::unsupported, "zip64 archives are not rewritten");
  if (eocd + 22 + comment_len > z.size() || static_cast<std::uint64_t>(cd_offset) + cd_size > eocd)
    return bad("the zip's central directory is out of bounds");
  ZipArchive out;
  out.comment = z.substr(eocd + 22, comment_len);
  std::size_t at = cd_offset;
  for (std::size_t k = 0; k < count; ++k) {
    if (at + 46 > eocd || le32(z, at) != 0x02014b50)
      return bad("the zip's central directory is corrupt");
    ZipEntry e;
    e.version_made = le16(z, at + 4);
    e.version_needed = le16(z, at + 6);
    e.flags = le16(z, at + 8);
    e.method = le16(z, at + 10);
    e.time = le16(z, at + 12);
    e.date = le16(z, at + 14);
    e.crc = le32(z, at + 16);
    e.csize = le32(z, at + 20);
    e.usize = le32(z, at + 24);
    std::size_t nlen = le16(z, at + 28), xlen = le16(z, at + 30), clen = le16(z, at + 32);
    e.internal_attr = le16(z, at + 36);
    e.external_attr = le32(z, at + 38);
    e.local_offset = le32(z, at + 42);
    if (at + 46 + nlen + xlen + clen > eocd) return bad("the zip's central directory is corrupt");
    if (e.csize == 0xffffffff || e.usize == 0xffffffff || e.local_offset == 0xffffffff)
      return make_error(Errc::unsupported, "zip64 archives are not rewritten");
    e.name = z.substr(at + 46, nlen);
    e.cd_extra = z.substr(at + 46 + nlen, xlen);
    e.comment = z.substr(at + 46 + nlen + xlen, clen);
    at += 46 + nlen + xlen + clen;
    std::size_t lo = e.local_offset;
    if (lo + 30 > z.size() || le32(z, lo) != 0x04034b50)
      return bad("zip entry " + e.name + " has no local header");
    std::size_t lnlen = le16(z, lo + 26), lxlen = le16(z, lo + 28);
    e.local_extra = z.substr(std::min(z.size(), lo + 30 + lnlen), lxlen);
    e.data_offset = lo + 30 + lnlen + lxlen;
    if (e.data_offset + e.csize > z.size()) return bad("zip entry " + e.name + " is truncated");
    out.entries.push_back(std::move(e));
  }
  // Entries are rewritten in the order their data appears (the order a streaming reader sees).
  std::stable_sort(
      out.entries.begin(), out.entries.end(),
      [](const ZipEntry& a, const ZipEntry& b) { return a.local_offset < b.local_offset; });
  return out;
}

Result<std::string> entry(const std::string& zip, const std::string& entry, std::uint64_t max) {
  auto z = read(zip);
  if (!z) return z.error();
  for (const auto& e : z->entries) {
    if (e.name != entry) continue;
    if (e.usize > max) return make_error(Errc::too_large, entry + " is larger than the limit");
    auto data = zip.substr(e.data_offset, e.csize);
    if (e.method == 0) return data;
    if (e.method != 8)
      return make_error(Errc::unsupported, entry + ": zip method " + std::to_string(e.method));
    std::string out(e.usize, '\0');
    z_stream s{};
    if (inflateInit2(&s, -15) != Z_OK)
      return make_error(Errc::io_error, "zlib: inflateInit2 failed");
    s.next_in = reinterpret_cast<Bytef*>(data.data());
    s.avail_in = static_cast<uInt>(data.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&s, Z_FINISH);
    inflateEnd(&s);
    if (rc != Z_STREAM_END || s.total_out != e.usize)
      return bad(entry + " does not inflate to its size");
    return out;
  }
  return make_error(Errc::not_found, entry + " is not in the archive");
}

Result<std::string> replace_entry(const std::string& outer, const std::string& entry,
                                  const std::string& bytes) {
  auto z = read(outer);
  if (!z) return z.error();
  bool found = false;
  std::string out, cd;
  std::size_t count = 0;
  for (auto e : z->entries) {
    std::string data;
    if (e.name == entry) {
      found = true;
      e.crc = static_cast<std::uint32_t>(
          crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
      e.usize = static_cast<std::uint32_t>(bytes.size());
      if (e.method == 0) {
        data = bytes;
      } else if (e.method == 8) {
        auto d = deflate_raw(bytes);
        if (!d) return d.error();
        data = std::move(*d);
      } else {
        return make_error(Errc::unsupported, entry + ": zip method " + std::to_string(e.method));
      }
      e.csize = static_cast<std::uint32_t>(data.size());
      if (bytes.size() >= 0xffffffffull)
        return make_error(Errc::unsupported, "zip64 entries are not written");
    } else {
      data = outer.substr(e.data_offset, e.csize);
    }
    e.flags &= static_cast<std::uint16_t>(~0x0008);  // sizes in the local header, no descriptor
    if (out.size() >= 0xffffffffull)
      return make_error(Errc::unsupported, "the rewritten archive needs zip64");
    auto offset = static_cast<std::uint32_t>(out.size());
    put32(out, 0x04034b50);
    put16(out, e.version_needed);
    put16(out, e.flags);
    put16(out, e.method);
    put16(out, e.time);
    put16(out, e.date);
    put32(out, e.crc);
    put32(out, e.csize);
    put32(out, e.usize);
    put16(out, static_cast<std::uint32_t>(e.name.size()));
    put16(out, static_cast<std::uint32_t>(e.local_extra.size()));
    out += e.name;
    out += e.local_extra;
    out += data;
    put32(cd, 0x02014b50);
    put16(cd, e.version_made);
    put16(cd, e.version_needed);
    put16(cd, e.flags);
    put16(cd, e.method);
    put16(cd, e.time);
    put16(cd, e.date);
    put32(cd, e.crc);
    put32(cd, e.csize);
    put32(cd, e.usize);
    put16(cd, static_cast<std::uint32_t>(e.name.size()));
    put16(cd, static_cast<std::uint32_t>(e.cd_extra.size()));
    put16(cd, static_cast<std::uint32_t>(e.comment.size()));
    put16(cd, 0);
    put16(cd, e.internal_attr);
    put32(cd, e.external_attr);
    put32(cd, offset);
    cd += e.name;
    cd += e.cd_extra;
    cd += e.comment;
    ++count;
  }
  if (!found) return make_error(Errc::not_found, entry + " is not in the archive");
  auto cd_offset = static_cast<std::uint32_t>(out.size());
  out += cd;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(count));
  put16(out, static_cast<std::uint32_t>(count));
  put32(out, static_cast<std::uint32_t>(cd.size()));
  put32(out, cd_offset);
  put16(out, static_cast<std::uint32_t>(z->comment.size()));
  out += z->comment;
  return out;
}

}  // namespace airheal::zip
