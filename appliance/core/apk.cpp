#include "core/apk.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "core/archive_path.hpp"
#include "core/digest.hpp"

namespace airheal::apk {
namespace fsys = std::filesystem;

namespace {

Error bad(const std::string& what) { return make_error(Errc::invalid_argument, what); }

std::string sha1(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha1(), nullptr);
  return std::string(reinterpret_cast<char*>(md), n);
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// The gzip members of FILE: each member's compressed byte range, and the decompressed bytes of
// the members before the data stream (up to kMaxControlBytes in all; the data member is only
// walked through to find its end).
struct Member {
  std::uint64_t offset = 0, length = 0;
  std::string bytes;  // decompressed (control-side members only)
};

Result<std::vector<Member>> split_members(const fsys::path& file, std::uint64_t& size,
                                          std::size_t max_control = kMaxControlBytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(Errc::io_error, "cannot open " + file.filename().string());
  std::vector<Member> out;
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return make_error(Errc::io_error, "zlib");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  std::vector<unsigned char> buf(1 << 16), outbuf(1 << 16);
  std::uint64_t consumed = 0, member_start = 0, decompressed = 0;
  bool in_member = false;
  Member cur;
  size = 0;
  for (;;) {
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    size += got;
    if (size > kMaxPackageBytes) return bad("the package is larger than 2 GiB");
    z.next_in = buf.data();
    z.avail_in = static_cast<uInt>(got);
    while (z.avail_in > 0) {
      if (!in_member) {
        in_member = true;
        member_start = consumed + (got - z.avail_in);
        cur = {};
        cur.offset = member_start;
      }
      z.next_out = outbuf.data();
      z.avail_out = static_cast<uInt>(outbuf.size());
      int rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        return bad("not a gzip stream (" + std::string(z.msg ? z.msg : "corrupt") + ")");
      auto produced = outbuf.size() - z.avail_out;
      decompressed += produced;
      if (out.size() < 2) {
        if (cur.bytes.size() + produced > max_control)
          return bad("the signature or control stream is larger than " +
                     std::to_string(max_control >> 20) + " MiB");
        cur.bytes.append(reinterpret_cast<char*>(outbuf.data()), produced);
      }
      if (rc == Z_STREAM_END) {
        cur.length = consumed + (got - z.avail_in) - member_start;
        out.push_back(std::move(cur));
        in_member = false;
        if (out.size() > 3) return bad("more than three gzip members");
        inflateReset(&z);
      } else if (rc == Z_BUF_ERROR && produced == 0 && z.avail_in > 0) {
        return bad("corrupt gzip stream");
      }
    }
    consumed += got;
  }
  if (in_member) return bad("truncated (a gzip member has no end)");
  if (out.empty()) return bad("empty file");
  return out;
}

// Entries of a tar stream without its end blocks (the signature and control streams): names and
// contents of regular files; pax 'x' headers may set a path.
struct TarFile {
  std::string name, data;
  char type = '0';
};
Result<std::vector<TarFile>> read_tar_files(std::string_view s) {
  std::vector<TarFile> out;
  std::size_t pos = 0;
  std::string pax_path;
  while (pos + 512 <= s.size()) {
    auto h = s.substr(pos, 512);
    if (h.find_first_not_of('\0') == std::string_view::npos) break;  // end blocks
    std::string name(h.substr(0, 100).data(), strnlen(h.data(), 100));
    std::string prefix(h.substr(345, 155).data(), strnlen(h.data() + 345, 155));
    if (h.substr(257, 5) == "ustar" && !prefix.empty()) name = prefix + "/" + name;
    std::uint64_t size = 0;
    for (char c : h.substr(124, 12)) {
      if (c == '\0' || c == ' ') continue;
      if (c < '0' || c > '7') return bad("bad tar header size");
      size = size * 8 + static_cast<std::uint64_t>(c - '0');
    }
    char type = h[156];
    pos += 512;
    if (size > s.size() - pos) return bad("truncated control stream");
    auto data = s.substr(pos, static_cast<std::size_t>(size));
    pos += static_cast<std::size_t>((size + 511) / 512 * 512);
    if (type == 'x') {
      // "LEN key=value\n" records.
      std::size_t i = 0;
      while (i < data.size()) {
        auto sp = data.find(' ', i);
        if (sp == std::string_view::npos) break;
        auto len = std::strtoull(std::string(data.substr(i, sp - i)).c_str(), nullptr, 10);
        if (len == 0 || i + len > data.size()) return bad("bad pax record");
        auto rec = data.substr(sp + 1, i + len - sp - 2);
        if (rec.starts_with("path=")) pax_path = std::string(rec.substr(5));
        i += len;
      }
      continue;
    }
    if (!pax_path.empty()) name = pax_path;
    pax_path.clear();
    if (type == 'g') continue;
    if (type == '\0') type = '0';
    out.push_back({name, type == '0' ? std::string(data) : std::string(), type});
    if (out.size() > 64) return bad("more than 64 control entries");
  }
  return out;
}

// The signature member's files as signatures (.SIGN.RSA.<key> or .SIGN.RSA256.<key>).
Result<std::vector<Signature>> signatures_of(const std::vector<TarFile>& files) {
  std::vector<Signature> out;
  for (const auto& f : files) {
    if (f.type != '0') return bad("a signature stream entry is not a file: " + f.name);
    auto rest = std::string_view(f.name).substr(6);
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) return bad("bad signature name " + f.name);
    Signature sig{std::string(rest.substr(0, dot)), std::string(rest.substr(dot + 1)), f.data};
    if (sig.key_name.empty() || sig.key_name.find('/') != std::string::npos ||
        sig.key_name.starts_with("."))
      return bad("bad signature key name " + f.name);
    out.push_back(std::move(sig));
  }
  return out;
}

void split_words(std::string_view v, std::vector<std::string>& out) {
  std::size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && v[i] == ' ') ++i;
    auto j = v.find(' ', i);
    if (j == std::string_view::npos) j = v.size();
    if (j > i) out.emplace_back(v.substr(i, j - i));
    i = j;
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(raw.data()),
                           static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

std::string q1(std::string_view raw_sha1) { return "Q1" + base64(raw_sha1); }
std::string q1_of(std::string_view bytes) { return q1(sha1(bytes)); }

Result<PkgInfo> parse_pkginfo(std::string_view text) {
  if (text.size() > kMaxPkginfoBytes) return bad(".PKGINFO is larger than 1 MiB");
  PkgInfo p;
  std::size_t i = 0, lines = 0;
  auto number = [](const std::string& v) -> std::optional<std::uint64_t> {
    if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    return std::stoull(v);
  };
  while (i < text.size()) {
    auto eol = text.find('\n', i);
    if (eol == std::string_view::npos) eol = text.size();
    auto line = text.substr(i, eol - i);
    i = eol + 1;
    if (++lines > 100000) return bad(".PKGINFO has too many lines");
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return bad(".PKGINFO line without '=': " + trim(line));
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (value.find_first_of(std::string_view("\0", 1)) != std::string::npos)
      return bad(".PKGINFO holds a NUL byte");
    if (key == "pkgname")
      p.name = value;
    else if (key == "pkgver")
      p.version = value;
    else if (key == "pkgdesc")
      p.description = value;
    else if (key == "url")
      p.url = value;
    else if (key == "arch")
      p.arch = value;
    else if (key == "origin")
      p.origin = value;
    else if (key == "commit")
      p.commit = value;
    else if (key == "maintainer")
      p.maintainer = value;
    else if (key == "license")
      p.license = value;
    else if (key == "datahash")
      p.datahash = value;
    else if (key == "depend")
      split_words(value, p.depends);
    else if (key == "provides")
      split_words(value, p.provides);
    else if (key == "install_if")
      split_words(value, p.install_if);
    else if (key == "replaces")
      split_words(value, p.replaces);
    else if (key == "triggers")
      split_words(value, p.triggers);
    else if (key == "replaces_priority")
      p.replaces_priority = value;
    else if (key == "provider_priority")
      p.provider_priority = value;
    else if (key == "size" || key == "builddate") {
      auto n = number(value);
      if (!n) return bad(".PKGINFO " + key + " is not a number: " + value);
      if (key == "size")
        p.installed_size = *n;
      else
        p.build_date = static_cast<std::int64_t>(*n);
    }
  }
  if (p.name.empty() || p.version.empty() || p.arch.empty())
    return bad(".PKGINFO lacks pkgname, pkgver or arch");
  for (const auto& s : {p.name, p.version, p.arch})
    if (s.find_first_of(" \t:/") != std::string::npos)
      return bad(".PKGINFO name, version or arch holds a space, ':' or '/': " + s);
  if (p.origin.empty()) p.origin = p.name;
  return p;
}

Result<PackageFile> read_package(const fsys::path& file, bool with_data) {
  auto label = file.filename().string();
  auto fail = [&](const Error& e) { return make_error(e.code, label + ": " + e.message); };
  PackageFile out;
  auto members = split_members(file, out.size);
  if (!members) return fail(members.error());
  std::size_t control_index = 0, control_entries = 0;
  auto first = read_tar_files((*members)[0].bytes);
  if (!first) return fail(first.error());
  bool has_signature = !first->empty() && first->front().name.starts_with(".SIGN.");
  if (has_signature) {
    auto sigs = signatures_of(*first);
    if (!sigs) return fail(sigs.error());
    out.signatures = std::move(*sigs);
    control_index = 1;
    control_entries = first->size();
    if (members->size() != 3)
      return fail(
          bad("a signed package has " + std::to_string(members->size()) + " gzip members, not 3"));
  } else if (members->size() != 2) {
    return fail(
        bad("an unsigned package has " + std::to_string(members->size()) + " gzip members, not 2"));
  }
  const auto& cm = (*members)[control_index];
  auto control = control_index == 0 ? std::move(first) : read_tar_files(cm.bytes);
  if (!control) return fail(control.error());
  control_entries += control->size();
  for (const auto& f : *control) {
    if (f.type != '0') continue;
    if (f.name == ".PKGINFO")
      out.pkginfo = f.data;
    else if (f.name.starts_with("."))
      out.scripts.push_back(f.name);
  }
  if (out.pkginfo.empty()) return fail(bad("no .PKGINFO in the control stream"));
  auto info = parse_pkginfo(out.pkginfo);
  if (!info) return fail(info.error());
  out.info = std::move(*info);
  {
    std::ifstream in(file, std::ios::binary);
    out.control_member.resize(cm.length);
    in.seekg(static_cast<std::streamoff>(cm.offset));
    in.read(out.control_member.data(), static_cast<std::streamsize>(cm.length));
    if (static_cast<std::uint64_t>(in.gcount()) != cm.length)
      return fail(make_error(Errc::io_error, "short read"));
  }
  out.identity = q1_of(out.control_member);
  out.control_entries = control_entries;
  out.data_offset = (*members)[control_index + 1].offset;
  if (!with_data) return out;

  // The data stream: the whole file read as one tar stream (apk v2's design: the first streams
  // have no end blocks), skipping the signature and control entries.
  struct archive* a = archive_read_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_read_free);
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, file.c_str(), 1 << 16) != ARCHIVE_OK)
    return fail(bad(archive_error_string(a) ? archive_error_string(a) : "unreadable"));
  struct archive_entry* e = nullptr;
  std::size_t index = 0;
  std::map<std::string, std::string> checksums;
  std::vector<char> buf(1 << 16);
  for (;;) {
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      return fail(bad(std::string("data stream: ") +
                      (archive_error_string(a) ? archive_error_string(a) : "unreadable")));
    if (index++ < control_entries) continue;
    if (out.data.size() >= kMaxDataEntries) return fail(bad("more than 200000 files"));
    const char* raw = entry_pathname(e);
    auto path = normalise_archive_path(raw ? raw : "");
    if (!path) return fail(bad(std::string("a member escapes the root: ") + (raw ? raw : "")));
    if (path->empty()) continue;
    DataEntry d;
    d.path = *path;
    d.mode = static_cast<int>(archive_entry_perm(e));
    d.uid = static_cast<std::uint32_t>(archive_entry_uid(e));
    d.gid = static_cast<std::uint32_t>(archive_entry_gid(e));
    auto type = archive_entry_filetype(e);
    if (const char* hl = entry_hardlink(e); *hl) {
      auto target = normalise_archive_path(hl);
      if (!target || target->empty()) return fail(bad(std::string("bad hard link: ") + hl));
      d.type = 'h';
      d.link = *target;
      d.checksum = checksums[*target];
    } else if (type == AE_IFDIR) {
      d.type = 'd';
    } else if (type == AE_IFLNK) {
      d.type = 'l';
      const char* t = archive_entry_symlink(e);
      d.link = t ? t : "";
      d.checksum = q1_of(d.link);
      d.mode = 0777;
    } else if (type == AE_IFREG) {
      d.type = 'f';
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> cg(ctx, EVP_MD_CTX_free);
      EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
      la_ssize_t n;
      while ((n = archive_read_data(a, buf.data(), buf.size())) > 0) {
        EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n));
        d.size += static_cast<std::uint64_t>(n);
      }
      if (n < 0) return fail(bad("truncated at " + d.path));
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      EVP_DigestFinal_ex(ctx, md, &len);
      d.checksum = q1(std::string(reinterpret_cast<char*>(md), len));
      checksums[d.path] = d.checksum;
    } else {
      return fail(bad(d.path + " is not a file, directory or link"));
    }
    out.data.push_back(std::move(d));
  }
  return out;
}

std::string index_record(const PackageFile& p) {
  const auto& i = p.info;
  std::string r;
  auto line = [&](char k, const std::string& v) {
    if (!v.empty()) r += std::string(1, k) + ":" + v + "\n";
  };
  line('C', p.identity);
  line('P', i.name);
  line('V', i.version);
  line('A', i.arch);
  line('S', std::to_string(p.size));
  line('I', std::to_string(i.installed_size));
  line('T', i.description);
  line('U', i.url);
  line('L', i.license);
  line('o', i.origin);
  line('m', i.maintainer);
  if (i.build_date) line('t', std::to_string(i.build_date));
  line('c', i.commit);
  line('k', i.provider_priority);
  line('D', join(i.depends));
  line('p', join(i.provides));
  line('i', join(i.install_if));
  return r;
}

std::string installed_record(const PackageFile& p) {
  auto r = index_record(p);
  if (!p.info.replaces.empty()) r += "r:" + join(p.info.replaces) + "\n";
  if (!p.info.replaces_priority.empty()) r += "q:" + p.info.replaces_priority + "\n";
  std::string dir;
  bool have_dir = false;
  auto owner = [](const DataEntry& d) {
    return std::to_string(d.uid) + ":" + std::to_string(d.gid) + ":" + [&] {
      char b[8];
      std::snprintf(b, sizeof b, "%o", d.mode & 07777);
      return std::string(b);
    }();
  };
  for (const auto& d : p.data) {
    if (d.type == 'd') {
      r += "F:" + d.path + "\n";
      if (d.uid != 0 || d.gid != 0 || (d.mode & 07777) != 0755) r += "M:" + owner(d) + "\n";
      dir = d.path;
      have_dir = true;
      continue;
    }
    auto slash = d.path.rfind('/');
    auto parent = slash == std::string::npos ? std::string() : d.path.substr(0, slash);
    auto base = slash == std::string::npos ? d.path : d.path.substr(slash + 1);
    if (!have_dir || parent != dir) {
      r += "F:" + parent + "\n";
      dir = parent;
      have_dir = true;
    }
    r += "R:" + base + "\n";
    if (d.uid != 0 || d.gid != 0 || (d.mode & 07777) != 0644) r += "a:" + owner(d) + "\n";
    if (!d.checksum.empty()) r += "Z:" + d.checksum + "\n";
  }
  return r;
}

namespace {
// Splits TEXT into records (runs of non-empty lines).
std::vector<std::string_view> split_records(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0, start = std::string_view::npos;
  while (i <= text.size()) {
    auto eol = text.find('\n', i);
    if (eol == std::string_view::npos) eol = text.size();
    auto line = text.substr(i, eol - i);
    if (line.empty() || line == "\r") {
      if (start != std::string_view::npos) out.push_back(text.substr(start, i - start));
      start = std::string_view::npos;
    } else if (start == std::string_view::npos) {
      start = i;
    }
    if (eol == text.size()) {
      if (start != std::string_view::npos) out.push_back(text.substr(start));
      break;
    }
    i = eol + 1;
  }
  return out;
}
}  // namespace

Result<std::vector<Record>> parse_database(std::string_view text) {
  if (text.size() > kMaxDatabaseBytes) return bad("the apk database is larger than 256 MiB");
  std::vector<Record> out;
  for (auto rec : split_records(text)) {
    Record r;
    r.text = std::string(rec);
    if (!r.text.ends_with('\n')) r.text += '\n';
    std::string dir;
    std::size_t i = 0;
    while (i < rec.size()) {
      auto eol = rec.find('\n', i);
      if (eol == std::string_view::npos) eol = rec.size();
      auto line = rec.substr(i, eol - i);
      i = eol + 1;
      if (line.size() < 2 || line[1] != ':')
        return bad("apk database line is not 'X:value': " + std::string(line.substr(0, 80)));
      auto v = std::string(line.substr(2));
      switch (line[0]) {
        case 'P':
          r.name = v;
          break;
        case 'V':
          r.version = v;
          break;
        case 'A':
          r.arch = v;
          break;
        case 'o':
          r.origin = v;
          break;
        case 'D':
          split_words(v, r.depends);
          break;
        case 'p':
          split_words(v, r.provides);
          break;
        case 'F':
          dir = v;
          break;
        case 'R':
          if (auto n = normalise_archive_path(dir.empty() ? v : dir + "/" + v); n && !n->empty())
            r.files.push_back(*n);
          break;
        default:
          break;
      }
    }
    if (r.name.empty() || r.version.empty()) return bad("an apk database record lacks P: or V:");
    if (r.origin.empty()) r.origin = r.name;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::string> replace_record(std::string_view db, std::string_view name,
                                   std::string_view record) {
  auto recs = parse_database(db);
  if (!recs) return recs.error();
  std::string out;
  bool replaced = false;
  for (const auto& r : *recs) {
    if (r.name == name) {
      if (replaced) return bad("the apk database has two records of " + std::string(name));
      out += record;
      replaced = true;
    } else {
      out += r.text;
    }
    out += "\n";
  }
  if (!replaced) out += std::string(record) + "\n";
  return out;
}

std::optional<Dependency> parse_dependency(std::string_view t) {
  Dependency d;
  if (t.starts_with('!')) {
    d.conflict = true;
    t.remove_prefix(1);
  }
  auto op = t.find_first_of("<>=~");
  d.name = std::string(t.substr(0, op));
  if (op != std::string_view::npos) {
    auto end = t.find_first_not_of("<>=~", op);
    if (end == std::string_view::npos) return std::nullopt;
    d.op = std::string(t.substr(op, end - op));
    d.version = std::string(t.substr(end));
    if (d.op != "=" && d.op != "<" && d.op != ">" && d.op != "<=" && d.op != ">=" && d.op != "~" &&
        d.op != "><" && d.op != "=~")
      return std::nullopt;
  }
  if (d.name.empty() || d.name.find_first_of(" \t") != std::string::npos) return std::nullopt;
  return d;
}

Status verify_signature(const PackageFile& p, const Signature& sig, std::string_view key_pem) {
  return verify_signature(p.control_member, sig, key_pem);
}

Status verify_signature(std::string_view signed_bytes, const Signature& sig,
                        std::string_view key_pem) {
  const EVP_MD* md = sig.algorithm == "RSA"      ? EVP_sha1()
                     : sig.algorithm == "RSA256" ? EVP_sha256()
                                                 : nullptr;
  if (!md) return bad("unknown signature algorithm " + sig.algorithm);
  std::unique_ptr<BIO, int (*)(BIO*)> bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) return bad("the key " + sig.key_name + " is not a PEM public key");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1 ||
      EVP_DigestVerify(
          ctx.get(), reinterpret_cast<const unsigned char*>(sig.bytes.data()), sig.bytes.size(),
          reinterpret_cast<const unsigned char*>(signed_bytes.data()), signed_bytes.size()) != 1)
    return make_error(Errc::denied, "the signature by " + sig.key_name +
                                        " does not verify over the control stream");
  return {};
}

Status check_datahash(const fsys::path& file, const PackageFile& p) {
  if (p.info.datahash.size() != 64)
    return bad(file.filename().string() + ": .PKGINFO has no datahash: its data cannot be checked");
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(Errc::io_error, "cannot open " + file.filename().string());
  in.seekg(static_cast<std::streamoff>(p.data_offset));
  Sha256 h;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  auto got = h.finish().hex();
  if (got != p.info.datahash)
    return make_error(Errc::digest_invalid, file.filename().string() +
                                                ": the data stream's SHA-256 is " + got +
                                                ", .PKGINFO's datahash says " + p.info.datahash);
  return {};
}

Result<RepositoryIndex> read_index(const fsys::path& file) {
  auto label = file.filename().string();
  auto fail = [&](const Error& e) { return make_error(e.code, label + ": " + e.message); };
  std::uint64_t size = 0;
  auto members = split_members(file, size, kMaxIndexBytes);
  if (!members) return fail(members.error());
  RepositoryIndex out;
  std::size_t index_member = 0;
  auto first = read_tar_files((*members)[0].bytes);
  if (!first) return fail(first.error());
  if (!first->empty() && first->front().name.starts_with(".SIGN.")) {
    auto sigs = signatures_of(*first);
    if (!sigs) return fail(sigs.error());
    out.signatures = std::move(*sigs);
    index_member = 1;
    if (members->size() != 2)
      return fail(
          bad("a signed index has " + std::to_string(members->size()) + " gzip members, not 2"));
  } else if (members->size() != 1) {
    return fail(
        bad("an unsigned index has " + std::to_string(members->size()) + " gzip members, not 1"));
  }
  const auto& m = (*members)[index_member];
  auto files = index_member == 0 ? std::move(first) : read_tar_files(m.bytes);
  if (!files) return fail(files.error());
  for (const auto& f : *files) {
    if (f.type != '0') continue;
    if (f.name == "APKINDEX") out.apkindex = f.data;
    if (f.name == "DESCRIPTION") out.description = f.data;
  }
  if (out.apkindex.empty()) return fail(bad("no APKINDEX in the index"));
  std::ifstream in(file, std::ios::binary);
  out.signed_member.resize(m.length);
  in.seekg(static_cast<std::streamoff>(m.offset));
  in.read(out.signed_member.data(), static_cast<std::streamsize>(m.length));
  if (static_cast<std::uint64_t>(in.gcount()) != m.length)
    return fail(make_error(Errc::io_error, "short read"));
  return out;
}

}  // namespace airheal::apk
