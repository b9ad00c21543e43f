#include "snapshot/builder.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "advisory/advisory.hpp"
#include "core/apk.hpp"
#include "core/archive_path.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"
#include "core/rpm.hpp"

namespace airheal::snapshot {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

Error invalid(std::string msg) { return make_error(Errc::invalid_argument, std::move(msg)); }

// One entry to write: bytes in memory or a file to stream.
struct Planned {
  Entry entry;
  std::string data;
  fsys::path file;
};

std::vector<fsys::path> regular_files(const fsys::path& dir) {
  std::vector<fsys::path> out;
  for (const auto& e : fsys::recursive_directory_iterator(dir)) {
    auto name = e.path().filename().string();
    if (!name.empty() && name[0] == '.') continue;
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string deb_filename(const DebInfo& d) {
  auto v = d.version;
  if (auto c = v.find(':'); c != std::string::npos) v = v.substr(c + 1);
  return "pool/" + d.package + "_" + v + "_" + d.architecture + ".deb";
}

std::map<std::string, std::string> parse_control(const std::string& text) {
  std::map<std::string, std::string> f;
  std::string last;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (!last.empty()) f[last] += "\n" + line;
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    last = line.substr(0, colon);
    auto v = line.substr(colon + 1);
    while (!v.empty() && (v[0] == ' ' || v[0] == '\t')) v.erase(0, 1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
    f[last] = v;
  }
  return f;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view t) {
  if (t.empty()) return std::nullopt;
  std::uint64_t mult = 1;
  char u = t.back();
  if (u == 'K' || u == 'k')
    mult = 1ull << 10;
  else if (u == 'M' || u == 'm')
    mult = 1ull << 20;
  else if (u == 'G' || u == 'g')
    mult = 1ull << 30;
  else if (u == 'T' || u == 't')
    mult = 1ull << 40;
  if (mult != 1) t.remove_suffix(1);
  if (t.empty()) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n * mult;
}

Result<ImageSource> parse_image_source(const std::string& text) {
  auto eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    return invalid("--image wants OCI_LAYOUT_DIR=REPO:TAG, got '" + text + "'");
  ImageSource s;
  auto dir = text.substr(0, eq);
  auto target = text.substr(eq + 1);
  auto colon = target.rfind(':');
  if (colon == std::string::npos)
    return invalid("--image target '" + target + "' needs a tag (REPO:TAG)");
  s.repository = target.substr(0, colon);
  s.tag = target.substr(colon + 1);
  if (!oci::is_valid_repository_name(s.repository))
    return invalid("repository name '" + s.repository + "' is not valid");
  if (!oci::is_valid_tag(s.tag)) return invalid("tag '" + s.tag + "' is not valid");
  // DIR:REF picks one image of a multi-image layout, as skopeo's oci:DIR:REF does.
  if (!fsys::exists(fsys::path(dir) / "index.json")) {
    auto c = dir.rfind(':');
    if (c != std::string::npos && fsys::exists(fsys::path(dir.substr(0, c)) / "index.json")) {
      s.ref = dir.substr(c + 1);
      dir = dir.substr(0, c);
    }
  }
  s.layout = dir;
  return s;
}

Result<DebInfo> read_deb(const fsys::path& deb) {
  struct archive* a = archive_read_new();
  archive_read_support_format_ar(a);
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_read_free);
  if (archive_read_open_filename(a, deb.c_str(), 1 << 16) != ARCHIVE_OK)
    return invalid(deb.string() + " is not a Debian package: " + archive_error_string(a));
  struct archive_entry* e = nullptr;
  std::string control_tar;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string name = entry_pathname(e);
    if (name.rfind("control.tar", 0) != 0) continue;
    auto size = archive_entry_size(e);
    if (size < 0 || size > (16 << 20)) return invalid(deb.string() + ": control archive too large");
    control_tar.resize(static_cast<std::size_t>(size));
    if (archive_read_data(a, control_tar.data(), control_tar.size()) != size)
      return invalid(deb.string() + ": truncated control archive");
    break;
  }
  if (control_tar.empty())
    return invalid(deb.string() + " has no control archive: not a Debian package");
  struct archive* c = archive_read_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> cguard(c, archive_read_free);
  archive_read_support_format_tar(c);
  archive_read_support_filter_all(c);
  if (archive_read_open_memory(c, control_tar.data(), control_tar.size()) != ARCHIVE_OK)
    return invalid(deb.string() + ": unreadable control archive");
  std::string control;
  while (archive_read_next_header(c, &e) == ARCHIVE_OK) {
    std::string name = entry_pathname(e);
    if (name != "./control" && name != "control") continue;
    auto size = archive_entry_size(e);
    if (size < 0 || size > (1 << 20)) return invalid(deb.string() + ": control file too large");
    control.resize(static_cast<std::size_t>(size));
    if (archive_read_data(c, control.data(), control.size()) != size)
      return invalid(deb.string() + ": truncated control file");
    break;
  }
  auto f = parse_control(control);
  DebInfo d{f["Package"], f["Version"], f["Architecture"], f["Source"], ""};
  if (d.package.empty() || d.version.empty() || d.architecture.empty())
    return invalid(deb.string() + ": control file lacks Package, Version or Architecture");
  d.source_version = d.version;
  if (d.source.empty()) d.source = d.package;
  if (auto p = d.source.find(" ("); p != std::string::npos) {
    auto close = d.source.find(')', p);
    d.source_version = d.source.substr(p + 2, close - p - 2);
    d.source = d.source.substr(0, p);
  }
  return d;
}

Result<CreateReport> create(const CreateOptions& o) {
  if (!is_valid_channel(o.channel))
    return invalid("channel '" + o.channel + "' must be 1-64 characters of [a-z0-9._-]");
  if (o.sequence < 1) return invalid("--sequence must be at least 1");
  if (o.expires_in <= 0) return invalid("--expires must be a positive duration");
  Manifest m;
  m.channel = o.channel;
  m.sequence = o.sequence;
  m.created = o.created;
  m.expires = o.created + o.expires_in;
  m.generator = "airheal-snapshot 0.1.0";
  std::vector<Planned> plan;
  std::set<std::string> blob_seen;

  auto add_memory = [&](std::string path, EntryKind kind, std::string data,
                        std::string format = {}) {
    Planned p;
    p.entry = Entry{std::move(path), data.size(), Sha256::of(data), kind, std::move(format), false};
    p.data = std::move(data);
    plan.push_back(std::move(p));
  };
  // A file blob; `known` is the digest the caller expects (OCI layouts name files by digest),
  // checked while the archive is written.
  auto add_blob_file =
      [&](const fsys::path& file,
          std::optional<Digest> known) -> Result<std::pair<Digest, std::uint64_t>> {
    std::error_code ec;
    auto size = fsys::file_size(file, ec);
    if (ec) return invalid("cannot read " + file.string() + ": " + ec.message());
    Digest d = known ? *known : Digest::from_hex(std::string(64, '0'));
    if (!known) {
      auto h = Sha256::of_file(file);
      if (!h) return h.error();
      d = *h;
    }
    if (blob_seen.insert(d.hex()).second) {
      Planned p;
      p.entry = Entry{"blobs/sha256/" + d.hex(), size, d, EntryKind::blob, {}, false};
      p.file = file;
      plan.push_back(std::move(p));
    }
    return std::pair{d, static_cast<std::uint64_t>(size)};
  };

  // Images: copy each manifest graph out of its OCI layout.
  json layout_index{
      {"schemaVersion", 2}, {"mediaType", oci::media::kOciIndex}, {"manifests", json::array()}};
  for (const auto& src : o.images) {
    auto idx_bytes = fs::read_file(src.layout / "index.json", 16 << 20);
    if (!idx_bytes)
      return invalid(src.layout.string() +
                     " is not an OCI image layout: " + idx_bytes.error().message);
    auto idx = json::parse(*idx_bytes, nullptr, false);
    if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array())
      return invalid(src.layout.string() + "/index.json is not an OCI image index");
    std::vector<json> candidates;
    for (const auto& d : idx["manifests"]) {
      auto name = d.contains("annotations")
                      ? d["annotations"].value("org.opencontainers.image.ref.name", "")
                      : "";
      if (src.ref.empty() || name == src.ref) candidates.push_back(d);
    }
    if (candidates.size() != 1)
      return invalid(
          src.layout.string() + ": " + std::to_string(candidates.size()) +
          " images match; name one with DIR:REF=REPO:TAG (REF is the layout's ref.name)");
    const auto& top = candidates[0];
    auto top_digest = Digest::parse(top.value("digest", ""));
    if (!top_digest) return invalid(src.layout.string() + ": bad digest in index.json");
    std::string top_type = top.value("mediaType", "");
    std::vector<std::pair<Digest, std::string>> unvisited{{*top_digest, top_type}};
    while (!unvisited.empty()) {
      auto [d, type] = unvisited.back();
      unvisited.pop_back();
      auto path = src.layout / "blobs" / "sha256" / d.hex();
      auto bytes = fs::read_file(path, 4 << 20);
      if (!bytes)
        return invalid(src.layout.string() + ": manifest " + d.str() +
                       " missing: " + bytes.error().message);
      if (Sha256::of(*bytes) != d)
        return invalid(src.layout.string() + ": manifest " + d.str() +
                       " does not match its digest");
      auto parsed = oci::parse_manifest(*bytes, type);
      if (!parsed)
        return invalid(src.layout.string() + ": manifest " + d.str() + ": " +
                       parsed.error().message);
      if (auto r = add_blob_file(path, d); !r) return r.error();
      for (const auto& b : parsed->required_blobs()) {
        auto bp = src.layout / "blobs" / "sha256" / b.hex();
        if (!fsys::exists(bp))
          return invalid(src.layout.string() + ": blob " + b.str() +
                         " is missing (copy the image with all its layers)");
        if (auto r = add_blob_file(bp, b); !r) return r.error();
      }
      for (const auto& c : parsed->manifests) unvisited.emplace_back(c.digest, c.media_type);
    }
    m.images.push_back(Image{src.repository, src.tag, *top_digest, top_type});
    layout_index["manifests"].push_back(
        {{"mediaType", top_type},
         {"digest", top_digest->str()},
         {"size", top.value("size", 0)},
         {"annotations", {{"org.opencontainers.image.ref.name", src.repository + ":" + src.tag}}}});
  }
  if (!o.images.empty()) {
    add_memory("oci-layout", EntryKind::layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
    add_memory("index.json", EntryKind::layout, layout_index.dump());
  }

  // Advisories: each file is parsed here so that a bad one fails on the connected side.
  for (std::size_t i = 0; i < o.advisories.size(); ++i) {
    const auto& dir = o.advisories[i];
    if (!fsys::is_directory(dir))
      return invalid("--advisories " + dir.string() + " is not a directory");
    for (const auto& f : regular_files(dir)) {
      auto bytes = fs::read_file(f, 1ull << 30);
      if (!bytes) return bytes.error();
      auto fmt = advisory::detect_format(f.filename().string(), *bytes);
      if (!fmt)
        return invalid("cannot tell the advisory format of " + f.string() +
                       " (OSV JSON, Debian tracker JSON, Alpine secdb YAML or CSAF 2.0 JSON)");
      if (auto parsed = advisory::parse(*fmt, *bytes, f.string()); !parsed) return parsed.error();
      auto rel = fsys::relative(f, dir).generic_string();
      auto path = "advisories/" + std::to_string(i) + "/" + rel;
      if (!is_safe_path(path))
        return invalid("advisory file name '" + rel +
                       "' has characters a snapshot path cannot hold");
      add_memory(path, EntryKind::advisory, std::move(*bytes), advisory::to_string(*fmt));
    }
  }

  // Packages, with a Debian Packages index over them.
  std::string packages_index;
  for (const auto& dir : o.packages) {
    if (!fsys::is_directory(dir))
      return invalid("--packages " + dir.string() + " is not a directory");
    for (const auto& f : regular_files(dir)) {
      if (f.extension() == ".apk") {
        // Alpine packages: what the package says of itself (.PKGINFO), checked whole on the way
        // (members, control stream, data stream).
        auto pkg = apk::read_package(f, true);
        if (!pkg)
          return invalid(f.string() + " is not a usable apk package: " + pkg.error().message);
        auto blob = add_blob_file(f, std::nullopt);
        if (!blob) return blob.error();
        Package p{pkg->info.name,    pkg->info.version,
                  pkg->info.arch,    pkg->info.origin,
                  pkg->info.version, "pool/" + pkg->info.name + "-" + pkg->info.version + ".apk",
                  blob->first,       blob->second};
        p.format = "apk";
        m.packages.push_back(std::move(p));
        continue;
      }
      if (f.extension() == ".rpm") {
        // rpm packages: what the header says (checked against the signature header's SHA-256).
        auto pkg = rpm::read_package(f);
        if (!pkg)
          return invalid(f.string() + " is not a usable rpm package: " + pkg.error().message);
        const auto& h = pkg->header;
        if (h.arch == "src" || h.sourcerpm.empty())
          return invalid(f.string() + " is a source rpm: a snapshot carries binary packages");
        auto blob = add_blob_file(f, std::nullopt);
        if (!blob) return blob.error();
        Package p{h.name,
                  h.evr(),
                  h.arch,
                  h.source_name(),
                  h.evr(),
                  "pool/" + h.name + "-" + h.version + "-" + h.release + "." + h.arch + ".rpm",
                  blob->first,
                  blob->second};
        p.format = "rpm";
        m.packages.push_back(std::move(p));
        continue;
      }
      if (f.extension() != ".deb") continue;
      auto info = read_deb(f);
      if (!info) return info.error();
      auto blob = add_blob_file(f, std::nullopt);
      if (!blob) return blob.error();
      Package p{info->package,        info->version,       info->architecture, info->source,
                info->source_version, deb_filename(*info), blob->first,        blob->second};
      packages_index += "Package: " + p.name + "\nVersion: " + p.version +
                        "\nArchitecture: " + p.architecture + "\nSource: " + p.source +
                        (p.source_version != p.version ? " (" + p.source_version + ")" : "") +
                        "\nFilename: blobs/sha256/" + p.digest.hex() +
                        "\nSize: " + std::to_string(p.size) + "\nSHA256: " + p.digest.hex() +
                        "\n\n";
      m.packages.push_back(std::move(p));
    }
  }
  if (!packages_index.empty())
    add_memory("packages/Packages", EntryKind::package_index, packages_index);

  // Replacement binaries: FILE plus optional FILE.json metadata.
  std::set<std::string> artifact_names;
  for (const auto& dir : o.artifacts) {
    if (!fsys::is_directory(dir))
      return invalid("--artifacts " + dir.string() + " is not a directory");
    for (const auto& f : regular_files(dir)) {
      if (f.extension() == ".json") continue;
      Artifact a;
      a.name = f.filename().string();
      if (!artifact_names.insert(a.name).second)
        return invalid("two artefacts are named " + a.name);
      auto meta_path = fsys::path(f.string() + ".json");
      if (fsys::exists(meta_path)) {
        auto mb = fs::read_file(meta_path, 1 << 20);
        if (!mb) return mb.error();
        auto mj = json::parse(*mb, nullptr, false);
        if (!mj.is_object()) return invalid(meta_path.string() + " must hold a JSON object");
        a.version = mj.value("version", "");
        a.metadata = std::move(mj);
      }
      if (o.describe_artifact) {
        // An application package names itself: its own metadata must agree with FILE.json.
        auto said = o.describe_artifact(f);
        // (a Go module zip or another file says nothing here; claiming npm, PyPI or Maven for
        // a file that is not such a package is refused)
        auto eco = a.metadata.is_object() ? a.metadata.value("ecosystem", "") : std::string();
        bool claimed = eco == "npm" || eco == "PyPI" || eco == "Maven";
        if (!said && (claimed || said.error().code != Errc::unsupported))
          return invalid("artefact " + a.name + ": " + said.error().message);
        if (said) {
          if (!a.metadata.is_object()) a.metadata = json::object();
          for (auto key : {"ecosystem", "package", "version"}) {
            if (a.metadata.contains(key) && a.metadata[key] != (*said)[key])
              return invalid("artefact " + a.name + ": " + meta_path.filename().string() +
                             " says " + key + " " + a.metadata[key].dump() +
                             " but the package's own metadata says " + (*said)[key].dump());
            a.metadata[key] = (*said)[key];
          }
          a.version = a.metadata["version"].get<std::string>();
        }
      }
      auto blob = add_blob_file(f, std::nullopt);
      if (!blob) return blob.error();
      a.digest = blob->first;
      a.size = blob->second;
      m.artifacts.push_back(std::move(a));
    }
  }

  if (o.trust_keys || !o.trust_add.empty() || !o.trust_remove.empty() || o.trust_threshold) {
    TrustUpdate t;
    if (o.trust_keys) {
      auto k = fs::read_file(*o.trust_keys, 16 << 20);
      if (!k) return k.error();
      t.keys_path = "trust/keys.asc";
      add_memory(t.keys_path, EntryKind::trust_keys, std::move(*k));
    }
    t.add = o.trust_add;
    t.remove = o.trust_remove;
    t.threshold = o.trust_threshold;
    m.trust = std::move(t);
  }

  // A delta leaves out what the previous snapshot of the channel already carried.
  CreateReport report;
  if (o.previous) {
    auto r = ArchiveReader::open(*o.previous);
    if (!r) return r.error();
    auto old = read_head(**r);
    if (!old)
      return make_error(old.error().code,
                        "--previous " + o.previous->string() + ": " + old.error().message);
    if (old->manifest.channel != m.channel)
      return invalid("--previous is a snapshot of channel '" + old->manifest.channel + "', not '" +
                     m.channel + "'");
    if (old->manifest.sequence >= m.sequence)
      return invalid("--sequence " + std::to_string(m.sequence) +
                     " must be greater than the previous snapshot's " +
                     std::to_string(old->manifest.sequence));
    m.previous = Previous{old->manifest.sequence, old->digest};
    std::map<std::string, Digest> had;
    for (const auto& e : old->manifest.entries) had.emplace(e.path, e.sha256);
    for (auto& p : plan) {
      auto it = had.find(p.entry.path);
      if (it != had.end() && it->second == p.entry.sha256 && p.entry.kind != EntryKind::layout &&
          p.entry.kind != EntryKind::package_index) {
        p.entry.in_previous = true;
        report.bytes_left_out += p.entry.size;
      }
    }
  }

  for (const auto& p : plan) m.entries.push_back(p.entry);
  auto manifest_bytes = serialize(m);
  if (auto check = parse_manifest(manifest_bytes); !check)
    return check.error();  // never emit what we would refuse

  auto out_dir = o.out.parent_path().empty() ? fsys::path(".") : o.out.parent_path();
  auto tmp = out_dir / ("." + o.out.filename().string() + ".tmp-" + random_hex(6));
  auto cleanup = [&] {
    std::error_code ec;
    fsys::remove(tmp, ec);
  };
  {
    auto w = ArchiveWriter::create(tmp, o.compression, m.created);
    if (!w) return w.error();
    if (auto st = (*w)->add(std::string(kManifestName), manifest_bytes); !st)
      return cleanup(), st.error();
    for (const auto& p : plan) {
      if (p.entry.in_previous) continue;
      Status st;
      if (p.file.empty()) {
        st = (*w)->add(p.entry.path, p.data);
      } else {
        // Hash while streaming: OCI layouts name blobs by digest, and a corrupt file must not
        // be carried across the gap.
        fs::UniqueFd fd(::open(p.file.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return cleanup(), invalid("cannot read " + p.file.string());
        Sha256 h;
        st = (*w)->add_stream(p.entry.path, p.entry.size,
                              [&](char* buf, std::size_t n) -> Result<std::size_t> {
                                auto got = ::read(fd.get(), buf, n);
                                if (got <= 0) return invalid("cannot read " + p.file.string());
                                h.update(buf, static_cast<std::size_t>(got));
                                return static_cast<std::size_t>(got);
                              });
        if (st && h.finish() != p.entry.sha256)
          return cleanup(), invalid(p.file.string() + " does not match its digest " +
                                    p.entry.sha256.str() + " (corrupt layout?)");
      }
      if (!st) return cleanup(), st.error();
      report.bytes_written += p.entry.size;
    }
    if (auto st = (*w)->close(); !st) return cleanup(), st.error();
  }
  if (auto st = fs::fsync_path(tmp); !st) return cleanup(), st.error();
  if (::rename(tmp.c_str(), o.out.c_str()) != 0)
    return cleanup(), make_error(Errc::io_error, "cannot rename into " + o.out.string());
  (void)fs::fsync_path(out_dir);
  report.digest = Sha256::of(manifest_bytes);
  report.manifest = std::move(m);
  return report;
}

Result<Head> inspect(const fsys::path& file) {
  auto r = ArchiveReader::open(file);
  if (!r) return r.error();
  return read_head(**r);
}

Status sign(const fsys::path& file, const std::vector<std::string>& fingerprints,
            const fsys::path& gpg_home, const std::optional<std::string>& passphrase) {
  auto r = ArchiveReader::open(file);
  if (!r) return r.error();
  auto head = read_head(**r);
  if (!head) return head.error();
  auto keyring = pgp::Keyring::open(gpg_home);
  if (!keyring) return keyring.error();
  auto sigs = head->signatures;
  for (const auto& fpr : fingerprints) {
    auto key = keyring->key(fpr);
    auto primary = key ? key->fingerprint : fpr;
    auto sig = keyring->sign_detached(head->manifest_bytes, fpr, passphrase);
    if (!sig) return sig.error();
    auto name = std::string(kSignaturePrefix) + primary + ".asc";
    auto it =
        std::find_if(sigs.begin(), sigs.end(), [&](const auto& s) { return s.first == name; });
    if (it != sigs.end())
      it->second = *sig;
    else
      sigs.emplace_back(name, *sig);
  }
  if (sigs.size() > kMaxSignatures)
    return invalid("a snapshot holds at most " + std::to_string(kMaxSignatures) + " signatures");
  auto dir = file.parent_path().empty() ? fsys::path(".") : file.parent_path();
  auto tmp = dir / ("." + file.filename().string() + ".tmp-" + random_hex(6));
  auto cleanup = [&] {
    std::error_code ec;
    fsys::remove(tmp, ec);
  };
  {
    auto w = ArchiveWriter::create(tmp, (*r)->compression(), head->manifest.created);
    if (!w) return w.error();
    if (auto st = (*w)->add(std::string(kManifestName), head->manifest_bytes); !st)
      return cleanup(), st;
    for (const auto& [name, sig] : sigs)
      if (auto st = (*w)->add(name, sig); !st) return cleanup(), st;
    std::optional<Header> h = head->first_body;
    while (h) {
      if (h->type != Header::Type::regular)
        return cleanup(), invalid("entry '" + h->path + "' is not a regular file");
      auto& reader = **r;
      if (auto st = (*w)->add_stream(h->path, h->size,
                                     [&](char* buf, std::size_t n) { return reader.read(buf, n); });
          !st)
        return cleanup(), st;
      auto n = reader.next();
      if (!n) return cleanup(), n.error();
      h = std::move(*n);
    }
    if (auto st = (*w)->close(); !st) return cleanup(), st;
  }
  if (auto st = fs::fsync_path(tmp); !st) return cleanup(), st;
  if (::rename(tmp.c_str(), file.c_str()) != 0)
    return cleanup(), make_error(Errc::io_error, "cannot replace " + file.string());
  return fs::fsync_path(dir);
}

Result<VerifyReport> verify(const fsys::path& file, pgp::Keyring& keyring, int threshold) {
  auto r = ArchiveReader::open(file);
  if (!r) return r.error();
  auto head = read_head(**r);
  if (!head) return head.error();
  VerifyReport rep;
  if (head->signatures.empty()) return invalid("the snapshot is not signed");
  std::set<std::string> good;
  for (const auto& [name, sig] : head->signatures) {
    auto checks = keyring.verify_detached(sig, head->manifest_bytes);
    if (!checks) return make_error(checks.error().code, name + ": " + checks.error().message);
    for (auto& c : *checks) {
      if (c.bad)
        return invalid(name + ": " + c.problem + " (the manifest was altered after signing)");
      if (c.good) good.insert(c.fingerprint);
      rep.signatures.push_back(std::move(c));
    }
  }
  rep.good = good.size();
  if (static_cast<int>(good.size()) < threshold) {
    std::string why;
    for (const auto& c : rep.signatures)
      if (!c.good) why += "; " + c.problem;
    return invalid(std::to_string(good.size()) + " good signature(s) by the given keys, " +
                   std::to_string(threshold) + " required" + why);
  }
  if (auto st = stream_body(**r, *head, BodySink{}); !st) return st.error();
  rep.head = std::move(*head);
  return rep;
}

Result<PartsReport> split(const fsys::path& file, std::uint64_t part_size,
                          const fsys::path& out_dir) {
  if (part_size < 4096) return invalid("part size must be at least 4K");
  fs::UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return invalid("cannot read " + file.string());
  PartsReport rep;
  json index{{"file", file.filename().string()}, {"parts", json::array()}};
  Sha256 whole;
  std::uint64_t total = 0;
  std::vector<char> buf(1 << 20);
  bool eof = false;
  for (int n = 1; !eof; ++n) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, ".part%03d", n);
    auto part = out_dir / (file.filename().string() + suffix);
    fs::UniqueFd out(::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out) return invalid("cannot write " + part.string());
    Sha256 h;
    std::uint64_t written = 0;
    while (written < part_size) {
      auto want =
          static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), part_size - written));
      auto got = ::read(in.get(), buf.data(), want);
      if (got < 0) return invalid("cannot read " + file.string());
      if (got == 0) {
        eof = true;
        break;
      }
      if (auto st =
              fs::write_all(out.get(), buf.data(), static_cast<std::size_t>(got), part.string());
          !st)
        return st.error();
      h.update(buf.data(), static_cast<std::size_t>(got));
      whole.update(buf.data(), static_cast<std::size_t>(got));
      written += static_cast<std::uint64_t>(got);
    }
    if (written == 0) {
      out.reset();
      fsys::remove(part);
      break;
    }
    if (::fsync(out.get()) != 0) return invalid("cannot sync " + part.string());
    total += written;
    index["parts"].push_back(
        {{"name", part.filename().string()}, {"size", written}, {"sha256", h.finish().hex()}});
    rep.parts.push_back(part);
  }
  index["size"] = total;
  index["sha256"] = whole.finish().hex();
  rep.index = out_dir / (file.filename().string() + ".parts.json");
  if (auto st = fs::write_file_atomic(rep.index, index.dump(2) + "\n"); !st) return st.error();
  return rep;
}

Status join(const fsys::path& index_path, const fsys::path& out) {
  auto bytes = fs::read_file(index_path, 1 << 20);
  if (!bytes) return bytes.error();
  auto index = json::parse(*bytes, nullptr, false);
  if (!index.is_object() || !index.contains("parts") || !index["parts"].is_array() ||
      !index.contains("sha256"))
    return invalid(index_path.string() + " is not a parts index written by airheal-snapshot split");
  auto dir = index_path.parent_path().empty() ? fsys::path(".") : index_path.parent_path();
  auto out_dir = out.parent_path().empty() ? fsys::path(".") : out.parent_path();
  auto tmp = out_dir / ("." + out.filename().string() + ".tmp-" + random_hex(6));
  fs::UniqueFd o(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!o) return invalid("cannot write " + tmp.string());
  auto fail = [&](std::string msg) -> Status {
    std::error_code ec;
    fsys::remove(tmp, ec);
    return invalid(std::move(msg));
  };
  Sha256 whole;
  std::vector<char> buf(1 << 20);
  for (const auto& p : index["parts"]) {
    auto name = p.value("name", "");
    if (name.empty() || name.find('/') != std::string::npos || name == "..")
      return fail("bad part name in the index");
    fs::UniqueFd in(::open((dir / name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return fail("part " + name + " is missing");
    Sha256 h;
    std::uint64_t n = 0;
    while (true) {
      auto got = ::read(in.get(), buf.data(), buf.size());
      if (got < 0) return fail("cannot read part " + name);
      if (got == 0) break;
      h.update(buf.data(), static_cast<std::size_t>(got));
      whole.update(buf.data(), static_cast<std::size_t>(got));
      n += static_cast<std::uint64_t>(got);
      if (auto st = fs::write_all(o.get(), buf.data(), static_cast<std::size_t>(got), tmp.string());
          !st)
        return fail(st.error().message);
    }
    if (n != p.value("size", std::uint64_t{0}) || h.finish().hex() != p.value("sha256", ""))
      return fail("part " + name + " is damaged (size or sha256 differs from the index)");
  }
  if (whole.finish().hex() != index["sha256"].get<std::string>())
    return fail("the joined file does not match the index's sha256");
  if (::fsync(o.get()) != 0) return fail("cannot sync " + tmp.string());
  o.reset();
  if (::rename(tmp.c_str(), out.c_str()) != 0) return fail("cannot rename into " + out.string());
  return fs::fsync_path(out_dir);
}

}  // namespace airheal::snapshot
