// The one owner of on-disk image state: a content-addressed blob store (files named by their
// sha256 under blobs/sha256/xx/) and the metadata database (SQLite, WAL) that says which
// repositories hold which blobs, manifests and tags. Safe for concurrent use from many threads
// of one process and from other processes (airhealctl) on the same state directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"
#include "core/result.hpp"
#include "core/sqlite.hpp"
#include "store/events.hpp"

namespace airheal::store {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_seconds() const = 0;
};
class SystemClock final : public Clock {
 public:
  std::int64_t now_seconds() const override;
};

struct BlobInfo {
  Digest digest;
  std::uint64_t size = 0;
};

struct UploadInfo {
  std::string uuid;
  std::string repository;
  std::uint64_t offset = 0;
};

struct ManifestRecord {
  Digest digest;
  std::string media_type;
  std::shared_ptr<const std::string> bytes;
};

struct PutManifestResult {
  Digest digest;
  std::optional<Digest> subject;
  std::vector<std::string> tags;  // the tags now pointing at it
};

struct Referrer {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  std::optional<std::string> artifact_type;
  std::string annotations_json;
};

struct GcOptions {
  bool dry_run = true;
  bool delete_untagged = false;       // also remove manifests no tag/retention/referrer keeps
  std::int64_t grace_seconds = 3600;  // never remove anything younger than this
  std::int64_t upload_max_age_seconds = 86400;
};

struct GcReport {
  std::vector<std::string> manifests_removed;
  std::vector<std::string> blobs_removed;
  std::vector<std::string> uploads_removed;
  std::vector<std::string> orphan_files_removed;
  std::uint64_t bytes_freed = 0;
  std::size_t manifests_kept = 0;
  std::size_t blobs_kept = 0;
};

struct CheckReport {
  std::size_t blobs_checked = 0;
  std::size_t manifests_checked = 0;
  std::size_t tags_checked = 0;
  std::uint64_t bytes_hashed = 0;
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

class Store;

// Appends bytes to an upload session. Nothing is part of the upload until commit(); a writer
// destroyed uncommitted (client gone, bad range, error) truncates the file back.
class UploadWriter {
 public:
  ~UploadWriter();
  Status write(const char* data, std::size_t size);
  Result<std::uint64_t> commit();  // the new offset
  std::uint64_t start() const { return start_; }
  std::uint64_t written() const { return written_; }

 private:
  friend class Store;
  UploadWriter(Store& store, std::string uuid, fs::UniqueFd fd, std::uint64_t start,
               ContentHash hash)
      : store_(store),
        uuid_(std::move(uuid)),
        fd_(std::move(fd)),
        start_(start),
        hash_(std::move(hash)) {}
  Store& store_;
  std::string uuid_;
  fs::UniqueFd fd_;
  std::uint64_t start_;
  std::uint64_t written_ = 0;
  ContentHash hash_;
  bool committed_ = false;
};

class Store {
 public:
  enum class Access { read_write, read_only };
  // Creates the layout and database if missing; checks the directory is usable.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& root,
                                             std::shared_ptr<const Clock> clock = nullptr);
  ~Store();

  const std::filesystem::path& root() const { return root_; }
  EventBus& events() { return events_; }

  // Blobs.
  std::optional<std::uint64_t> blob_size(const std::string& repo, const Digest& digest);
  std::filesystem::path blob_path(const Digest& digest) const;
  Status delete_blob(const std::string& repo, const Digest& digest);
  // Links a blob held by `from` (or, when from is empty, by any repository) into repo.
  bool mount_blob(const std::string& repo, const std::string& from, const Digest& digest);
  // Stores bytes as a blob and links it into repo (used for small blobs and manifests).
  Result<BlobInfo> put_blob(const std::string& repo, std::string_view bytes,
                            DigestAlgorithm algorithm = DigestAlgorithm::sha256);

  // Upload sessions. ALGORITHM is the one the client announced (the running hash uses it);
  // finish_upload accepts a digest of any supported algorithm (another one costs a re-read).
  Result<UploadInfo> start_upload(const std::string& repo,
                                  DigestAlgorithm algorithm = DigestAlgorithm::sha256);
  Result<UploadInfo> upload_status(const std::string& repo, const std::string& uuid);
  // expected_start, when given, must equal the current offset (Content-Range checks).
  Result<std::unique_ptr<UploadWriter>> open_upload(const std::string& repo,
                                                    const std::string& uuid,
                                                    std::optional<std::uint64_t> expected_start);
  Result<BlobInfo> finish_upload(const std::string& repo, const std::string& uuid,
                                 const Digest& expected);
  Status cancel_upload(const std::string& repo, const std::string& uuid);

  // Manifests and tags. reference is a tag or a digest string, already validated by the caller;
  // a manifest pushed by digest may also be tagged with TAGS (the distribution spec's ?tag=),
  // all in one transaction. ORIGIN records who moved the tag: "push", "import" or "heal".
  Result<PutManifestResult> put_manifest(const std::string& repo, const std::string& reference,
                                         std::string_view bytes, std::string_view content_type,
                                         std::string_view origin = "push",
                                         const std::vector<std::string>& tags = {});
  // Who last moved REPO:TAG ("push", "import", "heal"), or nothing for an unknown tag.
  std::optional<std::string> tag_origin(const std::string& repo, const std::string& tag);
  Result<ManifestRecord> get_manifest(const std::string& repo, const std::string& reference);
  Status delete_manifest(const std::string& repo, const std::string& reference);

  // Listings, lexically ordered; n == 0 means no limit.
  Result<std::vector<std::string>> list_tags(const std::string& repo, std::size_t n,
                                             const std::string& last);
  std::vector<std::string> catalog(std::size_t n, const std::string& last);
  std::vector<Referrer> referrers(const std::string& repo, const Digest& subject,
                                  const std::optional<std::string>& artifact_type);

  // Retained digests (for rollback) are never collected.
  Status retain(const std::string& repo, const Digest& digest, const std::string& reason);
  Status release(const std::string& repo, const Digest& digest);

  // Bulk ingest (snapshot imports). adopt_blob_file moves a fully written, synced, verified
  // file on the store's file system into the blob store (or drops it when the blob is there);
  // the caller then records everything in one transaction().
  // sync_directory=false leaves making the rename durable to the caller (one syncfs for many).
  Status adopt_blob_file(const std::filesystem::path& staged, const Digest& digest,
                         bool sync_directory = true);
  bool has_blob_file(const Digest& digest) const;
  // The blob's file is there and the database records it.
  bool has_blob(const Digest& digest);
  // Runs fn inside one write transaction and returns what fn returns (so callers need no
  // error value assigned in advance); an exception rolls everything back.
  template <class Fn>
  auto transaction(Fn&& fn) -> std::invoke_result_t<Fn&, sqlite::Connection&> {
    return returning(
        fn, [this](const std::function<void(sqlite::Connection&)>& f) { run_transaction(f); });
  }
  // Commits only when fn succeeds; a failed Status rolls back.
  Status try_transaction(const std::function<Status(sqlite::Connection&)>& fn);
  // Runs fn on a pooled connection outside any write transaction and returns what fn returns.
  template <class Fn>
  auto read(Fn&& fn) -> std::invoke_result_t<Fn&, sqlite::Connection&> {
    return returning(fn,
                     [this](const std::function<void(sqlite::Connection&)>& f) { run_read(f); });
  }
  // Inside transaction(): link a blob into a repository; record a blob no repository serves
  // (snapshot content); record a validated manifest (its bytes already a blob) and optionally
  // tag it. Returns the tag's previous target.
  void link_blob(sqlite::Connection& c, const std::string& repo, const Digest& digest,
                 std::uint64_t size);
  void record_content_blob(sqlite::Connection& c, const Digest& digest, std::uint64_t size);
  std::optional<std::string> link_manifest(sqlite::Connection& c, const std::string& repo,
                                           const Digest& digest, const oci::Manifest& m,
                                           std::uint64_t size,
                                           const std::optional<std::string>& tag,
                                           std::string_view origin = "push");
  std::int64_t now_seconds() const { return now(); }

  GcReport gc(const GcOptions& options);
  CheckReport check();

 private:
  void run_transaction(const std::function<void(sqlite::Connection&)>& fn);
  void run_read(const std::function<void(sqlite::Connection&)>& fn);
  template <class Fn, class Run>
  static auto returning(Fn& fn, Run&& run) -> std::invoke_result_t<Fn&, sqlite::Connection&> {
    using R = std::invoke_result_t<Fn&, sqlite::Connection&>;
    if constexpr (std::is_void_v<R>) {
      run([&](sqlite::Connection& c) { fn(c); });
    } else {
      std::optional<R> out;
      run([&](sqlite::Connection& c) { out.emplace(fn(c)); });
      return std::move(*out);
    }
  }

  friend class UploadWriter;
  struct UploadState {
    ContentHash hash{DigestAlgorithm::sha256};
    std::uint64_t offset = 0;
    bool busy = false;
    bool known = false;        // offset and hash are this process's (else rebuilt from the file)
    std::int64_t touched = 0;  // the store clock at its last chunk
  };
  std::uint64_t upload_offset(const std::string& uuid);
  class Pool;

  Store(std::filesystem::path root, std::shared_ptr<const Clock> clock);
  std::filesystem::path upload_path(const std::string& uuid) const;
  std::int64_t now() const { return clock_->now_seconds(); }
  std::optional<std::int64_t> repo_id(sqlite::Connection& c, const std::string& repo);
  std::int64_t ensure_repo(sqlite::Connection& c, const std::string& repo);
  Result<std::int64_t> upload_repo_check(sqlite::Connection& c, const std::string& repo,
                                         const std::string& uuid, std::uint64_t* offset);
  // Records a blob (once) and links it into repo; inside the caller's transaction.
  void record_blob(sqlite::Connection& c, const std::string& repo, const Digest& digest,
                   std::uint64_t size);
  // Moves a fully written, synced temporary file into the blob store under its digest.
  Status install_blob_file(const std::filesystem::path& tmp, const Digest& digest,
                           bool sync_directory = true);
  void release_upload(const std::string& uuid);
  std::shared_ptr<const std::string> load_manifest_bytes(const Digest& digest, std::uint64_t size);

  std::filesystem::path root_;
  std::shared_ptr<const Clock> clock_;
  std::unique_ptr<Pool> pool_;
  EventBus events_;

  std::mutex uploads_mu_;
  std::unordered_map<std::string, UploadState> uploads_;

  // Manifests are immutable by digest: keep recently served ones in memory.
  std::mutex cache_mu_;
  std::list<std::pair<std::string, std::shared_ptr<const std::string>>> lru_;
  std::unordered_map<std::string, decltype(lru_)::iterator> lru_index_;
  std::size_t cache_bytes_ = 0;
  static constexpr std::size_t kCacheLimit = 64u << 20;
};

}  // namespace airheal::store
