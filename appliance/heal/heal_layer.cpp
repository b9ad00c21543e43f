#include "heal/heal_layer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include "core/archive_path.hpp"
#include "core/digest.hpp"
#include "core/gzip.hpp"
#include "core/zstd.hpp"
#include "scan/layer.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;

namespace {

using ArchivePtr = std::unique_ptr<struct archive, decltype(&archive_read_free)>;

ArchivePtr reader() {
  ArchivePtr a(archive_read_new(), &archive_read_free);
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_none(a.get());
  return a;
}

// A tar member of the .deb (an ar archive) read as an archive of its own, streamed.
struct Nested {
  struct archive* outer;
  std::vector<char> buf = std::vector<char>(1 << 16);
};

la_ssize_t nested_read(struct archive*, void* client, const void** buff) {
  auto* n = static_cast<Nested*>(client);
  auto r = archive_read_data(n->outer, n->buf.data(), n->buf.size());
  *buff = n->buf.data();
  return r;
}

std::string err(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown error";
}

// Opens DEB, finds the member whose name starts with PREFIX ("control.tar", "data.tar") and calls
// FN with an archive reading it.
Status with_member(const fsys::path& deb, const std::string& prefix,
                   const std::function<Status(struct archive*)>& fn) {
  ArchivePtr outer(archive_read_new(), &archive_read_free);
  archive_read_support_format_ar(outer.get());
  if (archive_read_open_filename(outer.get(), deb.c_str(), 1 << 16) != ARCHIVE_OK)
    return make_error(Errc::invalid_argument,
                      deb.filename().string() + " is not a .deb: " + err(outer.get()));
  struct archive_entry* e = nullptr;
  while (true) {
    int rc = archive_read_next_header(outer.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      return make_error(Errc::invalid_argument,
                        deb.filename().string() + " is not a .deb: " + err(outer.get()));
    std::string name = entry_pathname(e);
    if (name.rfind(prefix, 0) != 0) continue;
    auto inner = reader();
    Nested n{outer.get()};
    if (archive_read_open(inner.get(), &n, nullptr, nested_read, nullptr) != ARCHIVE_OK)
      return make_error(Errc::invalid_argument, deb.filename().string() + ": " + name +
                                                    " is not a tar: " + err(inner.get()));
    return fn(inner.get());
  }
  return make_error(Errc::invalid_argument,
                    deb.filename().string() + " has no " + prefix + " member");
}

Result<std::string> read_all(struct archive* a, std::uint64_t max) {
  std::string out;
  const void* buf;
  size_t len;
  la_int64_t off;
  int rc;
  while ((rc = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
    if (out.size() + len > max)
      return make_error(Errc::too_large, "member larger than " + std::to_string(max) + " bytes");
    out.append(static_cast<const char*>(buf), len);
  }
  if (rc != ARCHIVE_EOF) return make_error(Errc::invalid_argument, "truncated member: " + err(a));
  return out;
}

// Stanzas of a dpkg database file: [begin, end) offsets, blank lines between them excluded.
std::vector<std::pair<std::size_t, std::size_t>> stanzas(const std::string& s) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == '\n') ++i;
    if (i >= s.size()) break;
    auto end = s.find("\n\n", i);
    end = end == std::string::npos ? s.size() : end + 1;
    out.emplace_back(i, end);
    i = end;
  }
  return out;
}

std::string stanza_field(std::string_view stanza, std::string_view name) {
  std::size_t i = 0;
  while (i < stanza.size()) {
    auto eol = stanza.find('\n', i);
    auto line = stanza.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ':') {
      auto v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.remove_suffix(1);
      return std::string(v);
    }
    if (eol == std::string_view::npos) break;
    i = eol + 1;
  }
  return "";
}

}  // namespace

std::string DebControl::field(std::string_view name) const { return stanza_field(control, name); }

Result<DebControl> read_deb_control(const fsys::path& deb) {
  DebControl out;
  bool have_control = false;
  auto st = with_member(deb, "control.tar", [&](struct archive* a) -> Status {
    struct archive_entry* e = nullptr;
    while (true) {
      int rc = archive_read_next_header(a, &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN)
        return make_error(Errc::invalid_argument,
                          deb.filename().string() + ": control.tar: " + err(a));
      auto name = scan::normalise_path(entry_pathname(e));
      if (!name || (*name != "control" && *name != "md5sums")) continue;
      auto bytes = read_all(a, 16 << 20);
      if (!bytes)
        return make_error(Errc::invalid_argument,
                          deb.filename().string() + ": " + *name + ": " + bytes.error().message);
      if (*name == "control") {
        out.control = std::move(*bytes);
        have_control = true;
      } else {
        out.md5sums = std::move(*bytes);
      }
    }
    return {};
  });
  if (!st) return st.error();
  if (!have_control || out.field("Package").empty() || out.field("Version").empty())
    return make_error(
        Errc::invalid_argument,
        deb.filename().string() + " has no control file naming its package and version");
  while (out.control.size() > 1 && out.control.ends_with("\n\n")) out.control.pop_back();
  if (!out.control.ends_with("\n")) out.control += "\n";
  return out;
}

Result<std::string> replace_stanza(const std::string& file, const std::string& package,
                                   const std::string& new_stanza) {
  std::string out;
  bool found = false;
  auto parts = stanzas(file);
  for (std::size_t k = 0; k < parts.size(); ++k) {
    auto [b, e] = parts[k];
    std::string_view st(file.data() + b, e - b);
    std::string piece(st);
    if (stanza_field(st, "Package") == package) {
      found = true;
      piece = new_stanza;
      auto status = stanza_field(st, "Status");
      if (!status.empty() && stanza_field(new_stanza, "Status").empty()) {
        // After the Package line, where dpkg writes it.
        auto eol = piece.find('\n');
        piece.insert(eol == std::string::npos ? piece.size() : eol + 1, "Status: " + status + "\n");
      }
    }
    if (!piece.ends_with("\n")) piece += "\n";
    if (k) out += "\n";
    out += piece;
  }
  if (!found) return make_error(Errc::not_found, "no stanza for package " + package);
  return out;
}

const char* layer_media_type(LayerCompression c) {
  return c == LayerCompression::zstd ? "application/vnd.oci.image.layer.v1.tar+zstd"
                                     : "application/vnd.oci.image.layer.v1.tar+gzip";
}

LayerWriter::LayerWriter(fsys::path dir, LayerCompression compression)
    : dir_(std::move(dir)), compression_(compression) {}

LayerWriter::~LayerWriter() {
  if (out_) archive_write_free(out_);
}

Status LayerWriter::open() {
  if (out_) return {};
  std::error_code ec;
  fsys::create_directories(dir_, ec);
  out_ = archive_write_new();
  archive_write_set_format_pax_restricted(out_);
  if (archive_write_open_filename(out_, (dir_ / "layer.tar").c_str()) != ARCHIVE_OK)
    return make_error(Errc::io_error,
                      "cannot write " + (dir_ / "layer.tar").string() + ": " + err(out_));
  return {};
}

Status LayerWriter::header_for(const std::string& path, int type, int mode, std::uint64_t size,
                               std::int64_t mtime) {
  if (auto st = open(); !st) return st;
  std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                         &archive_entry_free);
  archive_entry_set_pathname(e.get(), path.c_str());
  archive_entry_set_filetype(e.get(), static_cast<unsigned>(type));
  archive_entry_set_perm(e.get(), static_cast<mode_t>(mode));
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  archive_entry_set_uname(e.get(), "root");
  archive_entry_set_gname(e.get(), "root");
  archive_entry_set_mtime(e.get(), static_cast<time_t>(mtime), 0);
  if (archive_write_header(out_, e.get()) != ARCHIVE_OK)
    return make_error(Errc::io_error, "layer: " + path + ": " + err(out_));
  written_.insert(path);
  return {};
}

Status LayerWriter::add_bytes(const std::string& raw, std::string_view bytes, int mode) {
  auto path = scan::normalise_path(raw);
  if (!path || path->empty()) return make_error(Errc::invalid_argument, "bad layer path " + raw);
  if (auto st = header_for(*path, AE_IFREG, mode, bytes.size()); !st) return st;
  if (archive_write_data(out_, bytes.data(), bytes.size()) != static_cast<la_ssize_t>(bytes.size()))
    return make_error(Errc::io_error, "layer: " + *path + ": " + err(out_));
  return {};
}

Status LayerWriter::add_file(const std::string& raw, const fsys::path& source, int mode,
                             std::int64_t mtime) {
  auto path = scan::normalise_path(raw);
  if (!path || path->empty()) return make_error(Errc::invalid_argument, "bad layer path " + raw);
  std::error_code ec;
  auto size = fsys::file_size(source, ec);
  if (ec) return make_error(Errc::io_error, "cannot read " + source.string() + ": " + ec.message());
  std::ifstream in(source, std::ios::binary);
  if (auto st = header_for(*path, AE_IFREG, mode, size, mtime); !st) return st;
  std::vector<char> buf(1 << 16);
  std::uint64_t done = 0;
  while (in && done < size) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = in.gcount();
    if (n <= 0) break;
    if (archive_write_data(out_, buf.data(), static_cast<size_t>(n)) != n)
      return make_error(Errc::io_error, "layer: " + *path + ": " + err(out_));
    done += static_cast<std::uint64_t>(n);
  }
  if (done != size)
    return make_error(Errc::io_error, source.string() + " changed while it was read");
  return {};
}

Status LayerWriter::add_path(const std::string& raw, const fsys::path& source) {
  auto path = scan::normalise_path(raw);
  if (!path || path->empty()) return make_error(Errc::invalid_argument, "bad layer path " + raw);
  struct stat st {};
  if (::lstat(source.c_str(), &st) != 0)
    return make_error(Errc::io_error,
                      "cannot read " + source.string() + ": " + std::strerror(errno));
  if (S_ISREG(st.st_mode)) {
    if (auto s = add_file(*path, source, static_cast<int>(st.st_mode & 07777), st.st_mtime); !s)
      return s;
  } else if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) {
    if (auto s = open(); !s) return s;
    std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                           &archive_entry_free);
    archive_entry_set_pathname(e.get(), path->c_str());
    archive_entry_set_filetype(e.get(), S_ISDIR(st.st_mode) ? AE_IFDIR : AE_IFLNK);
    archive_entry_set_perm(e.get(),
                           static_cast<mode_t>(S_ISDIR(st.st_mode) ? st.st_mode & 07777 : 0777));
    archive_entry_set_mtime(e.get(), st.st_mtime, 0);
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      auto target = fsys::read_symlink(source, ec);
      if (ec)
        return make_error(Errc::io_error, "cannot read " + source.string() + ": " + ec.message());
      archive_entry_set_symlink(e.get(), target.c_str());
    }
    if (archive_write_header(out_, e.get()) != ARCHIVE_OK)
      return make_error(Errc::io_error, "layer: " + *path + ": " + err(out_));
    written_.insert(*path);
    return {};
  } else {
    return make_error(Errc::unsupported,
                      source.string() + " is not a file, directory or symbolic link");
  }
  return {};
}

Status LayerWriter::add_whiteout(const std::string& raw) {
  auto path = scan::normalise_path(raw);
  if (!path || path->empty()) return make_error(Errc::invalid_argument, "bad whiteout path " + raw);
  auto slash = path->rfind('/');
  auto wh = slash == std::string::npos
                ? ".wh." + *path
                : path->substr(0, slash + 1) + ".wh." + path->substr(slash + 1);
  return header_for(wh, AE_IFREG, 0644, 0);
}

Status LayerWriter::add_deb_data(const fsys::path& deb, std::set<std::string>* paths) {
  if (auto st = open(); !st) return st;
  return with_member(deb, "data.tar", [&](struct archive* a) -> Status {
    return copy_members(a, deb.filename().string() + ": data.tar", 0, paths);
  });
}

Status LayerWriter::add_tar_stream(const fsys::path& file, std::size_t skip,
                                   std::set<std::string>* paths) {
  if (auto st = open(); !st) return st;
  struct archive* a = archive_read_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_read_free);
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, file.c_str(), 1 << 16) != ARCHIVE_OK)
    return make_error(Errc::invalid_argument, file.filename().string() + ": " + err(a));
  return copy_members(a, file.filename().string(), skip, paths);
}

Status LayerWriter::copy_members(struct archive* a, const std::string& label, std::size_t skip,
                                 std::set<std::string>* paths) {
  struct archive_entry* e = nullptr;
  std::vector<char> buf(1 << 16);
  std::size_t index = 0;
  while (true) {
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return make_error(Errc::invalid_argument, label + ": " + err(a));
    if (index++ < skip) continue;
    const char* raw = entry_pathname(e);
    auto path = scan::normalise_path(raw ? raw : "");
    if (!path)
      return make_error(Errc::invalid_argument,
                        label + ": member escapes the root: " + (raw ? raw : ""));
    if (path->empty()) continue;  // "./"
    auto type = archive_entry_filetype(e);
    if (*entry_hardlink(e)) type = AE_IFREG;  // hard links carry no type of their own
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
      return make_error(Errc::invalid_argument,
                        label + ": " + *path + " is not a file, directory or link");
    if (type == AE_IFDIR && written_.count(*path)) continue;  // shared directories once
    std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> o(archive_entry_clone(e),
                                                                           &archive_entry_free);
    archive_entry_set_pathname(o.get(), path->c_str());
    if (const char* hl = entry_hardlink(e); *hl) {
      auto target = scan::normalise_path(hl);
      if (!target || target->empty())
        return make_error(Errc::invalid_argument, label + ": hard link escapes the root: " + hl);
      archive_entry_set_hardlink(o.get(), target->c_str());
    }
    if (archive_write_header(out_, o.get()) != ARCHIVE_OK)
      return make_error(Errc::io_error, "layer: " + *path + ": " + err(out_));
    written_.insert(*path);
    if (paths && type != AE_IFDIR) paths->insert(*path);
    if (type == AE_IFREG && !*entry_hardlink(e)) {
      la_ssize_t n;
      while ((n = archive_read_data(a, buf.data(), buf.size())) > 0)
        if (archive_write_data(out_, buf.data(), static_cast<size_t>(n)) != n)
          return make_error(Errc::io_error, "layer: " + *path + ": " + err(out_));
      if (n < 0) return make_error(Errc::invalid_argument, label + ": truncated at " + *path);
    }
  }
  return {};
}

Result<LayerBlob> LayerWriter::finish() {
  if (auto st = open(); !st) return st.error();
  if (archive_write_close(out_) != ARCHIVE_OK)
    return make_error(Errc::io_error, "layer: " + err(out_));
  archive_write_free(out_);
  out_ = nullptr;
  auto zstd = compression_ == LayerCompression::zstd;
  auto tar = dir_ / "layer.tar", blob = dir_ / (zstd ? "layer.tar.zst" : "layer.tar.gz");
  auto diff = Sha256::of_file(tar);
  if (!diff) return diff.error();
  // Heal layers are pulled by every node: the smallest gzip every client reads, or zstd by choice.
  if (zstd) {
    if (auto z = zst::compress_file(tar, blob); !z) return z.error();
  } else if (auto z = gz::compress_file(tar, blob); !z) {
    return z.error();
  }
  std::error_code ec;
  fsys::remove(tar, ec);
  LayerBlob out;
  auto d = Sha256::of_file(blob, &out.size);
  if (!d) return d.error();
  out.digest = *d;
  out.diff_id = *diff;
  out.file = blob;
  out.media_type = layer_media_type(compression_);
  return out;
}

namespace {

struct FileState {
  bool regular = false;
  Digest hash;
  int perm = 0;
  la_int64_t uid = 0, gid = 0;
  std::int64_t mtime = 0;
};

// The state of a regular (non-hard-link) member with no extended attributes, its data hashed.
Result<FileState> state_of(struct archive* a, struct archive_entry* e, const std::string& path) {
  FileState f;
  if (archive_entry_filetype(e) != AE_IFREG || *entry_hardlink(e) ||
      archive_entry_xattr_count(e) > 0)
    return f;
  Sha256 h;
  std::vector<char> buf(1 << 16);
  la_ssize_t n;
  while ((n = archive_read_data(a, buf.data(), buf.size())) > 0)
    h.update(buf.data(), static_cast<std::size_t>(n));
  if (n < 0)
    return make_error(Errc::invalid_argument,
                      "layer truncated or corrupt at " + path + ": " + err(a));
  f.regular = true;
  f.hash = h.finish();
  f.perm = static_cast<int>(archive_entry_perm(e));
  f.uid = archive_entry_uid(e);
  f.gid = archive_entry_gid(e);
  f.mtime = static_cast<std::int64_t>(archive_entry_mtime(e));
  return f;
}

// A layer blob opened for reading; WHAT names it in the error.
Result<ArchivePtr> open_blob(const fsys::path& blob, const std::string& what) {
  auto a = reader();
  if (archive_read_open_filename(a.get(), blob.c_str(), 1 << 20) != ARCHIVE_OK)
    return make_error(Errc::io_error, "cannot read " + what + ": " + err(a.get()));
  return a;
}

bool under(const std::string& path, const std::string& dir) {
  return dir.empty() || path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
          path[dir.size()] == '/');
}

}  // namespace

Result<LayerBlob> slim_layer(const fsys::path& heal, const std::vector<fsys::path>& lowers,
                             const fsys::path& dir, SlimReport& report,
                             const std::set<std::string>& scratch, LayerCompression compression,
                             bool keep_touched) {
  report = {};
  // 1. The heal layer's regular files, and the paths its hard links point at (kept).
  std::map<std::string, FileState> mine;
  std::set<std::string> link_targets;
  {
    auto opened = open_blob(heal, "the heal layer");
    if (!opened) return opened.error();
    auto& a = *opened;
    struct archive_entry* e = nullptr;
    int rc;
    while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
      auto path = scan::normalise_path(entry_pathname(e));
      if (!path || path->empty()) continue;
      if (const char* hl = entry_hardlink(e); *hl)
        if (auto t = scan::normalise_path(hl)) link_targets.insert(*t);
      auto st = state_of(a.get(), e, *path);
      if (!st) return st.error();
      if (st->regular) mine[*path] = *st;
    }
    if (rc != ARCHIVE_EOF)
      return make_error(Errc::invalid_argument, "the heal layer is corrupt: " + err(a.get()));
  }
  // 2. What the layers below leave at those paths: each layer's whiteouts and opaque markers apply
  // to the layers under it, then its own entries.
  std::map<std::string, FileState> below;
  for (const auto& lower : lowers) {
    auto opened = open_blob(lower, "layer " + lower.filename().string());
    if (!opened) return opened.error();
    auto& a = *opened;
    std::vector<std::string> removed;  // whiteout targets and opaque directories (contents only)
    std::vector<std::string> opaque;
    std::vector<std::pair<std::string, FileState>> entries;
    struct archive_entry* e = nullptr;
    int rc;
    while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
      auto path = scan::normalise_path(entry_pathname(e));
      if (!path || path->empty()) continue;
      auto slash = path->rfind('/');
      auto parent = slash == std::string::npos ? std::string() : path->substr(0, slash);
      auto base = slash == std::string::npos ? *path : path->substr(slash + 1);
      if (base == ".wh..wh..opq") {
        opaque.push_back(parent);
        continue;
      }
      if (base.rfind(".wh.", 0) == 0) {
        removed.push_back((parent.empty() ? "" : parent + "/") + base.substr(4));
        continue;
      }
      // Only paths the heal layer has (or directories above them) matter.
      auto it = mine.lower_bound(*path);
      bool relevant = it != mine.end() && under(it->first, *path);
      if (!relevant) continue;
      if (mine.count(*path)) {
        auto st = state_of(a.get(), e, *path);
        if (!st) return st.error();
        entries.emplace_back(*path, *st);
      } else if (archive_entry_filetype(e) != AE_IFDIR) {
        entries.emplace_back(*path,
                             FileState{});  // a file or link where a directory above them was
      }
    }
    if (rc != ARCHIVE_EOF)
      return make_error(Errc::invalid_argument,
                        "layer " + lower.filename().string() + " is corrupt: " + err(a.get()));
    auto erase_under = [&](const std::string& d, bool include_self) {
      for (auto it = below.lower_bound(d); it != below.end() && under(it->first, d);)
        it = (include_self || it->first != d) ? below.erase(it) : std::next(it);
    };
    for (const auto& r : removed) erase_under(r, true);
    for (const auto& o : opaque) erase_under(o, false);
    for (auto& [path, st] : entries) {
      if (!mine.count(path)) {
        // A non-directory replacing something above candidates, or any entry type change: whatever
        // was below those paths is no longer certain.
        erase_under(path, false);
        continue;
      }
      below[path] = st;
    }
  }
  // 3. Rewrite the heal layer without the files that change nothing.
  std::set<std::string> drop;
  for (const auto& [path, st] : mine) {
    auto it = below.find(path);
    if (it == below.end() || !it->second.regular || link_targets.count(path)) continue;
    const auto& b = it->second;
    if (b.hash == st.hash && b.perm == st.perm && b.uid == st.uid && b.gid == st.gid &&
        (!keep_touched || b.mtime == st.mtime))
      drop.insert(path);
  }
  LayerWriter w(dir, compression);
  auto opened = open_blob(heal, "the heal layer");
  if (!opened) return opened.error();
  auto& a = *opened;
  struct archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    auto path = scan::normalise_path(entry_pathname(e));
    if (path && scratch.count(path->substr(0, path->find('/')))) {
      ++report.scratch;
      continue;
    }
    if (path && drop.count(*path) && !*entry_hardlink(e)) {
      ++report.dropped;
      report.dropped_bytes += static_cast<std::uint64_t>(archive_entry_size(e));
      continue;
    }
    if (auto st = w.copy_entry(a.get(), e); !st) return st.error();
  }
  if (rc != ARCHIVE_EOF)
    return make_error(Errc::invalid_argument, "the heal layer is corrupt: " + err(a.get()));
  return w.finish();
}

Status LayerWriter::copy_layer(const std::filesystem::path& blob,
                               const std::set<std::string>& skip) {
  auto opened = open_blob(blob, "the heal layer");
  if (!opened) return opened.error();
  auto& a = *opened;
  struct archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    auto path = scan::normalise_path(entry_pathname(e));
    if (path && skip.count(*path)) continue;
    if (auto st = copy_entry(a.get(), e); !st) return st;
  }
  if (rc != ARCHIVE_EOF)
    return make_error(Errc::invalid_argument, "the heal layer is corrupt: " + err(a.get()));
  return {};
}

Status LayerWriter::copy_entry(struct archive* in, struct archive_entry* e) {
  if (auto st = open(); !st) return st;
  if (archive_write_header(out_, e) != ARCHIVE_OK)
    return make_error(Errc::io_error,
                      std::string("layer: ") + (entry_pathname(e)) + ": " + err(out_));
  if (archive_entry_size(e) > 0) {
    std::vector<char> buf(1 << 16);
    la_ssize_t n;
    while ((n = archive_read_data(in, buf.data(), buf.size())) > 0)
      if (archive_write_data(out_, buf.data(), static_cast<std::size_t>(n)) != n)
        return make_error(Errc::io_error, "layer: " + err(out_));
    if (n < 0) return make_error(Errc::invalid_argument, "the heal layer is corrupt: " + err(in));
  }
  written_.insert(entry_pathname(e));
  return {};
}

}  // namespace airheal::heal
