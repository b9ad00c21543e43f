#include "scan/scanner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "advisory/advisory_repository.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"
#include "scan/findings_repository.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/layer_cache_repository.hpp"
#include "scan/sbom.hpp"
#include "scan/vex.hpp"
#include "scan/vex_repository.hpp"
#include "store/catalog.hpp"
#include "store/content_repository.hpp"

namespace airheal::scan {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool is_image_config(const std::string& media_type) {
  return media_type == oci::media::kOciConfig || media_type == oci::media::kDockerConfig;
}

}  // namespace

Scanner::Scanner(store::Store& store, audit::Journal* journal, ScannerOptions options)
    : store_(store),
      journal_(journal),
      options_(std::move(options)),
      worker_("scanner", options_.poll, [this] { pass(); }) {}

Scanner::~Scanner() { stop(); }

void Scanner::journal(nlohmann::json record) {
  if (!journal_) return;
  record["actor"] = options_.actor;
  if (auto st = journal_->append(std::move(record)); !st)
    spdlog::warn("journal: {}", st.error().message);
}

Result<Digest> Scanner::resolve(const std::string& ref) {
  if (ref.rfind("sha256:", 0) == 0 || ref.rfind("@sha256:", 0) == 0 ||
      ref.rfind("sha512:", 0) == 0 || ref.rfind("@sha512:", 0) == 0) {
    auto d = Digest::parse(ref[0] == '@' ? ref.substr(1) : ref);
    if (!d) return make_error(Errc::invalid_argument, "'" + ref + "' is not a valid digest");
    bool known = store_.read(
        [&](sqlite::Connection& c) { return store::manifest_type(c, d->str()).has_value(); });
    if (!known)
      return make_error(Errc::manifest_unknown, "no manifest " + d->str() + " in the registry");
    return *d;
  }
  std::string repo, reference;
  if (auto at = ref.find('@'); at != std::string::npos) {
    repo = ref.substr(0, at);
    reference = ref.substr(at + 1);
  } else {
    auto slash = ref.rfind('/');
    auto colon = ref.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
      repo = ref.substr(0, colon);
      reference = ref.substr(colon + 1);
    } else {
      repo = ref;
      reference = "latest";
    }
  }
  if (!oci::is_valid_repository_name(repo))
    return make_error(Errc::name_invalid, "'" + repo + "' is not a repository name");
  auto m = store_.get_manifest(repo, reference);
  if (!m)
    return make_error(Errc::manifest_unknown, repo + ":" + reference + ": " + m.error().message);
  return m->digest;
}

Result<std::vector<ScanReport>> Scanner::scan(const Digest& manifest, bool force) {
  std::lock_guard lock(scan_mu_);
  auto type =
      store_.read([&](sqlite::Connection& c) { return store::manifest_type(c, manifest.str()); });
  if (!type)
    return make_error(Errc::manifest_unknown, "no manifest " + manifest.str() + " in the registry");
  auto bytes = fs::read_file(store_.blob_path(manifest), 8u << 20);
  if (!bytes)
    return make_error(Errc::io_error,
                      "cannot read manifest " + manifest.str() + ": " + bytes.error().message);
  const auto& media_type = type->media_type;
  auto size = type->size;
  auto m = oci::parse_manifest(*bytes, media_type);
  if (!m) return make_error(Errc::manifest_invalid, manifest.str() + ": " + m.error().message);
  std::vector<ScanReport> out;
  if (m->is_index) {
    for (const auto& child : m->manifests) {
      bool known = store_.read([&](sqlite::Connection& c) {
        return store::manifest_type(c, child.digest.str()).has_value();
      });
      if (!known) continue;  // platforms not mirrored
      auto cb = fs::read_file(store_.blob_path(child.digest), 8u << 20);
      if (!cb) continue;
      auto cm = oci::parse_manifest(*cb, child.media_type);
      if (!cm || cm->is_index || !cm->config || !is_image_config(cm->config->media_type)) continue;
      auto r = scan_image(child.digest, *cm, child.media_type,
                          static_cast<std::uint64_t>(child.size), force);
      if (!r) return r.error();
      out.push_back(std::move(*r));
    }
    return out;
  }
  if (m->subject || !m->config || !is_image_config(m->config->media_type))
    return make_error(Errc::unsupported, manifest.str() +
                                             " is not a container image (artifact type " +
                                             m->artifact_type.value_or("none") + ")");
  auto r = scan_image(manifest, *m, media_type, static_cast<std::uint64_t>(size), force);
  if (!r) return r.error();
  out.push_back(std::move(*r));
  return out;
}

Result<ScanReport> Scanner::scan_image(const Digest& manifest, const oci::Manifest& m,
                                       const std::string& media_type, std::uint64_t size,
                                       bool force) {
  auto t0 = Clock::now();
  ScanReport report;
  report.manifest = manifest.str();
  report.layers = m.layers.size();
  std::optional<ImageInventory> existing;
  if (!force)
    store_.read(
        [&](sqlite::Connection& c) { existing = InventoryRepository::load(c, manifest.str()); });
  ImageInventory inv;
  bool fresh = !existing;
  if (existing) {
    inv = std::move(*existing);
    report.inventory_cached = true;
    report.layers_cached = report.layers;
  } else {
    std::vector<std::shared_ptr<const LayerInventory>> layers(m.layers.size());
    std::vector<std::string> digests;
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      const auto& d = m.layers[i];
      digests.push_back(d.digest.str());
      if (!force) {
        if (auto hit = cached_layer(d.digest.str())) {
          layers[i] = std::move(hit);
          ++report.layers_cached;
          continue;
        }
        std::optional<LayerInventory> cached;
        store_.read([&](sqlite::Connection& c) { cached = LayerCache::get(c, d.digest.str()); });
        if (cached) {
          layers[i] = std::make_shared<const LayerInventory>(std::move(*cached));
          remember_layer(d.digest.str(), layers[i]);
          ++report.layers_cached;
          continue;
        }
      }
      if (!store_.has_blob_file(d.digest))
        return make_error(Errc::blob_unknown, "layer " + d.digest.str() + " of " + manifest.str() +
                                                  " is not in the store");
      auto li = read_layer(store_.blob_path(d.digest), options_.layer);
      if (!li) return make_error(li.error().code, manifest.str() + ": " + li.error().message);
      ++report.layers_read;
      ++layers_read_;
      report.bytes_read += li->bytes_read;
      auto now = store_.now_seconds();
      store_.transaction(
          [&](sqlite::Connection& c) { LayerCache::put(c, d.digest.str(), *li, now); });
      layers[i] = std::make_shared<const LayerInventory>(std::move(*li));
      remember_layer(d.digest.str(), layers[i]);
    }
    std::vector<const LayerInventory*> ptrs;
    for (const auto& l : layers) ptrs.push_back(l.get());
    inv = merge(digests, ptrs);
  }
  std::vector<Finding> findings;
  store_.read([&](sqlite::Connection& c) { findings = match(c, inv); });
  auto now = store_.now_seconds();
  std::int64_t created = now;
  store_.transaction([&](sqlite::Connection& c) {
    if (auto first = InventoryRepository::scanned_at(c, manifest.str())) created = *first;
    if (fresh) {
      FindingsRepository::remove(c, manifest.str());
      InventoryRepository::save(c, manifest.str(), inv, created, now);
    }
  });
  report.components = inv.components.size();
  report.findings = store_findings(manifest.str(), inv, findings);
  if (fresh && options_.sboms)
    report.sboms = attach_sboms(manifest.str(), media_type, size, inv, created);
  report.seconds = since(t0);
  journal({{"type", "image.scanned"},
           {"manifest", manifest.str()},
           {"components", report.components},
           {"findings", report.findings},
           {"layers_read", report.layers_read},
           {"layers_cached", report.layers_cached},
           {"sboms", report.sboms}});
  return report;
}

std::size_t Scanner::store_findings(const std::string& manifest, const ImageInventory& inv,
                                    const std::vector<Finding>& fs) {
  auto now = store_.now_seconds();
  store_.transaction([&](sqlite::Connection& c) {
    FindingsRepository::replace(c, manifest, fs, now);
    InventoryRepository::set_matched(c, manifest, now);
  });
  (void)inv;
  return fs.size();
}

std::vector<std::string> Scanner::attach_sboms(const std::string& manifest,
                                               const std::string& media_type, std::uint64_t size,
                                               const ImageInventory& inv, std::int64_t created) {
  std::vector<std::string> out;
  std::vector<std::string> repos, tags;
  store_.read([&](sqlite::Connection& c) {
    repos = store::repositories_of(c, manifest);
    tags = store::tags_of(c, manifest);
  });
  auto subject = Digest::parse(manifest);
  for (const auto& repo : repos) {
    SbomSubject s{repo, manifest, tags, created, options_.tool_version};
    for (auto [type, doc] : {std::pair{kCycloneDxMediaType, cyclonedx(inv, s)},
                             std::pair{kSpdxMediaType, spdx(inv, s)}}) {
      // One SBOM of each format per image and repository, whoever scanned it first.
      if (subject && !store_.referrers(repo, *subject, std::string(type)).empty()) continue;
      auto bytes = doc.dump();
      auto empty = store_.put_blob(repo, "{}");
      auto blob = store_.put_blob(repo, bytes);
      if (!empty || !blob) {
        spdlog::warn("sbom for {} in {}: cannot store blob", manifest, repo);
        continue;
      }
      auto am = artifact_manifest(
          type, blob->digest.str(), blob->size, media_type, manifest, size,
          {{"org.opencontainers.image.created", rfc3339(created)},
           {"dev.airheal.sbom.format",
            std::string(type) == kCycloneDxMediaType ? "CycloneDX 1.5" : "SPDX 2.3"}});
      auto am_bytes = am.dump();
      auto d = Sha256::of(am_bytes);
      auto r = store_.put_manifest(repo, d.str(), am_bytes, oci::media::kOciManifest);
      if (!r) {
        spdlog::warn("sbom for {} in {}: {}", manifest, repo, r.error().message);
        continue;
      }
      out.push_back(d.str());
    }
  }
  return out;
}

Result<std::map<std::string, FinalFile>> Scanner::image_files(const Digest& manifest) {
  auto layers_of = [&] {
    return store_.read(
        [&](sqlite::Connection& c) { return InventoryRepository::layers(c, manifest.str()); });
  };
  auto layers = layers_of();
  if (layers.empty()) {
    auto r = scan(manifest);
    if (!r) return r.error();
    layers = layers_of();
    if (layers.empty())
      return make_error(Errc::unsupported, manifest.str() + " has no layers to list (an index?)");
  }
  std::vector<std::shared_ptr<const LayerInventory>> held;
  std::vector<const LayerInventory*> ptrs;
  for (const auto& d : layers) {
    auto inv = cached_layer(d);
    if (!inv) {
      std::optional<LayerInventory> got;
      store_.read([&](sqlite::Connection& c) { got = LayerCache::get(c, d); });
      if (!got) {
        auto digest = Digest::parse(d);
        if (!digest || !store_.has_blob_file(*digest))
          return make_error(Errc::blob_unknown, "layer " + d + " is not in the store");
        auto li = read_layer(store_.blob_path(*digest), options_.layer);
        if (!li) return li.error();
        got = std::move(*li);
      }
      inv = std::make_shared<const LayerInventory>(std::move(*got));
      remember_layer(d, inv);
    }
    held.push_back(inv);
    ptrs.push_back(inv.get());
  }
  return merge_files(ptrs);
}

Result<std::size_t> Scanner::rematch(const std::string& manifest) {
  std::optional<ImageInventory> inv;
  std::vector<Finding> findings;
  store_.read([&](sqlite::Connection& c) {
    inv = InventoryRepository::load(c, manifest);
    if (inv) findings = match(c, *inv);
  });
  if (!inv) return make_error(Errc::not_found, manifest + " has not been scanned");
  return store_findings(manifest, *inv, findings);
}

// Cheap test for "something that matching depends on changed": snapshots and imported packages.
std::string Scanner::change_marker() {
  return store_.read([&](sqlite::Connection& c) {
    return store::ContentRepository::import_marker(c) + "|" + std::to_string(advisory::count(c));
  });
}

RematchReport Scanner::rematch_changed() {
  std::lock_guard lock(scan_mu_);
  auto t0 = Clock::now();
  RematchReport report;
  // Fingerprint what the advisory database says per match key, and the imported packages.
  std::map<std::pair<std::string, std::string>, std::string> fresh;
  std::map<std::pair<std::string, std::string>, std::string> stored;
  Sha256 packages;
  store_.read([&](sqlite::Connection& c) {
    fresh = advisory::fingerprints_by_key(c);
    // In the order the fingerprint has always been taken in (a different order would re-match
    // every image once after an upgrade).
    auto rows = store::ContentRepository::fixes(c);
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return std::tie(a.kind, a.name, a.version, a.channel, a.digest) <
             std::tie(b.kind, b.name, b.version, b.channel, b.digest);
    });
    for (const auto& r : rows)
      for (const auto* field : {&r.name, &r.version, &r.metadata, &r.channel, &r.kind, &r.digest}) {
        packages.update(*field);
        packages.update(std::string_view("\0", 1));
      }
    stored = FindingsRepository::key_fingerprints(c);
  });
  fresh[{"", "(imported packages)"}] = packages.finish().hex();
  std::vector<std::pair<std::string, std::string>> changed;
  for (const auto& [k, fp] : fresh) {
    auto it = stored.find(k);
    if (it == stored.end() || it->second != fp) changed.push_back(k);
  }
  for (const auto& [k, fp] : stored)
    if (!fresh.count(k)) changed.push_back(k);
  report.keys_changed = changed.size();
  std::set<std::string> images;
  store_.read([&](sqlite::Connection& c) {
    for (const auto& [eco, pkg] : changed) {
      if (eco.empty()) {  // imported packages changed: images with findings waiting for a fix
        auto waiting = FindingsRepository::waiting_for_fix(c);
        images.insert(waiting.begin(), waiting.end());
        continue;
      }
      for (auto& m : InventoryRepository::images_with(c, eco, pkg)) images.insert(std::move(m));
    }
  });
  for (const auto& m : images) {
    auto r = rematch(m);
    if (r) report.findings += *r;
  }
  report.images = images.size();
  if (!changed.empty()) {
    store_.transaction([&](sqlite::Connection& c) {
      for (const auto& k : changed) {
        auto it = fresh.find(k);
        FindingsRepository::set_key_fingerprint(
            c, k.first, k.second,
            it == fresh.end() ? std::nullopt : std::optional<std::string>(it->second));
      }
    });
  }
  report.seconds = since(t0);
  if (report.images)
    journal({{"type", "findings.rematched"},
             {"keys_changed", report.keys_changed},
             {"images", report.images},
             {"findings", report.findings}});
  return report;
}

std::vector<ScanReport> Scanner::scan_pending() {
  auto pending =
      store_.read([](sqlite::Connection& c) { return InventoryRepository::unscanned(c); });
  // Inventories of manifests that left the registry go with them.
  store_.transaction([&](sqlite::Connection& c) {
    FindingsRepository::prune(c);
    InventoryRepository::prune(c);
  });
  std::vector<ScanReport> out;
  if (options_.sboms) ensure_sboms();
  for (const auto& p : pending) {
    if (failed_.count(p)) continue;
    auto d = Digest::parse(p);
    if (!d) continue;
    auto r = scan(*d);
    if (!r) {
      if (r.error().code != Errc::unsupported) spdlog::warn("scan {}: {}", p, r.error().message);
      failed_.insert(p);
      continue;
    }
    for (auto& x : *r) {
      spdlog::info("scanned {}: {} components, {} findings ({} layers read, {} cached) in {:.2f}s",
                   x.manifest, x.components, x.findings, x.layers_read, x.layers_cached, x.seconds);
      out.push_back(std::move(x));
    }
  }
  return out;
}

// Images linked into another repository after their scan (a snapshot carrying an image the
// registry already had) get their SBOMs there too.
void Scanner::ensure_sboms() {
  auto missing = store_.read([](sqlite::Connection& c) {
    return InventoryRepository::without_referrer(c, kCycloneDxMediaType);
  });
  for (const auto& m : missing) {
    std::optional<ImageInventory> inv;
    std::int64_t created = 0;
    store_.read([&](sqlite::Connection& c) {
      inv = InventoryRepository::load(c, m.manifest);
      created = InventoryRepository::scanned_at(c, m.manifest).value_or(0);
    });
    if (inv)
      attach_sboms(m.manifest, m.media_type, static_cast<std::uint64_t>(m.size), *inv, created);
  }
}

std::shared_ptr<const LayerInventory> Scanner::cached_layer(const std::string& digest) {
  auto it = layer_memo_.find(digest);
  return it == layer_memo_.end() ? nullptr : it->second;
}

void Scanner::remember_layer(const std::string& digest, std::shared_ptr<const LayerInventory> inv) {
  if (layer_memo_.emplace(digest, std::move(inv)).second) layer_memo_order_.push_back(digest);
  while (layer_memo_order_.size() > 32) {  // bounded: a few large bases stay decoded
    layer_memo_.erase(layer_memo_order_.front());
    layer_memo_order_.pop_front();
  }
}

void Scanner::start() { worker_.start(); }
void Scanner::stop() { worker_.stop(); }
void Scanner::notify() { worker_.notify(); }

void Scanner::pass() {
  scan_pending();
  auto marker = change_marker();
  if (marker != last_marker_) {
    auto r = rematch_changed();
    last_marker_ = marker;
    if (r.images)
      spdlog::info(
          "advisories changed for {} packages: re-matched {} images ({} findings) in {:.2f}s",
          r.keys_changed, r.images, r.findings, r.seconds);
  }
}

nlohmann::json list_findings(sqlite::Connection& c, const FindingsQuery& q, std::int64_t now) {
  auto vex = list_vex(c, false);
  auto exceptions = list_exceptions(c, false, now);
  std::vector<std::string> manifests = q.manifests;
  if (manifests.empty()) manifests = InventoryRepository::served(c);
  auto out = nlohmann::json::array();
  int min_rank = q.min_severity.empty() ? 0 : severity_rank(q.min_severity);
  for (const auto& m : manifests) {
    auto names = store::image_names(c, m);
    auto comps = InventoryRepository::components(c, m);
    for (const auto& row : FindingsRepository::of_image(c, m)) {
      if (severity_rank(row.severity) < min_rank) continue;
      const auto& comp = comps[row.component];
      FindingSubject subj;
      subj.ids.push_back(row.advisory_id);
      subj.ids.insert(subj.ids.end(), row.aliases.begin(), row.aliases.end());
      subj.manifest = m;
      subj.products = names;
      subj.components = {comp.name, comp.source, comp.purl};
      auto sup = suppression(vex, exceptions, subj, now);
      if (sup && !q.include_suppressed) continue;
      nlohmann::json f = {{"image", m},
                          {"names", names},
                          {"package", comp.name},
                          {"type", comp.type},
                          {"ecosystem", comp.ecosystem},
                          {"source", comp.source},
                          {"version", comp.version},
                          {"arch", comp.arch},
                          {"installed", row.installed},
                          {"layer", comp.layer},
                          {"location", comp.location},
                          {"purl", comp.purl},
                          {"advisory", row.advisory_id},
                          {"aliases", row.aliases},
                          {"channel", row.channel},
                          {"advisory_source", row.source},
                          {"severity", row.severity},
                          {"fixed", row.fixed},
                          {"vendor_status", row.vendor_status},
                          {"fix_available", row.fix_available},
                          {"summary", row.summary},
                          {"first_seen", rfc3339(row.first_seen)}};
      if (row.score) f["score"] = *row.score;
      if (!row.published.empty()) f["published"] = row.published;
      if (sup) f["suppressed"] = {{"by", sup->kind}, {"id", sup->id}, {"detail", sup->detail}};
      auto notes = annotations(vex, subj);
      if (!notes.empty()) {
        auto a = nlohmann::json::array();
        for (const auto* s : notes) a.push_back(to_json(*s));
        f["vex"] = a;
      }
      out.push_back(std::move(f));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    auto ra = severity_rank(a["severity"]), rb = severity_rank(b["severity"]);
    if (ra != rb) return ra > rb;
    if (a["image"] != b["image"])
      return a["image"].get<std::string>() < b["image"].get<std::string>();
    if (a["package"] != b["package"])
      return a["package"].get<std::string>() < b["package"].get<std::string>();
    return a["advisory"].get<std::string>() < b["advisory"].get<std::string>();
  });
  return out;
}

}  // namespace airheal::scan
