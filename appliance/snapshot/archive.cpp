#include "snapshot/archive.hpp"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "core/archive_path.hpp"
#include "core/fs.hpp"

namespace airheal::snapshot {
namespace {
std::string human_path(const std::string& p) {
  std::string out;
  for (unsigned char c : p) {
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
    if (out.size() > 200) return out + "...";
  }
  return out;
}
// Hashes stored entries (files the sink copied in the kernel) on worker threads and compares each
// with its manifest digest. finish() reports the first failure in archive order.
class HashPool {
 public:
  explicit HashPool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
  }
  ~HashPool() { stop(); }
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  void add(std::size_t order, std::filesystem::path file, Digest expected, std::string shown) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(Job{order, std::move(file), expected, std::move(shown)});
    }
    cv_.notify_one();
  }
  // Waits for every job; the failure of the earliest entry, if any.
  std::optional<Error> finish() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
    if (failures_.empty()) return std::nullopt;
    auto first = std::min_element(failures_.begin(), failures_.end(),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    return first->second;
  }

 private:
  struct Job {
    std::size_t order;
    std::filesystem::path file;
    Digest expected;
    std::string shown;
  };
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Job job = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      lock.unlock();
      auto failure = check(job);
      lock.lock();
      if (failure) failures_.emplace_back(job.order, std::move(*failure));
      --busy_;
      if (queue_.empty() && busy_ == 0) idle_.notify_all();
    }
  }
  static std::optional<Error> check(const Job& job) {
    auto d = Sha256::of_file(job.file);
    if (!d)
      return make_error(Errc::io_error,
                        "cannot read back staged '" + job.shown + "': " + d.error().message);
    if (*d != job.expected)
      return make_error(Errc::invalid_argument, "entry '" + job.shown + "' has sha256 " + d->hex() +
                                                    "; the manifest says " + job.expected.hex());
    return std::nullopt;
  }
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<Job> queue_;
  std::vector<std::pair<std::size_t, Error>> failures_;
  unsigned busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

const char* to_string(Header::Type t) {
  switch (t) {
    case Header::Type::regular:
      return "regular file";
    case Header::Type::directory:
      return "directory";
    case Header::Type::symlink:
      return "symbolic link";
    case Header::Type::hardlink:
      return "hard link";
    case Header::Type::device:
      return "device node";
    case Header::Type::sparse:
      return "sparse file";
    case Header::Type::other:
      return "special file";
  }
  return "?";
}

// ---- reader ----

ArchiveReader::~ArchiveReader() {
  if (a_) archive_read_free(a_);
  if (fd_ >= 0) ::close(fd_);  // archive_read_open_fd leaves it to us
}

Error ArchiveReader::failure(const std::string& what) const {
  const char* msg = a_ ? archive_error_string(a_) : nullptr;
  return make_error(Errc::invalid_argument, what + (msg ? std::string(": ") + msg : std::string()));
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::open(const std::filesystem::path& file) {
  std::unique_ptr<ArchiveReader> r(new ArchiveReader());
  r->fd_ =
      ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // NONBLOCK: a FIFO must not hang us
  if (r->fd_ < 0) {
    int err = errno;
    return make_error(Errc::not_found, "cannot read " + file.string() + ": " + std::strerror(err));
  }
  struct stat sb {};
  if (::fstat(r->fd_, &sb) != 0)
    return make_error(Errc::io_error, "cannot read " + file.string() + ": " + std::strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return make_error(Errc::invalid_argument, file.string() + " is not a regular file");
  ::fcntl(r->fd_, F_SETFL, ::fcntl(r->fd_, F_GETFL) & ~O_NONBLOCK);
  r->file_size_ = static_cast<std::uint64_t>(sb.st_size);
  r->a_ = archive_read_new();
  archive_read_support_format_tar(r->a_);
  archive_read_support_filter_zstd(r->a_);
  if (archive_read_open_fd(r->a_, r->fd_, 4 << 20) != ARCHIVE_OK)
    return r->failure("cannot open " + file.string() + " as a snapshot");
  return r;
}

std::optional<std::uint64_t> ArchiveReader::data_offset() const {
  if (compression_ != Compression::none || archive_filter_count(a_) != 1) return std::nullopt;
  auto n =
      archive_filter_bytes(a_, 0);  // what the tar reader has consumed: the headers, up to the data
  if (n < 0) return std::nullopt;
  return static_cast<std::uint64_t>(n);
}

Status ArchiveReader::skip_data() {
  if (archive_read_data_skip(a_) != ARCHIVE_OK)
    return failure("the archive is truncated or corrupt in entry '" + human_path(current_) + "'");
  return {};
}

std::uint64_t ArchiveReader::file_position() const {
  auto n = archive_filter_bytes(a_, -1);
  return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

Result<std::optional<Header>> ArchiveReader::next() {
  struct archive_entry* e = nullptr;
  int rc = archive_read_next_header(a_, &e);
  if (rc == ARCHIVE_EOF) return std::optional<Header>{};
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
    auto where = current_.empty() ? std::string("at its start")
                                  : "after entry '" + human_path(current_) + "'";
    return failure("the archive is truncated or not a valid snapshot tar " + where);
  }
  // Only plain tar or zstd-compressed tar: anything else (gzip, xz, nested filters) is refused.
  int filters = archive_filter_count(a_);
  if (filters > 2 || (filters == 2 && archive_filter_code(a_, 0) != ARCHIVE_FILTER_ZSTD))
    return make_error(Errc::invalid_argument, "snapshot compression must be none or zstd");
  compression_ = filters == 2 ? Compression::zstd : Compression::none;
  Header h;
  const char* p = entry_pathname(e);
  if (!*p) return make_error(Errc::invalid_argument, "an archive entry has no readable path");
  h.path = p;
  current_ = h.path;
  h.size = archive_entry_size_is_set(e) ? static_cast<std::uint64_t>(archive_entry_size(e)) : 0;
  if (*entry_hardlink(e)) {
    h.type = Header::Type::hardlink;
    h.link_target = entry_hardlink(e);
  } else {
    switch (archive_entry_filetype(e)) {
      case AE_IFREG:
        h.type = Header::Type::regular;
        break;
      case AE_IFDIR:
        h.type = Header::Type::directory;
        break;
      case AE_IFLNK:
        h.type = Header::Type::symlink;
        h.link_target = entry_symlink(e);
        break;
      case AE_IFCHR:
      case AE_IFBLK:
        h.type = Header::Type::device;
        break;
      default:
        h.type = Header::Type::other;
        break;
    }
  }
  if (h.type == Header::Type::regular && archive_entry_sparse_count(e) > 0)
    h.type = Header::Type::sparse;
  return std::optional<Header>(std::move(h));
}

Result<std::size_t> ArchiveReader::read(char* buf, std::size_t n) {
  auto got = archive_read_data(a_, buf, n);
  if (got < 0)
    return failure("the archive is truncated or corrupt in entry '" + human_path(current_) + "'");
  return static_cast<std::size_t>(got);
}

Result<std::string_view> ArchiveReader::read_block() {
  const void* buf = nullptr;
  std::size_t size = 0;
  la_int64_t offset = 0;
  int rc = archive_read_data_block(a_, &buf, &size, &offset);
  if (rc == ARCHIVE_EOF) return std::string_view{};
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
    return failure("the archive is truncated or corrupt in entry '" + human_path(current_) + "'");
  return std::string_view(static_cast<const char*>(buf), size);
}

Result<std::string> ArchiveReader::read_all(std::uint64_t max) {
  std::string out;
  char buf[65536];
  while (true) {
    auto n = read(buf, sizeof buf);
    if (!n) return n.error();
    if (*n == 0) break;
    if (out.size() + *n > max)
      return make_error(Errc::too_large, "entry '" + human_path(current_) + "' is larger than " +
                                             std::to_string(max) + " bytes");
    out.append(buf, *n);
  }
  return out;
}

// ---- writer ----

ArchiveWriter::~ArchiveWriter() {
  if (a_) {
    if (!closed_) archive_write_fail(a_);
    archive_write_free(a_);
  }
}

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::create(const std::filesystem::path& file,
                                                             Compression c, std::int64_t mtime) {
  std::unique_ptr<ArchiveWriter> w(new ArchiveWriter());
  w->mtime_ = mtime;
  w->a_ = archive_write_new();
  archive_write_set_format_pax_restricted(w->a_);
  if (c == Compression::zstd && archive_write_add_filter_zstd(w->a_) != ARCHIVE_OK)
    return make_error(Errc::unsupported, std::string("zstd: ") + archive_error_string(w->a_));
  if (archive_write_open_filename(w->a_, file.c_str()) != ARCHIVE_OK)
    return make_error(Errc::io_error,
                      "cannot write " + file.string() + ": " + archive_error_string(w->a_));
  return w;
}

Status ArchiveWriter::add_stream(
    const std::string& path, std::uint64_t size,
    const std::function<Result<std::size_t>(char*, std::size_t)>& fill) {
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, path.c_str());
  archive_entry_set_size(e, static_cast<la_int64_t>(size));
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_mtime(e, mtime_, 0);
  int rc = archive_write_header(a_, e);
  archive_entry_free(e);
  if (rc != ARCHIVE_OK)
    return make_error(Errc::io_error, "writing " + path + ": " + archive_error_string(a_));
  std::vector<char> buf(1 << 20);
  std::uint64_t left = size;
  while (left > 0) {
    auto n = fill(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size())));
    if (!n) return n.error();
    if (*n == 0) return make_error(Errc::io_error, "short read while adding " + path);
    if (archive_write_data(a_, buf.data(), *n) < 0)
      return make_error(Errc::io_error, "writing " + path + ": " + archive_error_string(a_));
    left -= *n;
  }
  return {};
}

Status ArchiveWriter::add(const std::string& path, std::string_view data) {
  std::size_t pos = 0;
  return add_stream(path, data.size(), [&](char* out, std::size_t n) -> Result<std::size_t> {
    n = std::min(n, data.size() - pos);
    std::memcpy(out, data.data() + pos, n);
    pos += n;
    return n;
  });
}

Status ArchiveWriter::add_file(const std::string& path, const std::filesystem::path& source,
                               std::uint64_t size) {
  fs::UniqueFd fd(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return make_error(Errc::io_error,
                      "cannot read " + source.string() + ": " + std::strerror(errno));
  return add_stream(path, size, [&](char* out, std::size_t n) -> Result<std::size_t> {
    while (true) {
      auto got = ::read(fd.get(), out, n);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0)
        return make_error(Errc::io_error,
                          "cannot read " + source.string() + ": " + std::strerror(errno));
      return static_cast<std::size_t>(got);
    }
  });
}

Status ArchiveWriter::close() {
  closed_ = true;
  if (archive_write_close(a_) != ARCHIVE_OK)
    return make_error(Errc::io_error,
                      std::string("finishing the archive: ") + archive_error_string(a_));
  return {};
}

// ---- head and body ----

Result<Head> read_head(ArchiveReader& r, const std::function<Status(const Head&)>& authenticate) {
  auto first = r.next();
  if (!first) return first.error();
  if (!*first) return make_error(Errc::invalid_argument, "the archive is empty");
  const auto& h = **first;
  if (h.path != kManifestName)
    return make_error(Errc::invalid_argument, "the first entry must be " +
                                                  std::string(kManifestName) + ", found '" +
                                                  human_path(h.path) + "'");
  if (h.type != Header::Type::regular)
    return make_error(Errc::invalid_argument,
                      std::string(kManifestName) + " is a " + to_string(h.type));
  if (h.size > kMaxManifestBytes)
    return make_error(Errc::too_large, "the manifest is " + std::to_string(h.size) +
                                           " bytes, more than the limit of " +
                                           std::to_string(kMaxManifestBytes));
  Head head;
  auto bytes = r.read_all(kMaxManifestBytes);
  if (!bytes) return bytes.error();
  if (bytes->size() != h.size)
    return make_error(Errc::invalid_argument, "the manifest entry is truncated");
  head.manifest_bytes = std::move(*bytes);
  head.digest = Sha256::of(head.manifest_bytes);
  std::set<std::string> names;
  while (true) {
    auto n = r.next();
    if (!n) return n.error();
    if (!*n) break;
    if ((*n)->path.rfind(kSignaturePrefix, 0) != 0) {
      head.first_body = std::move(**n);
      break;
    }
    const auto& s = **n;
    auto name = s.path.substr(kSignaturePrefix.size());
    if (!is_safe_path(s.path) || name.find('/') != std::string::npos || name.size() < 5 ||
        name.substr(name.size() - 4) != ".asc")
      return make_error(Errc::invalid_argument,
                        "signature entry '" + human_path(s.path) + "' must be signatures/NAME.asc");
    if (s.type != Header::Type::regular)
      return make_error(Errc::invalid_argument,
                        "signature entry '" + s.path + "' is a " + to_string(s.type));
    if (s.size > kMaxSignatureBytes)
      return make_error(Errc::too_large, "signature entry '" + s.path + "' is larger than " +
                                             std::to_string(kMaxSignatureBytes) + " bytes");
    if (!names.insert(s.path).second)
      return make_error(Errc::invalid_argument, "signature entry '" + s.path + "' appears twice");
    if (head.signatures.size() >= kMaxSignatures)
      return make_error(Errc::too_large,
                        "more than " + std::to_string(kMaxSignatures) + " signatures");
    auto sig = r.read_all(kMaxSignatureBytes);
    if (!sig) return sig.error();
    head.signatures.emplace_back(s.path, std::move(*sig));
  }
  // Signatures first when the caller can check them: an unsigned manifest is not parsed at all.
  if (authenticate)
    if (auto st = authenticate(head); !st) return st.error();
  auto m = parse_manifest(head.manifest_bytes);
  if (!m) return m.error();
  head.manifest = std::move(*m);
  return head;
}

Status stream_body(ArchiveReader& r, const Head& head, const BodySink& sink) {
  const auto& m = head.manifest;
  std::unordered_map<std::string, const Entry*> by_path;
  std::uint64_t total = 0;
  for (const auto& e : m.entries) {
    by_path.emplace(e.path, &e);
    if (!e.in_previous) total += e.size;
  }
  std::set<std::string> seen;
  std::optional<Header> h = head.first_body;
  std::uint64_t done = 0;
  auto refuse = [](std::string msg) { return make_error(Errc::invalid_argument, std::move(msg)); };
  // Entries the sink copies in the kernel are hashed from where they were stored, by this pool,
  // while the next entries are copied; its findings come first (they are about earlier entries).
  std::optional<HashPool> pool;
  BackgroundSha256 hash;
  std::size_t order = 0;
  auto entries = [&]() -> Status {
    while (h) {
      auto shown = human_path(h->path);
      if (!h->path.empty() && h->path.front() == '/')
        return refuse("entry '" + shown + "' has an absolute path");
      if (h->path == ".." || h->path.rfind("../", 0) == 0 ||
          h->path.find("/../") != std::string::npos ||
          (h->path.size() >= 3 && h->path.substr(h->path.size() - 3) == "/.."))
        return refuse("entry '" + shown + "' has a path that escapes the snapshot (..)");
      if (h->type == Header::Type::symlink)
        return refuse("entry '" + shown + "' is a symbolic link (to '" +
                      human_path(h->link_target) + "')");
      if (h->type == Header::Type::hardlink)
        return refuse("entry '" + shown + "' is a hard link (to '" + human_path(h->link_target) +
                      "')");
      if (h->type == Header::Type::device) return refuse("entry '" + shown + "' is a device node");
      if (h->type == Header::Type::sparse)
        return refuse("entry '" + shown +
                      "' is a sparse file: snapshots carry plain files (made by airheal-snapshot, "
                      "or tar without --sparse)");
      if (h->type != Header::Type::regular)
        return refuse("entry '" + shown + "' is a " + to_string(h->type) + ", not a regular file");
      if (!is_safe_path(h->path)) return refuse("entry '" + shown + "' has an unsafe path");
      if (h->path == kManifestName || h->path.rfind(kSignaturePrefix, 0) == 0)
        return refuse("entry '" + shown + "' appears again after the head of the snapshot");
      auto it = by_path.find(h->path);
      if (it == by_path.end())
        return refuse("stray entry '" + shown + "' is not listed in the manifest");
      const Entry& e = *it->second;
      if (!seen.insert(e.path).second) return refuse("entry '" + shown + "' appears twice");
      if (e.in_previous)
        return refuse("entry '" + shown + "' is marked in_previous but is present in the archive");
      if (h->size != e.size)
        return refuse("entry '" + shown + "' is " + std::to_string(h->size) +
                      " bytes; the manifest says " + std::to_string(e.size));
      if (auto st = sink.open(e); !st) return st;
      auto offset = sink.copy && e.size >= kCopyMinBytes ? r.data_offset() : std::nullopt;
      if (offset) {
        // In the kernel, file to file; hashed from the stored copy on the other cores.
        auto copied = sink.copy(e, r.fd(), *offset, e.size);
        if (!copied) return copied.error();
        if (copied->bytes != e.size)
          return refuse("entry '" + shown + "' is truncated: " + std::to_string(copied->bytes) +
                        " of " + std::to_string(e.size) + " bytes");
        if (!pool) pool.emplace(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
        pool->add(order++, copied->file, e.sha256, shown);
        done += e.size;
        if (sink.progress) sink.progress(done, total);
        if (auto st = sink.close(e); !st) return st;
        if (auto st = r.skip_data(); !st) return st;
      } else {
        std::uint64_t got = 0;
        while (true) {
          auto block = r.read_block();
          if (!block) return block.error();
          if (block->empty()) break;
          got += block->size();
          if (got > e.size)
            return refuse("entry '" + shown + "' holds more than its declared " +
                          std::to_string(e.size) + " bytes");
          // The block (in the reader's buffer, valid until the next read) is hashed on the second
          // core while this one writes it.
          hash.submit(block->data(), block->size());
          auto written = sink.write(e, block->data(), block->size());
          hash.wait();
          if (!written) return written;
          done += block->size();
          if (sink.progress) sink.progress(done, total);
        }
        if (got != e.size)
          return refuse("entry '" + shown + "' is truncated: " + std::to_string(got) + " of " +
                        std::to_string(e.size) + " bytes");
        auto d = hash.finish();
        ++order;
        if (d != e.sha256)
          return refuse("entry '" + shown + "' has sha256 " + d.hex() + "; the manifest says " +
                        e.sha256.hex());
        if (auto st = sink.close(e); !st) return st;
      }
      auto n = r.next();
      if (!n) return n.error();
      h = std::move(*n);
    }
    for (const auto& e : m.entries)
      if (!e.in_previous && !seen.count(e.path))
        return refuse("entry '" + e.path +
                      "' is listed in the manifest but missing from the archive");
    return {};
  };
  auto st = entries();
  if (pool)
    if (auto earlier = pool->finish()) return *earlier;
  return st;
}

}  // namespace airheal::snapshot
