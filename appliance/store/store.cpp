#include "store/store.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>
#include <thread>

#include "store/schema.hpp"

namespace airheal::store {

namespace fsys = std::filesystem;
using sqlite::Connection;
using sqlite::Transaction;

std::int64_t SystemClock::now_seconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
Error io_error(const std::string& what, int err) {
  return make_error(Errc::io_error, what + ": " + std::strerror(err));
}

// A flock held for one scope: shared by blob writers, exclusive by the garbage collector.
class ScopedFlock {
 public:
  ScopedFlock(const fsys::path& path, int op)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (!fd_)
      throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
    while (::flock(fd_.get(), op) != 0) {
      if (errno != EINTR)
        throw std::runtime_error("cannot lock " + path.string() + ": " + std::strerror(errno));
    }
  }

 private:
  fs::UniqueFd fd_;
};

bool is_digest_reference(const std::string& ref) { return ref.find(':') != std::string::npos; }
}  // namespace

// A small pool of SQLite connections: one per concurrently active thread.
class Store::Pool {
 public:
  explicit Pool(fsys::path db) : db_(std::move(db)) {}

  class Lease {
   public:
    Lease(Pool& p, std::unique_ptr<Connection> c) : p_(p), c_(std::move(c)) {}
    Lease(const Lease&) = delete;
    ~Lease() {
      std::lock_guard lk(p_.mu_);
      p_.free_.push_back(std::move(c_));
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Pool& p_;
    std::unique_ptr<Connection> c_;
  };

  Lease lease() {
    {
      std::lock_guard lk(mu_);
      if (!free_.empty()) {
        auto c = std::move(free_.back());
        free_.pop_back();
        return Lease(*this, std::move(c));
      }
    }
    return Lease(*this, std::make_unique<Connection>(db_));
  }

 private:
  fsys::path db_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> free_;
};

Store::Store(fsys::path root, std::shared_ptr<const Clock> clock)
    : root_(std::move(root)),
      clock_(std::move(clock)),
      pool_(std::make_unique<Pool>(root_ / "metadata.db")) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const fsys::path& root_in,
                                           std::shared_ptr<const Clock> clock) {
  std::error_code ec;
  fsys::path root = fsys::absolute(root_in, ec);
  if (ec)
    return make_error(Errc::io_error, "state directory " + root_in.string() + ": " + ec.message());
  if (fsys::exists(root, ec) && !fsys::is_directory(root, ec))
    return make_error(Errc::io_error,
                      "state directory " + root.string() + " exists but is not a directory");
  for (auto sub : {"", "blobs/sha256", "blobs/sha512", "uploads", "tmp"}) {
    fsys::create_directories(root / sub, ec);
    if (ec)
      return make_error(Errc::io_error,
                        "cannot create " + (root / sub).string() + ": " + ec.message());
  }
  // Prove the directory is writable and supports the rename we rely on.
  auto probe = root / "tmp" / (".probe-" + random_hex(6));
  if (auto st = fs::write_file_atomic(probe, "probe"); !st)
    return make_error(Errc::io_error, "state directory " + root.string() +
                                          " is not writable: " + st.error().message);
  fsys::remove(probe, ec);

  if (!clock) clock = std::make_shared<SystemClock>();
  std::unique_ptr<Store> s(new Store(root, std::move(clock)));
  try {
    auto c = s->pool_->lease();
    c->migrate(migrations());
  } catch (const std::exception& e) {
    return make_error(Errc::io_error, std::string("metadata database: ") + e.what());
  }
  return s;
}

fsys::path Store::blob_path(const Digest& d) const {
  return root_ / "blobs" / std::string(d.algorithm_name()) / d.hex().substr(0, 2) / d.hex();
}

fsys::path Store::upload_path(const std::string& uuid) const { return root_ / "uploads" / uuid; }

std::optional<std::int64_t> Store::repo_id(Connection& c, const std::string& repo) {
  auto st = c.prepare("SELECT id FROM repositories WHERE name = ?");
  st.bind(1, repo);
  if (!st.step()) return std::nullopt;
  return st.get_int(0);
}

std::int64_t Store::ensure_repo(Connection& c, const std::string& repo) {
  if (auto id = repo_id(c, repo)) return *id;
  auto ins = c.prepare("INSERT INTO repositories(name, created_at) VALUES (?, ?)");
  ins.bind(1, repo).bind(2, now()).run();
  return c.last_insert_rowid();
}

std::optional<std::uint64_t> Store::blob_size(const std::string& repo, const Digest& digest) {
  auto c = pool_->lease();
  auto st = c->prepare(
      "SELECT b.size FROM repo_blobs rb JOIN repositories r ON r.id = rb.repo_id "
      "JOIN blobs b ON b.digest = rb.digest WHERE r.name = ? AND rb.digest = ?");
  st.bind(1, repo).bind(2, digest.str());
  if (!st.step()) return std::nullopt;
  return static_cast<std::uint64_t>(st.get_int(0));
}

Status Store::delete_blob(const std::string& repo, const Digest& digest) {
  auto c = pool_->lease();
  Transaction tx(*c);
  auto id = repo_id(*c, repo);
  if (!id) return make_error(Errc::name_unknown, "repository '" + repo + "' is not known");
  auto st = c->prepare("DELETE FROM repo_blobs WHERE repo_id = ? AND digest = ?");
  st.bind(1, *id).bind(2, digest.str()).run();
  if (c->changes() == 0)
    return make_error(Errc::blob_unknown, "blob " + digest.str() + " is not in " + repo);
  tx.commit();
  return {};
}

bool Store::mount_blob(const std::string& repo, const std::string& from, const Digest& digest) {
  auto c = pool_->lease();
  Transaction tx(*c);
  bool found;
  if (from.empty()) {
    auto st = c->prepare("SELECT 1 FROM repo_blobs WHERE digest = ? LIMIT 1");
    st.bind(1, digest.str());
    found = st.step();
  } else {
    auto st = c->prepare(
        "SELECT 1 FROM repo_blobs rb JOIN repositories r ON r.id = rb.repo_id WHERE r.name = ? AND "
        "rb.digest = ?");
    st.bind(1, from).bind(2, digest.str());
    found = st.step();
  }
  if (!found) return false;
  auto id = ensure_repo(*c, repo);
  auto ins =
      c->prepare("INSERT OR IGNORE INTO repo_blobs(repo_id, digest, created_at) VALUES (?, ?, ?)");
  ins.bind(1, id).bind(2, digest.str()).bind(3, now()).run();
  tx.commit();
  return true;
}

void Store::record_blob(Connection& c, const std::string& repo, const Digest& digest,
                        std::uint64_t size) {
  auto id = ensure_repo(c, repo);
  c.prepare("INSERT OR IGNORE INTO blobs(digest, size, created_at) VALUES (?, ?, ?)")
      .bind(1, digest.str())
      .bind(2, static_cast<std::int64_t>(size))
      .bind(3, now())
      .run();
  c.prepare("INSERT OR IGNORE INTO repo_blobs(repo_id, digest, created_at) VALUES (?, ?, ?)")
      .bind(1, id)
      .bind(2, digest.str())
      .bind(3, now())
      .run();
}

Status Store::install_blob_file(const fsys::path& tmp, const Digest& digest, bool sync_directory) {
  auto target = blob_path(digest);
  std::error_code ec;
  fsys::create_directories(target.parent_path(), ec);
  if (ec)
    return make_error(Errc::io_error,
                      "cannot create " + target.parent_path().string() + ": " + ec.message());
  if (::rename(tmp.c_str(), target.c_str()) != 0)
    return io_error("cannot move blob into " + target.string(), errno);
  return sync_directory ? fs::fsync_path(target.parent_path()) : Status{};
}

Result<BlobInfo> Store::put_blob(const std::string& repo, std::string_view bytes,
                                 DigestAlgorithm algorithm) {
  auto digest = ContentHash::of(algorithm, bytes);
  ScopedFlock lock(root_ / "blobs.lock", LOCK_SH);
  auto tmp = root_ / "tmp" / ("blob-" + random_hex(8));
  {
    fs::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) return io_error("cannot create " + tmp.string(), errno);
    if (auto st = fs::write_all(fd.get(), bytes.data(), bytes.size(), tmp.string()); !st) {
      ::unlink(tmp.c_str());
      return st.error();
    }
    if (::fsync(fd.get()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return io_error("cannot fsync " + tmp.string(), e);
    }
  }
  if (auto st = install_blob_file(tmp, digest); !st) {
    ::unlink(tmp.c_str());
    return st.error();
  }
  auto c = pool_->lease();
  Transaction tx(*c);
  record_blob(*c, repo, digest, bytes.size());
  tx.commit();
  return BlobInfo{digest, bytes.size()};
}

// ---- uploads ----

Result<UploadInfo> Store::start_upload(const std::string& repo, DigestAlgorithm algorithm) {
  auto uuid = random_hex(16);
  {
    fs::UniqueFd fd(
        ::open(upload_path(uuid).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) return io_error("cannot create upload file", errno);
  }
  auto c = pool_->lease();
  // An upload session is not yet anything a client relies on: its row is committed without a
  // sync (the next synced commit, at the latest the upload's completion, carries it). A power cut
  // before then loses the session; the client starts it again. Durability is paid once, when
  // the blob is acknowledged.
  c->exec("PRAGMA synchronous=NORMAL");
  struct RestoreSync {
    Connection& c;
    ~RestoreSync() {
      try {
        c.exec("PRAGMA synchronous=FULL");
      } catch (...) {
      }
    }
  } restore{*c};
  Transaction tx(*c);
  auto id = ensure_repo(*c, repo);
  c->prepare(
       "INSERT INTO uploads(uuid, repo_id, offset, started_at, updated_at) VALUES (?, ?, 0, ?, ?)")
      .bind(1, uuid)
      .bind(2, id)
      .bind(3, now())
      .bind(4, now())
      .run();
  tx.commit();
  {
    std::lock_guard lk(uploads_mu_);
    uploads_.emplace(uuid, UploadState{ContentHash(algorithm), 0, false, true, now()});
  }
  return UploadInfo{uuid, repo, 0};
}

Result<std::int64_t> Store::upload_repo_check(Connection& c, const std::string& repo,
                                              const std::string& uuid, std::uint64_t* offset) {
  auto st = c.prepare(
      "SELECT u.offset, u.repo_id FROM uploads u JOIN repositories r ON r.id = u.repo_id "
      "WHERE u.uuid = ? AND r.name = ?");
  st.bind(1, uuid).bind(2, repo);
  if (!st.step())
    return make_error(Errc::blob_upload_unknown, "upload " + uuid + " is not known in " + repo);
  if (offset) *offset = static_cast<std::uint64_t>(st.get_int(0));
  return st.get_int(1);
}

// Chunks are not recorded one by one: the offset is what this process acknowledged, or after a
// restart the upload file's length (every byte in it was written by an acknowledged chunk or by
// one whose client got no answer; the digest check at completion catches any difference).
std::uint64_t Store::upload_offset(const std::string& uuid) {
  {
    std::lock_guard lk(uploads_mu_);
    if (auto it = uploads_.find(uuid); it != uploads_.end() && it->second.known)
      return it->second.offset;
  }
  struct stat sb {};
  return ::stat(upload_path(uuid).c_str(), &sb) == 0 ? static_cast<std::uint64_t>(sb.st_size) : 0;
}

Result<UploadInfo> Store::upload_status(const std::string& repo, const std::string& uuid) {
  {
    auto c = pool_->lease();
    auto r = upload_repo_check(*c, repo, uuid, nullptr);
    if (!r) return r.error();
  }
  return UploadInfo{uuid, repo, upload_offset(uuid)};
}

void Store::release_upload(const std::string& uuid) {
  std::lock_guard lk(uploads_mu_);
  if (auto it = uploads_.find(uuid); it != uploads_.end()) it->second.busy = false;
}

Result<std::unique_ptr<UploadWriter>> Store::open_upload(
    const std::string& repo, const std::string& uuid, std::optional<std::uint64_t> expected_start) {
  {
    auto c = pool_->lease();
    auto r = upload_repo_check(*c, repo, uuid, nullptr);
    if (!r) return r.error();
  }
  std::uint64_t offset = upload_offset(uuid);
  if (expected_start && *expected_start != offset)
    return make_error(Errc::range_invalid, "chunk starts at " + std::to_string(*expected_start) +
                                               " but the upload has " + std::to_string(offset) +
                                               " bytes");
  ContentHash hash(DigestAlgorithm::sha256);
  {
    std::unique_lock lk(uploads_mu_);
    auto it = uploads_.find(uuid);
    if (it != uploads_.end() && it->second.busy)
      return make_error(Errc::blob_upload_invalid,
                        "upload " + uuid + " is being written by another request");
    if (it == uploads_.end() || !it->second.known || it->second.offset != offset) {
      // State lost (daemon restarted): rebuild the running hash from what was committed (sha256;
      // finish_upload re-reads the file for a digest of another algorithm).
      lk.unlock();
      fs::UniqueFd rfd(::open(upload_path(uuid).c_str(), O_RDONLY | O_CLOEXEC));
      if (!rfd) return io_error("cannot open upload " + uuid, errno);
      Sha256 h;
      std::vector<char> buf(1 << 20);
      std::uint64_t left = offset;
      while (left > 0) {
        ssize_t n = ::read(rfd.get(), buf.data(), std::min<std::uint64_t>(left, buf.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
          return make_error(Errc::blob_upload_invalid,
                            "upload " + uuid + " is shorter than recorded");
        h.update(buf.data(), static_cast<std::size_t>(n));
        left -= static_cast<std::uint64_t>(n);
      }
      lk.lock();
      it = uploads_.insert_or_assign(uuid, UploadState{std::move(h), offset, false, true, now()})
               .first;
    }
    it->second.busy = true;
    it->second.touched = now();
    hash = it->second.hash;
  }
  fs::UniqueFd fd(::open(upload_path(uuid).c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(offset)) != 0 ||
      ::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    int e = errno;
    release_upload(uuid);
    return io_error("cannot open upload " + uuid, e);
  }
  return std::unique_ptr<UploadWriter>(
      new UploadWriter(*this, uuid, std::move(fd), offset, std::move(hash)));
}

Status UploadWriter::write(const char* data, std::size_t size) {
  if (auto st = fs::write_all(fd_.get(), data, size, "upload " + uuid_); !st) return st;
  hash_.update(data, size);
  written_ += size;
  return {};
}

Result<std::uint64_t> UploadWriter::commit() {
  std::uint64_t offset = start_ + written_;
  {
    // Nothing is written to the database per chunk (the file is the record of what arrived; gc
    // judges an upload's age by its file): only a check that it was not cancelled meanwhile.
    auto c = store_.pool_->lease();
    auto st = c->prepare("SELECT 1 FROM uploads WHERE uuid = ?");
    st.bind(1, uuid_);
    if (!st.step())
      return make_error(Errc::blob_upload_unknown, "upload " + uuid_ + " was cancelled");
  }
  {
    std::lock_guard lk(store_.uploads_mu_);
    auto& s = store_.uploads_[uuid_];
    s.hash = hash_;
    s.offset = offset;
    s.busy = false;
    s.known = true;
    s.touched = store_.now();
  }
  committed_ = true;
  return offset;
}

UploadWriter::~UploadWriter() {
  if (!committed_) {
    // Drop what this request wrote; the upload stays as it was before it.
    if (fd_ && ::ftruncate(fd_.get(), static_cast<off_t>(start_)) != 0)
      spdlog::warn("cannot truncate upload {} back to {}: {}", uuid_, start_, std::strerror(errno));
    store_.release_upload(uuid_);
  }
}

Result<BlobInfo> Store::finish_upload(const std::string& repo, const std::string& uuid,
                                      const Digest& expected) {
  // Take the running hash (open_upload checks the upload and rebuilds the hash if the daemon
  // restarted).
  auto w = open_upload(repo, uuid, std::nullopt);
  if (!w) return w.error();
  const std::uint64_t offset = (*w)->start();
  ContentHash hash = (*w)->hash_;
  Digest actual = hash.algorithm() == expected.algorithm() ? hash.finish() : Digest{};
  if (hash.algorithm() != expected.algorithm()) {
    // The client announced no algorithm (or another one) at POST: hash what was written.
    if (::fsync((*w)->fd_.get()) != 0) return io_error("cannot fsync upload " + uuid, errno);
    std::uint64_t size = 0;
    auto d = ContentHash::of_file(expected.algorithm(), upload_path(uuid), &size);
    if (!d) return d.error();
    if (size != offset)
      return make_error(Errc::blob_upload_invalid,
                        "upload " + uuid + " changed while it was checked");
    actual = *d;
  }
  if (actual != expected) {
    (void)cancel_upload(repo, uuid);  // the writer's destructor runs first at scope end; harmless
    return make_error(Errc::digest_invalid,
                      "uploaded content has digest " + actual.str() + ", not " + expected.str());
  }
  if (::fsync((*w)->fd_.get()) != 0) return io_error("cannot fsync upload " + uuid, errno);
  (*w)->committed_ = true;  // the file moves away; nothing to roll back
  w->reset();

  ScopedFlock lock(root_ / "blobs.lock", LOCK_SH);
  if (auto st = install_blob_file(upload_path(uuid), expected); !st) {
    release_upload(uuid);
    return st.error();
  }
  {
    auto c = pool_->lease();
    Transaction tx(*c);
    record_blob(*c, repo, expected, offset);
    c->prepare("DELETE FROM uploads WHERE uuid = ?").bind(1, uuid).run();
    tx.commit();
  }
  {
    std::lock_guard lk(uploads_mu_);
    uploads_.erase(uuid);
  }
  events_.publish(Event{Event::Kind::blob_stored, repo, expected.str(), {}, {}, {}});
  return BlobInfo{expected, offset};
}

Status Store::cancel_upload(const std::string& repo, const std::string& uuid) {
  {
    auto c = pool_->lease();
    Transaction tx(*c);
    auto r = upload_repo_check(*c, repo, uuid, nullptr);
    if (!r) return r.error();
    c->prepare("DELETE FROM uploads WHERE uuid = ?").bind(1, uuid).run();
    tx.commit();
  }
  ::unlink(upload_path(uuid).c_str());
  std::lock_guard lk(uploads_mu_);
  uploads_.erase(uuid);
  return {};
}

// ---- manifests ----

Result<PutManifestResult> Store::put_manifest(const std::string& repo, const std::string& reference,
                                              std::string_view bytes, std::string_view content_type,
                                              std::string_view origin,
                                              const std::vector<std::string>& extra_tags) {
  auto parsed = oci::parse_manifest(bytes, content_type);
  if (!parsed) return parsed.error();
  const auto& m = *parsed;
  // A manifest pushed by tag is named by its sha256 digest (the canonical algorithm); one pushed
  // by digest by the algorithm the client chose.
  auto algorithm = DigestAlgorithm::sha256;
  std::vector<std::string> tags;
  if (is_digest_reference(reference)) {
    auto want = Digest::parse(reference);
    if (!want) return want.error();
    algorithm = want->algorithm();
    auto have = ContentHash::of(algorithm, bytes);
    if (*want != have)
      return make_error(Errc::digest_invalid,
                        "manifest content has digest " + have.str() + ", not " + reference);
    for (const auto& t : extra_tags)
      if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
  } else {
    tags.push_back(reference);
  }
  auto digest = ContentHash::of(algorithm, bytes);

  // Check references before the manifest's bytes are stored, so a refused manifest leaves
  // nothing behind; the transaction below checks again.
  auto missing_reference = [&](Connection& c, std::int64_t id) -> std::optional<Error> {
    for (const auto& b : m.required_blobs()) {
      auto st = c.prepare("SELECT 1 FROM repo_blobs WHERE repo_id = ? AND digest = ?");
      st.bind(1, id).bind(2, b.str());
      if (!st.step())
        return make_error(Errc::manifest_blob_unknown,
                          "manifest references blob " + b.str() + " which is not in " + repo);
    }
    for (const auto& child : m.child_manifests()) {
      auto st = c.prepare("SELECT 1 FROM repo_manifests WHERE repo_id = ? AND digest = ?");
      st.bind(1, id).bind(2, child.str());
      if (!st.step())
        return make_error(Errc::manifest_blob_unknown,
                          "index references manifest " + child.str() + " which is not in " + repo);
    }
    return std::nullopt;
  };
  {
    auto c = pool_->lease();
    auto id = repo_id(*c, repo);
    if (auto e = missing_reference(*c, id.value_or(-1))) return *e;
  }
  auto stored = put_blob(repo, bytes, algorithm);
  if (!stored) return stored.error();

  std::vector<std::optional<std::string>> previous;
  {
    auto c = pool_->lease();
    Transaction tx(*c);
    auto id = ensure_repo(*c, repo);
    if (auto e = missing_reference(*c, id)) return *e;
    if (tags.empty()) link_manifest(*c, repo, digest, m, bytes.size(), std::nullopt, origin);
    for (const auto& t : tags)
      previous.push_back(link_manifest(*c, repo, digest, m, bytes.size(), t, origin));
    tx.commit();
  }
  events_.publish(Event{Event::Kind::manifest_stored,
                        repo,
                        digest.str(),
                        tags.empty() ? std::nullopt : std::optional<std::string>(tags.front()),
                        {},
                        m.media_type});
  for (std::size_t i = 0; i < tags.size(); ++i)
    if (previous[i] != digest.str())
      events_.publish(
          Event{Event::Kind::tag_moved, repo, digest.str(), tags[i], previous[i], m.media_type});
  PutManifestResult out{digest, std::nullopt, tags};
  if (m.subject) out.subject = m.subject->digest;
  return out;
}

std::shared_ptr<const std::string> Store::load_manifest_bytes(const Digest& digest,
                                                              std::uint64_t size) {
  {
    std::lock_guard lk(cache_mu_);
    if (auto it = lru_index_.find(digest.hex()); it != lru_index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  auto bytes = fs::read_file(blob_path(digest), size + 1);
  if (!bytes || bytes->size() != size) return nullptr;
  auto ptr = std::make_shared<const std::string>(std::move(*bytes));
  std::lock_guard lk(cache_mu_);
  if (lru_index_.count(digest.hex()) == 0) {
    lru_.emplace_front(digest.hex(), ptr);
    lru_index_[digest.hex()] = lru_.begin();
    cache_bytes_ += ptr->size();
    while (cache_bytes_ > kCacheLimit && !lru_.empty()) {
      cache_bytes_ -= lru_.back().second->size();
      lru_index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  return ptr;
}

Result<ManifestRecord> Store::get_manifest(const std::string& repo, const std::string& reference) {
  std::string digest_text, media_type;
  std::int64_t size = 0;
  {
    auto c = pool_->lease();
    bool by_digest = is_digest_reference(reference);
    auto st = c->prepare(
        by_digest
            ? "SELECT m.digest, m.media_type, m.size FROM repo_manifests rm "
              "JOIN repositories r ON r.id = rm.repo_id JOIN manifests m ON m.digest = rm.digest "
              "WHERE r.name = ? AND rm.digest = ?"
            : "SELECT m.digest, m.media_type, m.size FROM tags t "
              "JOIN repositories r ON r.id = t.repo_id JOIN manifests m ON m.digest = t.digest "
              "WHERE r.name = ? AND t.name = ?");
    st.bind(1, repo).bind(2, reference);
    if (!st.step()) {
      if (!repo_id(*c, repo))
        return make_error(Errc::name_unknown, "repository '" + repo + "' is not known");
      return make_error(Errc::manifest_unknown, "manifest '" + reference + "' is not in " + repo);
    }
    digest_text = st.get_text(0);
    media_type = st.get_text(1);
    size = st.get_int(2);
  }
  auto digest = Digest::parse(digest_text);
  if (!digest) return make_error(Errc::io_error, "corrupt metadata: bad digest " + digest_text);
  auto bytes = load_manifest_bytes(*digest, static_cast<std::uint64_t>(size));
  if (!bytes)
    return make_error(Errc::io_error, "manifest " + digest_text + " is missing or damaged on disk");
  return ManifestRecord{*digest, media_type, bytes};
}

Status Store::delete_manifest(const std::string& repo, const std::string& reference) {
  std::vector<Event> events;
  {
    auto c = pool_->lease();
    Transaction tx(*c);
    auto id = repo_id(*c, repo);
    if (!id) return make_error(Errc::name_unknown, "repository '" + repo + "' is not known");
    if (is_digest_reference(reference)) {
      auto tags = c->prepare("SELECT name FROM tags WHERE repo_id = ? AND digest = ?");
      tags.bind(1, *id).bind(2, reference);
      while (tags.step())
        events.push_back(
            Event{Event::Kind::tag_deleted, repo, reference, tags.get_text(0), {}, {}});
      c->prepare("DELETE FROM tags WHERE repo_id = ? AND digest = ?")
          .bind(1, *id)
          .bind(2, reference)
          .run();
      c->prepare("DELETE FROM retained WHERE repo_id = ? AND digest = ?")
          .bind(1, *id)
          .bind(2, reference)
          .run();
      c->prepare("DELETE FROM repo_manifests WHERE repo_id = ? AND digest = ?")
          .bind(1, *id)
          .bind(2, reference)
          .run();
      if (c->changes() == 0)
        return make_error(Errc::manifest_unknown, "manifest " + reference + " is not in " + repo);
      events.push_back(Event{Event::Kind::manifest_deleted, repo, reference, {}, {}, {}});
    } else {
      auto old = c->prepare("SELECT digest FROM tags WHERE repo_id = ? AND name = ?");
      old.bind(1, *id).bind(2, reference);
      if (!old.step())
        return make_error(Errc::manifest_unknown, "tag '" + reference + "' is not in " + repo);
      events.push_back(Event{Event::Kind::tag_deleted, repo, old.get_text(0), reference, {}, {}});
      c->prepare("DELETE FROM tags WHERE repo_id = ? AND name = ?")
          .bind(1, *id)
          .bind(2, reference)
          .run();
    }
    tx.commit();
  }
  for (const auto& e : events) events_.publish(e);
  return {};
}

// ---- listings ----

Result<std::vector<std::string>> Store::list_tags(const std::string& repo, std::size_t n,
                                                  const std::string& last) {
  auto c = pool_->lease();
  auto id = repo_id(*c, repo);
  if (!id) return make_error(Errc::name_unknown, "repository '" + repo + "' is not known");
  auto st =
      c->prepare("SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?");
  st.bind(1, *id).bind(2, last).bind(3, n == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(n));
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

std::vector<std::string> Store::catalog(std::size_t n, const std::string& last) {
  auto c = pool_->lease();
  auto st = c->prepare("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?");
  st.bind(1, last).bind(2, n == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(n));
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

std::vector<Referrer> Store::referrers(const std::string& repo, const Digest& subject,
                                       const std::optional<std::string>& artifact_type) {
  auto c = pool_->lease();
  auto st = c->prepare(
      "SELECT m.media_type, m.digest, m.size, m.artifact_type, m.annotations FROM manifests m "
      "JOIN repo_manifests rm ON rm.digest = m.digest JOIN repositories r ON r.id = rm.repo_id "
      "WHERE r.name = ? AND m.subject = ? AND (? IS NULL OR m.artifact_type = ?) ORDER BY "
      "m.created_at, m.digest");
  st.bind(1, repo).bind(2, subject.str()).bind(3, artifact_type).bind(4, artifact_type);
  std::vector<Referrer> out;
  while (st.step()) {
    auto d = Digest::parse(st.get_text(1));
    if (!d) continue;
    out.push_back(
        Referrer{st.get_text(0), *d, st.get_int(2), st.get_optional_text(3), st.get_text(4)});
  }
  return out;
}

Status Store::retain(const std::string& repo, const Digest& digest, const std::string& reason) {
  auto c = pool_->lease();
  Transaction tx(*c);
  auto id = repo_id(*c, repo);
  if (!id) return make_error(Errc::name_unknown, "repository '" + repo + "' is not known");
  auto has = c->prepare("SELECT 1 FROM repo_manifests WHERE repo_id = ? AND digest = ?");
  has.bind(1, *id).bind(2, digest.str());
  if (!has.step())
    return make_error(Errc::manifest_unknown, "manifest " + digest.str() + " is not in " + repo);
  c->prepare(
       "INSERT OR REPLACE INTO retained(repo_id, digest, reason, created_at) VALUES (?, ?, ?, ?)")
      .bind(1, *id)
      .bind(2, digest.str())
      .bind(3, reason)
      .bind(4, now())
      .run();
  tx.commit();
  return {};
}

Status Store::release(const std::string& repo, const Digest& digest) {
  auto c = pool_->lease();
  auto id = repo_id(*c, repo);
  if (!id) return make_error(Errc::name_unknown, "repository '" + repo + "' is not known");
  c->prepare("DELETE FROM retained WHERE repo_id = ? AND digest = ?")
      .bind(1, *id)
      .bind(2, digest.str())
      .run();
  return {};
}

// ---- bulk ingest ----

bool Store::has_blob_file(const Digest& digest) const {
  std::error_code ec;
  return fsys::is_regular_file(blob_path(digest), ec);
}

bool Store::has_blob(const Digest& digest) {
  if (!has_blob_file(digest)) return false;
  return read([&](Connection& c) {
    auto q = c.prepare("SELECT 1 FROM blobs WHERE digest = ?");
    q.bind(1, digest.str());
    return q.step();
  });
}

Status Store::adopt_blob_file(const fsys::path& staged, const Digest& digest, bool sync_directory) {
  ScopedFlock lock(root_ / "blobs.lock", LOCK_SH);
  if (has_blob_file(digest)) {
    std::error_code ec;
    fsys::remove(staged, ec);
    // Refresh the mtime so that garbage collection's grace period covers the coming commit.
    ::utimensat(AT_FDCWD, blob_path(digest).c_str(), nullptr, 0);
    return {};
  }
  return install_blob_file(staged, digest, sync_directory);
}

void Store::run_transaction(const std::function<void(Connection&)>& fn) {
  auto c = pool_->lease();
  Transaction tx(*c);
  fn(*c);
  tx.commit();
}

Status Store::try_transaction(const std::function<Status(Connection&)>& fn) {
  auto c = pool_->lease();
  Transaction tx(*c);
  auto st = fn(*c);
  if (st) tx.commit();
  return st;
}

void Store::run_read(const std::function<void(Connection&)>& fn) {
  auto c = pool_->lease();
  fn(*c);
}

void Store::link_blob(Connection& c, const std::string& repo, const Digest& digest,
                      std::uint64_t size) {
  record_blob(c, repo, digest, size);
}

void Store::record_content_blob(Connection& c, const Digest& digest, std::uint64_t size) {
  c.prepare("INSERT OR IGNORE INTO blobs(digest, size, created_at) VALUES (?, ?, ?)")
      .bind(1, digest.str())
      .bind(2, static_cast<std::int64_t>(size))
      .bind(3, now())
      .run();
}

std::optional<std::string> Store::link_manifest(Connection& c, const std::string& repo,
                                                const Digest& digest, const oci::Manifest& m,
                                                std::uint64_t size,
                                                const std::optional<std::string>& tag,
                                                std::string_view origin) {
  record_blob(c, repo, digest, size);
  auto id = ensure_repo(c, repo);
  c.prepare(
       "INSERT OR IGNORE INTO manifests(digest, media_type, size, artifact_type, subject, "
       "annotations, created_at) "
       "VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind(1, digest.str())
      .bind(2, m.media_type)
      .bind(3, static_cast<std::int64_t>(size))
      .bind(4, m.artifact_type)
      .bind(5, m.subject ? std::optional<std::string>(m.subject->digest.str()) : std::nullopt)
      .bind(6, m.annotations_json)
      .bind(7, now())
      .run();
  if (c.changes() > 0) {
    for (const auto& b : m.required_blobs())
      c.prepare("INSERT OR IGNORE INTO manifest_refs(manifest, child, kind) VALUES (?, ?, 'blob')")
          .bind(1, digest.str())
          .bind(2, b.str())
          .run();
    for (const auto& ch : m.child_manifests())
      c.prepare(
           "INSERT OR IGNORE INTO manifest_refs(manifest, child, kind) VALUES (?, ?, 'manifest')")
          .bind(1, digest.str())
          .bind(2, ch.str())
          .run();
  }
  c.prepare("INSERT OR IGNORE INTO repo_manifests(repo_id, digest, created_at) VALUES (?, ?, ?)")
      .bind(1, id)
      .bind(2, digest.str())
      .bind(3, now())
      .run();
  std::optional<std::string> previous;
  if (tag) {
    auto old = c.prepare("SELECT digest FROM tags WHERE repo_id = ? AND name = ?");
    old.bind(1, id).bind(2, *tag);
    if (old.step()) previous = old.get_text(0);
    if (previous && *previous != digest.str())
      c.prepare("INSERT INTO tag_history(repo_id, tag, digest, until) VALUES (?, ?, ?, ?)")
          .bind(1, id)
          .bind(2, *tag)
          .bind(3, *previous)
          .bind(4, now())
          .run();
    c.prepare(
         "INSERT INTO tags(repo_id, name, digest, updated_at, origin) VALUES (?, ?, ?, ?, ?) "
         "ON CONFLICT(repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = "
         "excluded.updated_at, origin = excluded.origin")
        .bind(1, id)
        .bind(2, *tag)
        .bind(3, digest.str())
        .bind(4, now())
        .bind(5, std::string(origin))
        .run();
  }
  return previous;
}

std::optional<std::string> Store::tag_origin(const std::string& repo, const std::string& tag) {
  std::optional<std::string> out;
  read([&](sqlite::Connection& c) {
    auto q = c.prepare(
        "SELECT t.origin FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE r.name = ? AND "
        "t.name = ?");
    q.bind(1, repo).bind(2, tag);
    if (q.step()) out = q.get_text(0);
  });
  return out;
}

// ---- maintenance ----

GcReport Store::gc(const GcOptions& o) {
  GcReport report;
  ScopedFlock lock(root_ / "blobs.lock", LOCK_EX);
  auto c = pool_->lease();
  const std::int64_t cutoff = now() - o.grace_seconds;
  std::vector<std::pair<std::string, std::int64_t>> doomed_blobs;
  {
    Transaction tx(*c);
    // Mark: manifests reachable from tags, retained digests, recent pushes, (unless asked
    // otherwise) any repository link; then their children and their referrers, to a fixpoint.
    std::set<std::string> kept;
    std::deque<std::string> queue;
    auto add_roots = [&](const std::string& sql, bool with_cutoff) {
      auto st = c->prepare(sql);
      if (with_cutoff) st.bind(1, cutoff);
      while (st.step()) {
        auto d = st.get_text(0);
        if (kept.insert(d).second) queue.push_back(d);
      }
    };
    add_roots("SELECT digest FROM tags", false);
    add_roots("SELECT digest FROM retained", false);
    add_roots("SELECT digest FROM manifests WHERE created_at > ?", true);
    if (!o.delete_untagged) add_roots("SELECT digest FROM repo_manifests", false);
    while (!queue.empty()) {
      auto d = queue.front();
      queue.pop_front();
      auto ch =
          c->prepare("SELECT child FROM manifest_refs WHERE manifest = ? AND kind = 'manifest'");
      ch.bind(1, d);
      while (ch.step())
        if (kept.insert(ch.get_text(0)).second) queue.push_back(ch.get_text(0));
      auto rf = c->prepare("SELECT digest FROM manifests WHERE subject = ?");
      rf.bind(1, d);
      while (rf.step())
        if (kept.insert(rf.get_text(0)).second) queue.push_back(rf.get_text(0));
    }
    std::vector<std::string> all_manifests;
    {
      auto st = c->prepare("SELECT digest FROM manifests ORDER BY digest");
      while (st.step()) all_manifests.push_back(st.get_text(0));
    }
    for (const auto& d : all_manifests) {
      if (kept.count(d)) continue;
      report.manifests_removed.push_back(d);
      c->prepare("DELETE FROM repo_manifests WHERE digest = ?").bind(1, d).run();
      c->prepare("DELETE FROM tags WHERE digest = ?").bind(1, d).run();
      c->prepare("DELETE FROM manifests WHERE digest = ?").bind(1, d).run();
    }
    report.manifests_kept = all_manifests.size() - report.manifests_removed.size();
    // Sweep blobs no remaining manifest references (a manifest's own bytes count as used).
    auto st = c->prepare(
        "SELECT b.digest, b.size FROM blobs b WHERE b.created_at <= ? "
        "AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest) "
        "AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.child = b.digest AND r.kind = "
        "'blob') "
        "AND NOT EXISTS (SELECT 1 FROM content k WHERE k.digest = b.digest) "
        "ORDER BY b.digest");
    st.bind(1, cutoff);
    while (st.step()) doomed_blobs.emplace_back(st.get_text(0), st.get_int(1));
    for (const auto& [d, size] : doomed_blobs) {
      report.blobs_removed.push_back(d);
      report.bytes_freed += static_cast<std::uint64_t>(size);
      c->prepare("DELETE FROM repo_blobs WHERE digest = ?").bind(1, d).run();
      c->prepare("DELETE FROM blobs WHERE digest = ?").bind(1, d).run();
    }
    auto cnt = c->prepare("SELECT count(*) FROM blobs");
    cnt.step();
    report.blobs_kept = static_cast<std::size_t>(cnt.get_int(0));
    auto up = c->prepare("SELECT uuid FROM uploads WHERE updated_at < ?");
    up.bind(1, now() - o.upload_max_age_seconds);
    while (up.step()) {
      // Chunks are not recorded in the database: an upload this process saw a chunk of recently
      // is kept.
      auto u = up.get_text(0);
      {
        std::lock_guard lk(uploads_mu_);
        if (auto it = uploads_.find(u);
            it != uploads_.end() && it->second.touched >= now() - o.upload_max_age_seconds)
          continue;
      }
      report.uploads_removed.push_back(u);
    }
    for (const auto& u : report.uploads_removed)
      c->prepare("DELETE FROM uploads WHERE uuid = ?").bind(1, u).run();
    if (o.dry_run) return report;  // the transaction rolls back
    tx.commit();
  }
  std::error_code ec;
  for (const auto& d : report.blobs_removed) {
    auto pd = Digest::parse(d);
    if (pd) fsys::remove(blob_path(*pd), ec);
  }
  for (const auto& u : report.uploads_removed) {
    fsys::remove(upload_path(u), ec);
    std::lock_guard lk(uploads_mu_);
    uploads_.erase(u);
  }
  {
    std::lock_guard lk(cache_mu_);
    lru_.clear();
    lru_index_.clear();
    cache_bytes_ = 0;
  }
  // Files left behind by a crash between a rename and its database commit.
  auto old_enough = [&](const fsys::path& p) {
    struct stat sb {};
    return ::stat(p.c_str(), &sb) == 0 && sb.st_mtime <= cutoff;
  };
  for (auto algorithm : {"sha256", "sha512"})
    for (const auto& e : fsys::recursive_directory_iterator(root_ / "blobs" / algorithm, ec)) {
      if (!e.is_regular_file()) continue;
      auto q = c->prepare("SELECT 1 FROM blobs WHERE digest = ?");
      q.bind(1, std::string(algorithm) + ":" + e.path().filename().string());
      if (!q.step() && old_enough(e.path())) {
        report.orphan_files_removed.push_back(e.path().string());
        fsys::remove(e.path(), ec);
      }
    }
  for (const auto& dir : {root_ / "uploads", root_ / "tmp"}) {
    for (const auto& e : fsys::directory_iterator(dir, ec)) {
      auto q = c->prepare("SELECT 1 FROM uploads WHERE uuid = ?");
      q.bind(1, e.path().filename().string());
      if (!q.step() && old_enough(e.path())) {
        report.orphan_files_removed.push_back(e.path().string());
        fsys::remove(e.path(), ec);
      }
    }
  }
  return report;
}

CheckReport Store::check() {
  CheckReport r;
  auto c = pool_->lease();
  // One read transaction: every query below sees the same committed state however the daemon
  // writes meanwhile (WAL readers keep their snapshot). Files written after it started, and blobs
  // removed after it, are judged against the database as it is when they are met.
  struct ReadSnapshot {
    sqlite::Connection& c;
    bool open = true;
    explicit ReadSnapshot(sqlite::Connection& conn) : c(conn) { c.exec("BEGIN"); }
    void end() {
      if (open) c.exec("COMMIT");
      open = false;
    }
    ~ReadSnapshot() {
      try {
        end();
      } catch (...) {
      }
    }
  } snapshot(*c);
  auto recorded_now = [&](const std::string& digest) {
    auto q = c->prepare("SELECT 1 FROM blobs WHERE digest = ?");
    q.bind(1, digest);
    return q.step();
  };
  std::vector<std::string> missing;
  std::vector<std::pair<std::string, std::int64_t>> blobs;
  {
    auto st = c->prepare("SELECT digest, size FROM blobs ORDER BY digest");
    while (st.step()) blobs.emplace_back(st.get_text(0), st.get_int(1));
  }
  std::set<std::string> known;
  for (const auto& [d, size] : blobs) {
    known.insert(d);
    ++r.blobs_checked;
    auto pd = Digest::parse(d);
    if (!pd) {
      r.problems.push_back("metadata holds a malformed digest: " + d);
      continue;
    }
    std::uint64_t actual_size = 0;
    auto h = ContentHash::of_file(pd->algorithm(), blob_path(*pd), &actual_size);
    if (!h) {
      std::error_code gone;
      if (!fsys::exists(blob_path(*pd), gone)) {
        missing.push_back(d);  // gc may have removed it since the snapshot: judged below
        continue;
      }
      r.problems.push_back("blob " + d + ": " + h.error().message);
      continue;
    }
    r.bytes_hashed += actual_size;
    if (actual_size != static_cast<std::uint64_t>(size))
      r.problems.push_back("blob " + d + ": size is " + std::to_string(actual_size) +
                           ", recorded " + std::to_string(size));
    if (*h != *pd) r.problems.push_back("blob " + d + ": content hashes to " + h->str());
  }
  {
    auto st = c->prepare("SELECT digest, media_type, size FROM manifests ORDER BY digest");
    while (st.step()) {
      ++r.manifests_checked;
      auto d = st.get_text(0);
      if (!known.count(d)) {
        r.problems.push_back("manifest " + d + ": its bytes are not in the blob store");
        continue;
      }
      auto pd = Digest::parse(d);
      auto bytes = pd ? fs::read_file(blob_path(*pd), 64u << 20)
                      : Result<std::string>(make_error(Errc::io_error, "bad digest"));
      if (!bytes) continue;  // reported above
      auto m = oci::parse_manifest(*bytes, st.get_text(1));
      if (!m) {
        r.problems.push_back("manifest " + d + ": " + m.error().message);
        continue;
      }
      for (const auto& b : m->required_blobs())
        if (!known.count(b.str()))
          r.problems.push_back("manifest " + d + ": references missing blob " + b.str());
      for (const auto& ch : m->child_manifests()) {
        auto q = c->prepare("SELECT 1 FROM manifests WHERE digest = ?");
        q.bind(1, ch.str());
        if (!q.step())
          r.problems.push_back("index " + d + ": references missing manifest " + ch.str());
      }
    }
  }
  {
    auto st = c->prepare(
        "SELECT r.name, t.name, t.digest FROM tags t JOIN repositories r ON r.id = t.repo_id "
        "LEFT JOIN manifests m ON m.digest = t.digest WHERE m.digest IS NULL");
    while (st.step())
      r.problems.push_back("tag " + st.get_text(0) + ":" + st.get_text(1) +
                           " points to missing manifest " + st.get_text(2));
    auto n = c->prepare("SELECT count(*) FROM tags");
    n.step();
    r.tags_checked = static_cast<std::size_t>(n.get_int(0));
    auto rb = c->prepare(
        "SELECT count(*) FROM repo_blobs rb LEFT JOIN blobs b ON b.digest = rb.digest WHERE "
        "b.digest IS NULL");
    rb.step();
    if (rb.get_int(0) > 0)
      r.problems.push_back(std::to_string(rb.get_int(0)) +
                           " repository links point to missing blobs");
  }
  snapshot.end();
  // A missing file is a problem only while the database still records the blob.
  for (const auto& d : missing)
    if (recorded_now(d)) r.problems.push_back("blob " + d + ": its file is missing");
  std::error_code ec;
  std::vector<std::pair<fsys::path, std::string>> unrecorded;  // file, the digest it would be
  for (auto algorithm : {"sha256", "sha512"})
    for (const auto& e : fsys::recursive_directory_iterator(root_ / "blobs" / algorithm, ec)) {
      if (!e.is_regular_file()) continue;
      auto d = std::string(algorithm) + ":" + e.path().filename().string();
      // A blob recorded after the snapshot is not an orphan.
      if (!known.count(d) && !recorded_now(d)) unrecorded.emplace_back(e.path(), d);
    }
  // An upload or import moves its file in first and records it a moment later (after syncing):
  // a file seen in between is judged again after a grace period.
  if (!unrecorded.empty()) std::this_thread::sleep_for(std::chrono::seconds(1));
  for (const auto& [p, d] : unrecorded) {
    std::error_code gone;
    if (fsys::exists(p, gone) && !recorded_now(d))
      r.problems.push_back("file " + p.string() +
                           " is not recorded in the metadata (left by a crash; gc removes it)");
  }
  return r;
}

}  // namespace airheal::store
