#include "snapshot/importer.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "advisory/advisory_repository.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"
#include "snapshot/archive.hpp"
#include "snapshot/format.hpp"
#include "snapshot/snapshot_repository.hpp"
#include "snapshot/trust_repository.hpp"
#include "store/content_repository.hpp"

namespace airheal::snapshot {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

Error refuse(std::string msg) { return make_error(Errc::denied, std::move(msg)); }

struct Context {
  std::optional<Digest> digest;
  std::string channel;
  std::int64_t sequence = 0;
  std::vector<std::string> signers;
};

// Staged entries live in one directory on the store's file system, removed on every exit.
class Staging {
 public:
  explicit Staging(fsys::path dir) : dir_(std::move(dir)) {}
  ~Staging() {
    std::error_code ec;
    fsys::remove_all(dir_, ec);
  }
  const fsys::path& dir() const { return dir_; }

 private:
  fsys::path dir_;
};

struct ImageGraph {
  const Image* image = nullptr;
  // Children before parents, so that a manifest's references are recorded first.
  std::vector<std::tuple<Digest, oci::Manifest, std::uint64_t>> manifests;
  std::vector<std::pair<Digest, std::uint64_t>> blobs;
};

}  // namespace

std::size_t Importer::clean_staging() {
  auto lock = fs::LockFile::acquire(store_.root() / "import.lock");
  if (!lock) return 0;  // an import is running: it cleans up after itself
  std::error_code ec;
  std::size_t n = 0;
  for (const auto& old : fsys::directory_iterator(store_.root() / "staging", ec)) {
    fsys::remove_all(old.path(), ec);
    ++n;
  }
  return n;
}

namespace {

// One import, in the order it happens: verify (signatures, trust, freshness, a delta's base), stage
// (the entries to the store's file system, synced), validate (advisories, image graphs, key
// rotation) and commit (keys, blobs, one transaction, events). Nothing is visible before commit;
// the staging folder goes and the import lock is released when the run ends, however it ends.
class ImportRun {
 public:
  ImportRun(store::Store& store, pgp::Keyring& keyring, const fsys::path& file,
            const ImportOptions& options, Context& ctx)
      : store_(store), keyring_(keyring), file(file), options(options), ctx(ctx) {}

  Result<ImportResult> run() {
    auto verified = verify();
    if (!verified) return verified.error();
    if (*verified) return std::move(**verified);  // already imported: nothing to do
    if (auto st = stage(); !st) return st.error();
    if (auto st = validate(); !st) return st.error();
    return commit();
  }

 private:
  // Signatures, the channel's keys and threshold, anti-rollback, expiry, the chain, and that a
  // delta's left-out entries are here. An ImportResult when the snapshot was already imported.
  Result<std::optional<ImportResult>> verify() {
    root = store_.root();
    auto locked = fs::LockFile::acquire(root / "import.lock");
    if (!locked) return locked.error();
    lock.emplace(std::move(*locked));

    auto opened = ArchiveReader::open(file);
    if (!opened) return opened.error();
    reader = std::move(*opened);
    auto& r = *reader;
    // Signatures are checked before the manifest is parsed: at least one must be valid and by a
    // key some channel trusts. The channel's own keys and threshold are checked once it is known.
    std::vector<std::pair<std::string, std::vector<pgp::SignatureCheck>>> checked;
    auto authenticate = [&](const Head& h) -> Status {
      ctx.digest = h.digest;
      if (h.signatures.empty()) return refuse("the snapshot is not signed");
      std::set<std::string> trusted_anywhere, revoked_here;
      store_.read([&](sqlite::Connection& c) {
        trusted_anywhere = TrustRepository::trusted_anywhere(c);
        revoked_here = TrustRepository::revoked(c);
      });
      bool any = false;
      std::vector<std::string> why;
      for (const auto& [name, sig] : h.signatures) {
        auto checks = keyring_.verify_detached(sig, h.manifest_bytes);
        if (!checks) return refuse(name + ": " + checks.error().message);
        for (const auto& c : *checks) {
          if (c.bad)
            return refuse(
                c.problem +
                ": the manifest was altered after it was signed, or the signature is corrupt");
          if (!c.good)
            why.push_back(c.problem);
          else if (revoked_here.count(c.fingerprint))
            why.push_back("key " + c.fingerprint + " is revoked on this appliance");
          else if (!trusted_anywhere.count(c.fingerprint))
            why.push_back("key " + c.fingerprint + " is not trusted for any channel");
          else
            any = true;
        }
        checked.emplace_back(name, std::move(*checks));
      }
      if (any) return {};
      std::string msg = "0 valid signature(s) by keys this appliance trusts";
      for (const auto& w : why) msg += "; " + w;
      if (trusted_anywhere.empty())
        msg +=
            "; no channel has trusted keys yet (airhealctl trust add KEYS.asc --channel CHANNEL)";
      return refuse(msg + "; the manifest was not read");
    };
    auto head_result = read_head(r, authenticate);
    if (!head_result) return head_result.error();
    head_.emplace(std::move(*head_result));
    const Head& head = *head_;
    const Manifest& m = head.manifest;
    ctx.digest = head.digest;
    ctx.channel = m.channel;
    ctx.sequence = m.sequence;

    // Already imported: a no-op.
    auto imported_at = store_.read([&](sqlite::Connection& c) {
      return SnapshotRepository::imported_at(c, head.digest.str());
    });
    if (imported_at) {
      ImportResult res;
      res.already_imported = true;
      res.digest = head.digest;
      res.channel = m.channel;
      res.sequence = m.sequence;
      res.message = "snapshot " + head.digest.str() + " (channel " + m.channel + ", sequence " +
                    std::to_string(m.sequence) + ") was already imported at " +
                    format_time(*imported_at) + "; nothing to do";
      return std::optional<ImportResult>(std::move(res));
    }

    // Trust: the channel's keys and threshold.
    threshold = 1;
    bool known_channel = false;
    store_.read([&](sqlite::Connection& c) {
      if (auto p = TrustRepository::progress(c, m.channel)) {
        known_channel = true;
        threshold = p->threshold;
        last_sequence = p->last_sequence;
        last_digest = p->last_digest;
      }
      channel_keys = TrustRepository::keys(c, m.channel);
      revoked = TrustRepository::revoked(c);
    });
    if (!known_channel || channel_keys.empty())
      return refuse(
          "channel '" + m.channel +
          "' has no trusted keys on this appliance (airhealctl trust add KEYS.asc --channel " +
          m.channel + ")");
    std::set<std::string> good;
    std::vector<std::string> problems;
    for (const auto& [name, checks] : checked) {
      for (const auto& c : checks) {
        if (!c.good) {
          problems.push_back(c.problem);
          continue;
        }
        if (revoked.count(c.fingerprint)) {
          problems.push_back("key " + c.fingerprint + " is revoked on this appliance");
          continue;
        }
        if (!channel_keys.count(c.fingerprint)) {
          problems.push_back("key " + c.fingerprint + " is not trusted for channel " + m.channel);
          continue;
        }
        good.insert(c.fingerprint);
      }
    }
    if (static_cast<int>(good.size()) < threshold) {
      std::string why = std::to_string(good.size()) +
                        " valid signature(s) by keys trusted for channel " + m.channel + ", " +
                        std::to_string(threshold) + " required";
      for (const auto& p : problems) why += "; " + p;
      return refuse(why);
    }
    ctx.signers.assign(good.begin(), good.end());

    // Freshness: anti-rollback, expiry, chain.
    now = store_.now_seconds();
    if (last_sequence && m.sequence == *last_sequence)
      return refuse("sequence " + std::to_string(m.sequence) + " of channel " + m.channel +
                    " was already accepted with different content (" + last_digest +
                    "); refusing a conflicting snapshot");
    if (last_sequence && m.sequence < *last_sequence)
      return refuse("replayed snapshot: channel " + m.channel + " is at sequence " +
                    std::to_string(*last_sequence) + ", this snapshot has sequence " +
                    std::to_string(m.sequence));
    if (now >= m.expires)
      return refuse("the snapshot expired at " + format_time(m.expires) + " (created " +
                    format_time(m.created) + "); ask the connected side for a fresh one");
    if (m.previous) {
      if (last_digest.empty())
        return refuse("broken chain: this is a delta on sequence " +
                      std::to_string(m.previous->sequence) + " (" + m.previous->digest.str() +
                      ") but channel " + m.channel +
                      " has no accepted snapshot yet; import a full snapshot first");
      if (m.previous->digest.str() != last_digest)
        return refuse("broken chain: this delta follows sequence " +
                      std::to_string(m.previous->sequence) + " (" + m.previous->digest.str() +
                      ") but channel " + m.channel + " is at sequence " +
                      std::to_string(last_sequence.value_or(0)) + " (" + last_digest + ")");
    }

    // A delta's left-out entries must already be here.
    needed = 0;
    for (const auto& e : m.entries) {
      if (!e.in_previous) {
        needed += e.size;
        continue;
      }
      if (e.kind == EntryKind::layout || e.kind == EntryKind::package_index) continue;
      if (!store_.has_blob(e.sha256))
        return refuse("the delta leaves out '" + e.path + "' (" + e.sha256.str() +
                      ") but this appliance does not hold it");
    }
    return std::optional<ImportResult>();
  }

  // Every entry written to a staging folder on the store's file system and synced.
  Status stage() {
    const Manifest& m = head_->manifest;
    // Space: everything is staged on the store's file system, then moved.
    std::error_code ec;
    auto staging_root = root / "staging";
    for (const auto& old : fsys::directory_iterator(staging_root, ec))
      fsys::remove_all(old.path(), ec);
    fsys::create_directories(staging_root, ec);
    struct statvfs vfs {};
    if (::statvfs(staging_root.c_str(), &vfs) == 0) {
      auto avail = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
      if (avail < needed + options.reserve_bytes)
        return refuse("not enough free space: the snapshot needs " + fs::human_bytes(needed) +
                      " plus the " + fs::human_bytes(options.reserve_bytes) + " reserve, " +
                      fs::human_bytes(avail) + " is available on " + staging_root.string());
    }
    staging_.emplace(staging_root / ("import-" + random_hex(8)));
    Staging& staging = *staging_;
    fsys::create_directory(staging.dir(), ec);
    if (ec)
      return make_error(Errc::io_error, "cannot create a staging folder in " +
                                            staging_root.string() + ": " + ec.message());

    std::map<std::string, std::size_t> index_of;
    for (std::size_t i = 0; i < m.entries.size(); ++i) index_of[m.entries[i].path] = i;
    // A failed write into staging: a full disk is a refusal (nothing was kept), anything else an
    // I/O error.
    auto staging_error = [](const Entry& e, int err, const std::string& doing) -> Error {
      if (err == ENOSPC || err == EFBIG || err == EDQUOT)
        return refuse("disk full while staging '" + e.path + "' (" + std::strerror(err) + ")");
      return make_error(Errc::io_error, doing + " '" + e.path + "': " + std::strerror(err));
    };
    fs::UniqueFd out;
    BodySink sink;
    sink.open = [&](const Entry& e) -> Status {
      auto p = staging.dir() / ("e" + std::to_string(index_of[e.path]));
      out = fs::UniqueFd(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (!out) return staging_error(e, errno, "cannot stage entry");
      staged[e.path] = p;
      return {};
    };
    sink.write = [&](const Entry& e, const char* data, std::size_t n) -> Status {
      while (n > 0) {
        auto w = ::write(out.get(), data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return staging_error(e, errno, "writing staged");
        data += w;
        n -= static_cast<std::size_t>(w);
      }
      return {};
    };
    // Large entries of an uncompressed snapshot: copied file to file in the kernel
    // (copy_file_range; sendfile where the two file systems differ, as removable media and the
    // store do), then hashed back from the staged copy by stream_body.
    enum { kernel_copy, send_file, read_write } copy_method = kernel_copy;
    sink.copy = [&](const Entry& e, int src, std::uint64_t offset,
                    std::uint64_t size) -> Result<BodySink::Copied> {
      BodySink::Copied c;
      c.file = staged[e.path];
      auto off = static_cast<off_t>(offset);
      auto how = copy_method;
      std::vector<char> buf;
      while (c.bytes < size) {
        auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size - c.bytes, 1ull << 30));
        ssize_t n;
        if (how == kernel_copy) {
          n = ::copy_file_range(src, &off, out.get(), nullptr, want, 0);
          if (n < 0 &&
              (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
            how = copy_method = send_file;  // and for the next entries
            continue;
          }
        } else if (how == send_file) {
          n = ::sendfile(out.get(), src, &off, want);
          if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
            how = copy_method = read_write;
            continue;
          }
        } else {
          buf.resize(1 << 20);
          n = ::pread(src, buf.data(), std::min(want, buf.size()), off);
          if (n > 0) {
            if (auto st = sink.write(e, buf.data(), static_cast<std::size_t>(n)); !st)
              return st.error();
            off += n;
          }
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return staging_error(e, errno, "copying from the snapshot");
        if (n == 0) break;  // the snapshot file ends early: stream_body reports the truncation
        c.bytes += static_cast<std::uint64_t>(n);
      }
      return c;
    };
    sink.close = [&](const Entry&) -> Status {
      // Start writeback now so that it overlaps with reading the rest; one syncfs below makes
      // everything durable, as `cp && sync` would, instead of one fsync per entry.
      ::sync_file_range(out.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
      out.reset();
      return {};
    };
    sink.progress = options.progress;
    if (auto st = stream_body(*reader, *head_, sink); !st) return refuse(st.error().message);
    if (auto st = sync_fs("staging"); !st) return st.error();
    return {};
  }

  // What the staged entries say, checked before anything is visible.
  Status validate() {
    const Head& head = *head_;
    const Manifest& m = head.manifest;
    (void)head;
    // Content validation, before anything is visible.
    auto bytes_of = [&](const Entry& e, std::uint64_t max) -> Result<std::string> {
      auto it = staged.find(e.path);
      auto p = it != staged.end() ? it->second : store_.blob_path(e.sha256);
      auto b = fs::read_file(p, max);
      if (!b) return make_error(b.error().code, entry_named(b.error().message));
      if (it == staged.end() && Sha256::of(*b) != e.sha256)
        return refuse("held copy of '" + e.path + "' is damaged");
      return b;
    };
    for (const auto& e : m.entries) {
      if (e.kind != EntryKind::advisory) continue;
      auto b = bytes_of(e, 2ull << 30);
      if (!b) return b.error();
      auto parsed = advisory::parse(*advisory::format_from_string(e.format), *b, e.path);
      if (!parsed) return refuse("malformed advisory: " + parsed.error().message);
      for (auto& a : *parsed) advisories.push_back(std::move(a));
    }
    for (const auto& e : m.entries)
      if (e.kind == EntryKind::blob) blob_entries[e.sha256.hex()] = &e;
    image_bytes = 0;
    for (const auto& im : m.images) {
      ImageGraph g;
      g.image = &im;
      std::set<std::string> seen;
      std::function<Status(const Digest&, const std::string&, std::int64_t)> visit =
          [&](const Digest& d, const std::string& type, std::int64_t declared) -> Status {
        if (!seen.insert(d.hex()).second) return {};
        auto be = blob_entries.find(d.hex());
        if (be == blob_entries.end())
          return refuse("image " + im.repository + ":" + im.tag + " needs manifest " + d.str() +
                        ", which the snapshot does not carry");
        if (declared >= 0 && static_cast<std::uint64_t>(declared) != be->second->size)
          return refuse("image " + im.repository + ":" + im.tag + ": manifest " + d.str() +
                        " size differs from its descriptor");
        auto b = bytes_of(*be->second, 4 << 20);
        if (!b) return b.error();
        auto parsed = oci::parse_manifest(*b, type);
        if (!parsed)
          return refuse("image " + im.repository + ":" + im.tag + ": manifest " + d.str() + ": " +
                        parsed.error().message);
        for (const auto& desc : parsed->manifests)
          if (auto st = visit(desc.digest, desc.media_type, desc.size); !st) return st;
        std::vector<oci::Descriptor> blobs;
        if (parsed->config) blobs.push_back(*parsed->config);
        for (const auto& l : parsed->layers) blobs.push_back(l);
        auto required = parsed->required_blobs();
        for (const auto& desc : blobs) {
          if (std::find(required.begin(), required.end(), desc.digest) == required.end()) continue;
          auto bb = blob_entries.find(desc.digest.hex());
          if (bb == blob_entries.end())
            return refuse("image " + im.repository + ":" + im.tag + " needs blob " +
                          desc.digest.str() + ", which the snapshot does not carry");
          if (static_cast<std::uint64_t>(desc.size) != bb->second->size)
            return refuse("image " + im.repository + ":" + im.tag + ": blob " + desc.digest.str() +
                          " is " + std::to_string(bb->second->size) +
                          " bytes, its descriptor says " + std::to_string(desc.size));
          g.blobs.emplace_back(desc.digest, bb->second->size);
          image_bytes += bb->second->size;
        }
        g.manifests.emplace_back(d, std::move(*parsed), be->second->size);
        return {};
      };
      if (auto st = visit(im.digest, im.media_type, -1); !st) return st.error();
      graphs.push_back(std::move(g));
    }
    for (const auto& p : m.packages)
      if (blob_entries[p.digest.hex()]->size != p.size)
        return refuse("package " + p.name + " size differs from its entry");
    for (const auto& a : m.artifacts)
      if (blob_entries[a.digest.hex()]->size != a.size)
        return refuse("artefact " + a.name + " size differs from its entry");

    // Key rotation, signed by the current threshold (checked above). Delivered keys are read in a
    // scratch GnuPG home first: the appliance's keyring only changes when the import commits.
    new_keys = channel_keys;
    new_threshold = threshold;
    if (m.trust) {
      std::map<std::string, pgp::KeyInfo> delivered;
      if (!m.trust->keys_path.empty()) {
        auto b = bytes_of(*m.find(m.trust->keys_path), 16 << 20);
        if (!b) return b.error();
        auto probe = pgp::Keyring::open(staging_->dir() / "trust-keys");
        if (!probe) return probe.error();
        auto fprs = probe->import_keys(*b);
        if (!fprs) return refuse("trust keys in the snapshot: " + fprs.error().message);
        for (const auto& f : *fprs)
          if (auto info = probe->key(f)) delivered[info->fingerprint] = *info;
        keys_to_import = std::move(*b);
      }
      auto info_of = [&](const std::string& f) -> std::optional<pgp::KeyInfo> {
        if (auto it = delivered.find(f); it != delivered.end()) return it->second;
        if (auto k = keyring_.key(f)) return *k;
        return std::nullopt;
      };
      for (const auto& f : m.trust->add) {
        auto info = info_of(f);
        if (!info)
          return refuse("trust.add names key " + f + ", which the snapshot does not deliver");
        if (info->fingerprint != f)
          return refuse("trust.add names " + f + ", a subkey of key " + info->fingerprint +
                        "; name the primary key's fingerprint");
        if (revoked.count(f) || info->revoked)
          return refuse("trust.add names key " + f + ", which is revoked");
        if (info->expired) return refuse("trust.add names key " + f + ", which has expired");
        if (!info->can_sign) return refuse("trust.add names key " + f + ", which cannot sign");
        new_keys.insert(f);
      }
      for (const auto& f : m.trust->remove) new_keys.erase(f);
      if (m.trust->threshold) new_threshold = *m.trust->threshold;
      std::size_t usable = 0;
      for (const auto& f : new_keys) {
        auto info = info_of(f);
        if (info && !info->revoked && !info->expired && !revoked.count(f)) ++usable;
      }
      if (static_cast<int>(usable) < new_threshold)
        return refuse("the key rotation would leave channel " + m.channel + " with " +
                      std::to_string(usable) +
                      " usable key(s) (not expired or revoked) for a threshold of " +
                      std::to_string(new_threshold));
    }
    return {};
  }

  // Keys, blobs and one transaction; then the events.
  Result<ImportResult> commit() {
    const Head& head = *head_;
    const Manifest& m = head.manifest;
    if (keys_to_import)
      if (auto f = keyring_.import_keys(*keys_to_import); !f)
        return make_error(Errc::io_error, "cannot add the delivered trust keys to the keyring: " +
                                              f.error().message);

    // Commit: move blobs in (invisible until the transaction), then one transaction.
    for (const auto& e : m.entries) {
      auto it = staged.find(e.path);
      if (it == staged.end() || e.kind == EntryKind::layout || e.kind == EntryKind::package_index)
        continue;
      if (auto st = store_.adopt_blob_file(it->second, e.sha256, false); !st)
        return make_error(st.error().code,
                          "cannot move entry '" + human_name(e.path) +
                              "' into the store: " + entry_named(st.error().message));
    }
    if (auto st = sync_fs("moving blobs into the store"); !st) return st.error();
    advisory::Counts acounts;
    std::vector<store::Event> events;
    auto counts = json::object();
    store_.transaction([&](sqlite::Connection& c) {
      for (const auto& g : graphs) {
        for (const auto& [d, size] : g.blobs) store_.link_blob(c, g.image->repository, d, size);
        for (std::size_t i = 0; i < g.manifests.size(); ++i) {
          const auto& [d, parsed, size] = g.manifests[i];
          bool top = i + 1 == g.manifests.size();
          auto prev = store_.link_manifest(
              c, g.image->repository, d, parsed, size,
              top ? std::optional<std::string>(g.image->tag) : std::nullopt, "import");
          if (top) {
            events.push_back(store::Event{store::Event::Kind::manifest_stored,
                                          g.image->repository,
                                          d.str(),
                                          g.image->tag,
                                          {},
                                          parsed.media_type});
            if (prev != d.str())
              events.push_back(store::Event{store::Event::Kind::tag_moved, g.image->repository,
                                            d.str(), g.image->tag, prev, parsed.media_type});
          }
        }
      }
      store::ContentRepository::clear_channel(c, m.channel);
      auto add_content = [&](const Entry& e, const char* kind, const std::string& name,
                             const std::string& version, const json& meta) {
        store_.record_content_blob(c, e.sha256, e.size);
        store::ContentRepository::add(
            c, store::ContentRow{e.sha256.str(), kind, name, version, meta.dump(), m.channel,
                                 head.digest.str()});
      };
      for (const auto& e : m.entries) {
        if (e.kind == EntryKind::advisory)
          add_content(e, "advisory", e.path, "", json{{"format", e.format}});
        if (e.kind == EntryKind::trust_keys) add_content(e, "trust", e.path, "", json::object());
      }
      for (const auto& p : m.packages)
        add_content(*blob_entries[p.digest.hex()], "package", p.name, p.version,
                    json{{"architecture", p.architecture},
                         {"format", p.format},
                         {"source", p.source},
                         {"source_version", p.source_version},
                         {"filename", p.filename}});
      for (const auto& a : m.artifacts)
        add_content(*blob_entries[a.digest.hex()], "artifact", a.name, a.version, a.metadata);
      acounts = advisory::replace_channel(c, m.channel, advisories);
      std::uint64_t staged_bytes = 0;
      for (const auto& e : m.entries)
        if (!e.in_previous) staged_bytes += e.size;
      counts = json{{"entries", m.entries.size()},      {"bytes", staged_bytes},
                    {"images", m.images.size()},        {"image_bytes", image_bytes},
                    {"advisories", acounts.advisories}, {"affected", acounts.affected},
                    {"withdrawn", acounts.withdrawn},   {"packages", m.packages.size()},
                    {"artifacts", m.artifacts.size()}};
      SnapshotRow row;
      row.digest = head.digest.str();
      row.channel = m.channel;
      row.sequence = m.sequence;
      row.created_at = m.created;
      row.expires_at = m.expires;
      if (m.previous) row.previous = m.previous->digest.str();
      row.imported_at = now;
      row.signers = ctx.signers;
      row.counts = counts;
      row.manifest = head.manifest_bytes;
      SnapshotRepository::insert(c, row);
      TrustRepository::record_import(c, m.channel, m.sequence, head.digest.str(), m.expires,
                                     new_threshold, now);
      if (m.trust)
        TrustRepository::rotate_keys(c, m.channel, channel_keys, new_keys, head.digest.str(), now);
    });
    for (const auto& ev : events) store_.events().publish(ev);

    ImportResult res;
    res.digest = head.digest;
    res.channel = m.channel;
    res.sequence = m.sequence;
    res.signers = ctx.signers;
    res.counts = counts;
    res.message =
        "imported snapshot " + head.digest.str() + ": channel " + m.channel + " sequence " +
        std::to_string(m.sequence) + ", " + std::to_string(m.images.size()) + " image(s), " +
        std::to_string(acounts.advisories) + " advisories, " + std::to_string(m.packages.size()) +
        " package(s), " + std::to_string(m.artifacts.size()) + " artefact(s)";
    return res;
  }

  // Messages name the snapshot's entries, never the staging files that hold them.
  std::string entry_named(std::string message) const {
    for (const auto& [name, file] : staged)
      for (auto pos = message.find(file.string()); pos != std::string::npos;
           pos = message.find(file.string(), pos))
        message.replace(pos, file.string().size(), "entry '" + human_name(name) + "'");
    if (!staging_) return message;
    auto dir = staging_->dir().string();
    for (auto pos = message.find(dir); pos != std::string::npos; pos = message.find(dir, pos))
      message.replace(pos, dir.size(), "the staging folder");
    return message;
  }

  Status sync_fs(const char* what) const {
    fs::UniqueFd dirfd(::open(staging_->dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd || ::syncfs(dirfd.get()) != 0) {
      int err = errno;
      if (err == ENOSPC || err == EDQUOT) return refuse(std::string("disk full while ") + what);
      return make_error(Errc::io_error, std::string("cannot sync the store's file system while ") +
                                            what + ": " + std::strerror(err));
    }
    return {};
  }

  store::Store& store_;
  pgp::Keyring& keyring_;
  const fsys::path& file;
  const ImportOptions& options;
  Context& ctx;

  // verify
  fsys::path root;
  std::optional<fs::LockFile> lock;
  std::unique_ptr<ArchiveReader> reader;
  std::optional<Head> head_;
  int threshold = 1;
  std::optional<std::int64_t> last_sequence;
  std::string last_digest;
  std::set<std::string> channel_keys, revoked;
  std::int64_t now = 0;
  std::uint64_t needed = 0;
  // stage
  std::optional<Staging> staging_;
  std::map<std::string, fsys::path> staged;
  // validate
  std::vector<advisory::Advisory> advisories;
  std::map<std::string, const Entry*> blob_entries;
  std::vector<ImageGraph> graphs;
  std::uint64_t image_bytes = 0;
  std::set<std::string> new_keys;
  int new_threshold = 1;
  std::optional<std::string> keys_to_import;
};

// Writes the import's journal record on every exit: finish() with the result, or, when the import
// ends any other way (an exception past the handler below), the destructor as a refusal.
class ImportRecord {
 public:
  ImportRecord(audit::Journal& journal, const fsys::path& file, const ImportOptions& options,
               const Context& ctx)
      : journal_(journal), file_(file), options_(options), ctx_(ctx) {}
  ImportRecord(const ImportRecord&) = delete;
  ~ImportRecord() {
    if (!finished_) (void)append(make_error(Errc::io_error, "the import was interrupted"));
  }
  Result<ImportResult> finish(Result<ImportResult> result) {
    finished_ = true;
    if (auto st = append(result); !st && result)
      return make_error(
          Errc::io_error,
          "the snapshot was imported but the journal could not record it: " + st.error().message);
    return result;
  }

 private:
  Status append(const Result<ImportResult>& result) {
    json rec{{"origin", options_.origin}, {"file", file_.string()}};
    if (ctx_.digest) rec["digest"] = ctx_.digest->str();
    if (!ctx_.channel.empty()) rec["channel"] = ctx_.channel;
    if (ctx_.sequence) rec["sequence"] = ctx_.sequence;
    if (!ctx_.signers.empty()) rec["signers"] = ctx_.signers;
    if (!result) {
      rec["type"] = "snapshot.refused";
      rec["reason"] = result.error().message;
    } else if (result->already_imported) {
      rec["type"] = "snapshot.duplicate";
    } else {
      rec["type"] = "snapshot.accepted";
      rec["counts"] = result->counts;
    }
    return journal_.append(rec);
  }
  audit::Journal& journal_;
  const fsys::path& file_;
  const ImportOptions& options_;
  const Context& ctx_;
  bool finished_ = false;
};

}  // namespace

Result<ImportResult> Importer::import(const fsys::path& file, const ImportOptions& options) {
  Context ctx;
  ImportRecord record(journal_, file, options, ctx);
  Result<ImportResult> result = make_error(Errc::io_error, "not run");
  try {
    result = ImportRun(store_, keyring_, file, options, ctx).run();
  } catch (const std::exception& e) {
    result = make_error(Errc::io_error, std::string("import failed: ") + e.what());
  }
  return record.finish(std::move(result));
}

}  // namespace airheal::snapshot
