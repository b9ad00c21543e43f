// The scanner: inventories images (layers read once, cached by digest), matches them against the
// advisory database, stores findings, attaches SBOMs as OCI referrers, and keeps everything
// current: images are scanned when pushed or imported, and an advisory import re-matches only
// the images holding a package whose advisories changed (reverse index on match keys).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "audit/journal.hpp"
#include "core/digest.hpp"
#include "core/result.hpp"
#include "core/worker.hpp"
#include "scan/inventory.hpp"
#include "scan/layer.hpp"
#include "scan/match.hpp"
#include "store/store.hpp"

namespace airheal::scan {

struct ScannerOptions {
  LayerReadOptions layer;
  bool sboms = true;
  std::chrono::milliseconds poll{2000};
  std::string tool_version = AIRHEAL_VERSION;
  std::string actor = "airheald";
};

struct ScanReport {
  std::string manifest;
  std::size_t layers = 0, layers_read = 0, layers_cached = 0;
  std::uint64_t bytes_read = 0;
  std::size_t components = 0, findings = 0;
  bool inventory_cached = false;   // the image itself was already inventoried
  std::vector<std::string> sboms;  // referrer manifest digests attached
  double seconds = 0;
};

struct RematchReport {
  std::size_t keys_changed = 0;
  std::size_t images = 0;
  std::size_t findings = 0;
  double seconds = 0;
};

class Scanner {
 public:
  Scanner(store::Store& store, audit::Journal* journal, ScannerOptions options = {});
  ~Scanner();

  // REPO:TAG, REPO@sha256:..., or a bare sha256:... digest of a manifest in the store.
  Result<Digest> resolve(const std::string& reference);
  // Scans one manifest (an index: each image in it). force re-reads layers and the inventory.
  Result<std::vector<ScanReport>> scan(const Digest& manifest, bool force = false);
  // Every image manifest that has no inventory yet (pushed or imported since the last pass).
  std::vector<ScanReport> scan_pending();
  // Re-matches the images affected by advisory (or imported package) changes since last time.
  RematchReport rematch_changed();
  // Re-matches one image from its stored inventory.
  Result<std::size_t> rematch(const std::string& manifest);

  // Background worker: woken by registry events, and polls for imports made by other processes.
  void start();
  void stop();
  void notify();

  std::size_t layers_read_total() const { return layers_read_.load(); }

  // The image's final filesystem with the layer index that provides each path (from the layer
  // cache; layers not cached yet are read). For the heal engine and `airhealctl inventory --files`.
  Result<std::map<std::string, FinalFile>> image_files(const Digest& manifest);

 private:
  Result<ScanReport> scan_image(const Digest& manifest, const oci::Manifest& m,
                                const std::string& media_type, std::uint64_t size, bool force);
  std::size_t store_findings(const std::string& manifest, const ImageInventory& inv,
                             const std::vector<Finding>& f);
  std::vector<std::string> attach_sboms(const std::string& manifest, const std::string& media_type,
                                        std::uint64_t size, const ImageInventory& inv,
                                        std::int64_t created);
  std::string change_marker();
  void ensure_sboms();
  void pass();
  void journal(nlohmann::json record);

  store::Store& store_;
  audit::Journal* journal_;
  ScannerOptions options_;
  std::mutex scan_mu_;  // one scan or re-match at a time in this process
  std::atomic<std::size_t> layers_read_{0};
  std::set<std::string> failed_;  // manifests that cannot be scanned (not images): not retried
  // Decoded layer inventories, so a base shared by many images is decoded once per process too.
  std::shared_ptr<const LayerInventory> cached_layer(const std::string& digest);
  void remember_layer(const std::string& digest, std::shared_ptr<const LayerInventory> inv);
  std::map<std::string, std::shared_ptr<const LayerInventory>> layer_memo_;
  std::list<std::string> layer_memo_order_;

  std::string last_marker_;
  PollingWorker worker_;  // last: stopped before the members its passes use go away
};

struct FindingsQuery {
  std::vector<std::string> manifests;  // empty: every image still in the registry
  std::string min_severity;            // "" = all
  bool include_suppressed = false;
};
// Findings as JSON objects (image, component, advisory, fix, suppression), most severe first.
nlohmann::json list_findings(sqlite::Connection& c, const FindingsQuery& q, std::int64_t now);

}  // namespace airheal::scan
