#include "scan/scanner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "core/fs.hpp"
#include "core/oci.hpp"
#include "scan/sbom.hpp"
#include "scan/vex.hpp"

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
    bool known = false;
    store_.read([&](sqlite::Connection& c) {
      auto st = c.prepare("SELECT 1 FROM manifests WHERE digest = ?");
      st.bind(1, d->str());
      known = st.step();
    });
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

std::optional<ImageInventory> load_inventory(sqlite::Connection& c, const std::string& manifest) {
  auto st = c.prepare(
      "SELECT os, layers, files, problems FROM image_inventory WHERE manifest = ? AND parser = ?");
  st.bind(1, manifest).bind(2, std::int64_t{kLayerParserVersion});
  if (!st.step()) return std::nullopt;
  ImageInventory inv;
  auto os = nlohmann::json::parse(st.get_text(0));
  inv.os.id = os.value("id", "");
  inv.os.version_id = os.value("version_id", "");
  inv.os.codename = os.value("codename", "");
  inv.os.pretty_name = os.value("pretty_name", "");
  inv.layers = nlohmann::json::parse(st.get_text(1)).get<std::vector<std::string>>();
  inv.files = static_cast<std::size_t>(st.get_int(2));
  inv.problems = nlohmann::json::parse(st.get_text(3)).get<std::vector<std::string>>();
  auto cs = c.prepare("SELECT data FROM image_components WHERE manifest = ? ORDER BY idx");
  cs.bind(1, manifest);
  while (cs.step())
    inv.components.push_back(Component::from_json(nlohmann::json::parse(cs.get_text(0))));
  return inv;
}

std::optional<std::int64_t> scanned_at(sqlite::Connection& c, const std::string& manifest) {
  auto q = c.prepare("SELECT scanned_at FROM image_inventory WHERE manifest = ?");
  q.bind(1, manifest);
  if (q.step()) return q.get_int(0);
  return std::nullopt;
}

std::vector<std::string> index_children(sqlite::Connection& c, const std::string& manifest,
                                        bool inventoried) {
  auto q = c.prepare(
      inventoried
          ? "SELECT child FROM manifest_refs r JOIN image_inventory i ON i.manifest = r.child "
            "WHERE r.manifest = ? AND r.kind = 'manifest'"
          : "SELECT child FROM manifest_refs WHERE manifest = ? AND kind = 'manifest'");
  q.bind(1, manifest);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.get_text(0));
  return out;
}

std::vector<std::string> image_names(sqlite::Connection& c, const std::string& manifest) {
  std::vector<std::string> out;
  std::vector<std::string> digests = {manifest};
  auto parents =
      c.prepare("SELECT manifest FROM manifest_refs WHERE child = ? AND kind = 'manifest'");
  parents.bind(1, manifest);
  while (parents.step()) digests.push_back(parents.get_text(0));
  for (const auto& d : digests) {
    auto st = c.prepare(
        "SELECT r.name FROM repo_manifests rm JOIN repositories r ON r.id = rm.repo_id WHERE "
        "rm.digest = ? ORDER BY r.name");
    st.bind(1, d);
    while (st.step()) {
      auto n = st.get_text(0);
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    }
    auto tags = c.prepare(
        "SELECT r.name, t.name FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE t.digest "
        "= ? ORDER BY r.name, t.name");
    tags.bind(1, d);
    while (tags.step()) out.push_back(tags.get_text(0) + ":" + tags.get_text(1));
  }
  return out;
}

Result<std::vector<ScanReport>> Scanner::scan(const Digest& manifest, bool force) {
  std::lock_guard lock(scan_mu_);
  std::string media_type;
  std::int64_t size = -1;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT media_type, size FROM manifests WHERE digest = ?");
    st.bind(1, manifest.str());
    if (st.step()) {
      media_type = st.get_text(0);
      size = st.get_int(1);
    }
  });
  if (size < 0)
    return make_error(Errc::manifest_unknown, "no manifest " + manifest.str() + " in the registry");
  auto bytes = fs::read_file(store_.blob_path(manifest), 8u << 20);
  if (!bytes)
    return make_error(Errc::io_error,
                      "cannot read manifest " + manifest.str() + ": " + bytes.error().message);
  auto m = oci::parse_manifest(*bytes, media_type);
  if (!m) return make_error(Errc::manifest_invalid, manifest.str() + ": " + m.error().message);
  std::vector<ScanReport> out;
  if (m->is_index) {
    for (const auto& child : m->manifests) {
      bool known = false;
      store_.read([&](sqlite::Connection& c) {
        auto st = c.prepare("SELECT 1 FROM manifests WHERE digest = ?");
        st.bind(1, child.digest.str());
        known = st.step();
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
    store_.read([&](sqlite::Connection& c) { existing = load_inventory(c, manifest.str()); });
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
    auto first = c.prepare("SELECT scanned_at FROM image_inventory WHERE manifest = ?");
    first.bind(1, manifest.str());
    if (first.step()) created = first.get_int(0);
    if (fresh) {
      nlohmann::json os = {{"id", inv.os.id},
                           {"version_id", inv.os.version_id},
                           {"codename", inv.os.codename},
                           {"pretty_name", inv.os.pretty_name}};
      c.prepare("DELETE FROM findings WHERE manifest = ?").bind(1, manifest.str()).run();
      c.prepare("DELETE FROM image_components WHERE manifest = ?").bind(1, manifest.str()).run();
      c.prepare(
           "INSERT OR REPLACE INTO image_inventory (manifest, parser, os, layers, files, problems, "
           "scanned_at, matched_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
          .bind(1, manifest.str())
          .bind(2, std::int64_t{kLayerParserVersion})
          .bind(3, os.dump())
          .bind(4, nlohmann::json(inv.layers).dump())
          .bind(5, static_cast<std::int64_t>(inv.files))
          .bind(6, nlohmann::json(inv.problems).dump())
          .bind(7, created)
          .bind(8, now)
          .run();
      for (std::size_t i = 0; i < inv.components.size(); ++i) {
        const auto& comp = inv.components[i];
        auto key = match_key(comp);
        c.prepare(
             "INSERT INTO image_components (manifest, idx, type, ecosystem, name, version, source, "
             "source_version, "
             "match_ecosystem, match_package, purl, layer, location, data) VALUES (?, ?, ?, ?, ?, "
             "?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(1, manifest.str())
            .bind(2, static_cast<std::int64_t>(i))
            .bind(3, comp.type)
            .bind(4, comp.ecosystem)
            .bind(5, comp.name)
            .bind(6, comp.version)
            .bind(7, comp.source)
            .bind(8, comp.source_version)
            .bind(9, key.ecosystem)
            .bind(10, key.package)
            .bind(11, comp.purl)
            .bind(12, comp.layer)
            .bind(13, comp.location)
            .bind(14, comp.to_json().dump())
            .run();
      }
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
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> first_seen;
    auto old =
        c.prepare("SELECT component, advisory_id, first_seen FROM findings WHERE manifest = ?");
    old.bind(1, manifest);
    while (old.step()) first_seen[{old.get_int(0), old.get_text(1)}] = old.get_int(2);
    c.prepare("DELETE FROM findings WHERE manifest = ?").bind(1, manifest).run();
    for (const auto& f : fs) {
      auto it = first_seen.find({static_cast<std::int64_t>(f.component), f.advisory_id});
      auto ins = c.prepare(
          "INSERT OR REPLACE INTO findings (manifest, component, advisory_id, aliases, channel, "
          "source, severity, score, installed, "
          "fixed, vendor_status, fix_available, summary, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, "
          "?, ?, ?, ?, ?, ?, ?)");
      ins.bind(1, manifest)
          .bind(2, static_cast<std::int64_t>(f.component))
          .bind(3, f.advisory_id)
          .bind(4, nlohmann::json(f.aliases).dump())
          .bind(5, f.channel)
          .bind(6, f.source)
          .bind(7, f.severity);
      if (f.score)
        ins.bind(8, std::to_string(*f.score));
      else
        ins.bind_null(8);
      ins.bind(9, f.installed)
          .bind(10, f.fixed)
          .bind(11, f.vendor_status)
          .bind(12, f.fix_available)
          .bind(13, f.summary.substr(0, 500))
          .bind(14, it == first_seen.end() ? now : it->second)
          .run();
    }
    c.prepare("UPDATE image_inventory SET matched_at = ? WHERE manifest = ?")
        .bind(1, now)
        .bind(2, manifest)
        .run();
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
    auto st = c.prepare(
        "SELECT r.name FROM repo_manifests rm JOIN repositories r ON r.id = rm.repo_id WHERE "
        "rm.digest = ? ORDER BY r.name");
    st.bind(1, manifest);
    while (st.step()) repos.push_back(st.get_text(0));
    auto t = c.prepare("SELECT t.name FROM tags t WHERE t.digest = ? ORDER BY t.name");
    t.bind(1, manifest);
    while (t.step()) tags.push_back(t.get_text(0));
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
  std::vector<std::string> layers;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT layers FROM image_inventory WHERE manifest = ?");
    st.bind(1, manifest.str());
    if (st.step()) layers = nlohmann::json::parse(st.get_text(0)).get<std::vector<std::string>>();
  });
  if (layers.empty()) {
    auto r = scan(manifest);
    if (!r) return r.error();
    store_.read([&](sqlite::Connection& c) {
      auto st = c.prepare("SELECT layers FROM image_inventory WHERE manifest = ?");
      st.bind(1, manifest.str());
      if (st.step()) layers = nlohmann::json::parse(st.get_text(0)).get<std::vector<std::string>>();
    });
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
    inv = load_inventory(c, manifest);
    if (inv) findings = match(c, *inv);
  });
  if (!inv) return make_error(Errc::not_found, manifest + " has not been scanned");
  return store_findings(manifest, *inv, findings);
}

// Cheap test for "something that matching depends on changed": snapshots and imported packages.
std::string Scanner::change_marker() {
  std::string marker;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(
        "SELECT (SELECT count(*) || '/' || ifnull(max(imported_at), 0) FROM snapshots), "
        "(SELECT count(*) FROM content WHERE kind IN ('package', 'artifact')), (SELECT count(*) "
        "FROM advisories)");
    if (st.step()) marker = st.get_text(0) + "|" + st.get_text(1) + "|" + st.get_text(2);
  });
  return marker;
}

RematchReport Scanner::rematch_changed() {
  std::lock_guard lock(scan_mu_);
  auto t0 = Clock::now();
  RematchReport report;
  // Fingerprint what the advisory database says per match key, and the imported packages.
  std::map<std::pair<std::string, std::string>, Sha256> now_keys;
  std::map<std::pair<std::string, std::string>, std::string> stored;
  Sha256 packages;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(
        "SELECT af.ecosystem, af.package, a.channel, a.source, a.advisory_id, a.modified, "
        "a.withdrawn, a.severity, af.data "
        "FROM advisory_affected af JOIN advisories a ON a.id = af.advisory ORDER BY a.channel, "
        "a.source, a.advisory_id, af.rowid");
    while (st.step()) {
      auto eco = st.get_text(0);
      auto base = eco.substr(0, eco.find(':'));
      auto& h = now_keys[{base, st.get_text(1)}];
      for (int i = 0; i < 9; ++i) {
        h.update(st.get_text(i));
        h.update(std::string_view("\0", 1));
      }
    }
    auto pk = c.prepare(
        "SELECT name, version, metadata, channel, kind, digest FROM content WHERE kind IN "
        "('package', 'artifact') "
        "ORDER BY kind, name, version, channel, digest");
    while (pk.step())
      for (int i = 0; i < 6; ++i) {
        packages.update(pk.get_text(i));
        packages.update(std::string_view("\0", 1));
      }
    auto s = c.prepare("SELECT ecosystem, package, fingerprint FROM advisory_keys");
    while (s.step()) stored[{s.get_text(0), s.get_text(1)}] = s.get_text(2);
  });
  std::map<std::pair<std::string, std::string>, std::string> fresh;
  for (auto& [k, h] : now_keys) fresh[k] = h.finish().hex();
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
        auto st = c.prepare(
            "SELECT DISTINCT manifest FROM findings WHERE fix_available IN ('none', 'artifact')");
        while (st.step()) images.insert(st.get_text(0));
        continue;
      }
      auto st = c.prepare(
          "SELECT DISTINCT manifest FROM image_components WHERE match_ecosystem = ? AND "
          "match_package = ?");
      st.bind(1, eco).bind(2, pkg);
      while (st.step()) images.insert(st.get_text(0));
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
        if (it == fresh.end())
          c.prepare("DELETE FROM advisory_keys WHERE ecosystem = ? AND package = ?")
              .bind(1, k.first)
              .bind(2, k.second)
              .run();
        else
          c.prepare(
               "INSERT OR REPLACE INTO advisory_keys (ecosystem, package, fingerprint) VALUES (?, "
               "?, ?)")
              .bind(1, k.first)
              .bind(2, k.second)
              .bind(3, it->second)
              .run();
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
  std::vector<std::string> pending;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(
        "SELECT m.digest FROM manifests m WHERE m.subject IS NULL AND m.media_type IN (?, ?) AND "
        "NOT EXISTS "
        "(SELECT 1 FROM image_inventory i WHERE i.manifest = m.digest AND i.parser = ?) ORDER BY "
        "m.created_at");
    st.bind(1, oci::media::kOciManifest)
        .bind(2, oci::media::kDockerManifest)
        .bind(3, std::int64_t{kLayerParserVersion});
    while (st.step()) pending.push_back(st.get_text(0));
  });
  // Inventories of manifests that left the registry go with them.
  store_.transaction([&](sqlite::Connection& c) {
    c.exec("DELETE FROM findings WHERE manifest NOT IN (SELECT digest FROM manifests)");
    c.exec("DELETE FROM image_components WHERE manifest NOT IN (SELECT digest FROM manifests)");
    c.exec("DELETE FROM image_inventory WHERE manifest NOT IN (SELECT digest FROM manifests)");
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
  struct Missing {
    std::string manifest, media_type;
    std::int64_t size;
  };
  std::vector<Missing> missing;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(
        "SELECT DISTINCT rm.digest, m.media_type, m.size FROM repo_manifests rm JOIN "
        "image_inventory i ON i.manifest = rm.digest "
        "JOIN manifests m ON m.digest = rm.digest WHERE NOT EXISTS (SELECT 1 FROM manifests a JOIN "
        "repo_manifests ra ON "
        "ra.digest = a.digest WHERE a.subject = rm.digest AND ra.repo_id = rm.repo_id AND "
        "a.artifact_type = ?)");
    st.bind(1, kCycloneDxMediaType);
    while (st.step()) missing.push_back({st.get_text(0), st.get_text(1), st.get_int(2)});
  });
  for (const auto& m : missing) {
    std::optional<ImageInventory> inv;
    std::int64_t created = 0;
    store_.read([&](sqlite::Connection& c) {
      inv = load_inventory(c, m.manifest);
      auto st = c.prepare("SELECT scanned_at FROM image_inventory WHERE manifest = ?");
      st.bind(1, m.manifest);
      if (st.step()) created = st.get_int(0);
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
  if (manifests.empty()) {
    auto st = c.prepare(
        "SELECT manifest FROM image_inventory i WHERE EXISTS (SELECT 1 FROM repo_manifests rm "
        "WHERE rm.digest = i.manifest) ORDER BY manifest");
    while (st.step()) manifests.push_back(st.get_text(0));
  }
  auto out = nlohmann::json::array();
  int min_rank = q.min_severity.empty() ? 0 : severity_rank(q.min_severity);
  for (const auto& m : manifests) {
    auto names = image_names(c, m);
    std::map<std::int64_t, Component> comps;
    auto cs = c.prepare("SELECT idx, data FROM image_components WHERE manifest = ?");
    cs.bind(1, m);
    while (cs.step())
      comps[cs.get_int(0)] = Component::from_json(nlohmann::json::parse(cs.get_text(1)));
    auto st = c.prepare(
        "SELECT component, advisory_id, aliases, channel, source, severity, score, installed, "
        "fixed, vendor_status, "
        "fix_available, summary, first_seen FROM findings WHERE manifest = ?");
    st.bind(1, m);
    while (st.step()) {
      auto sev = st.get_text(5);
      if (severity_rank(sev) < min_rank) continue;
      const auto& comp = comps[st.get_int(0)];
      auto aliases = nlohmann::json::parse(st.get_text(2));
      FindingSubject subj;
      subj.ids.push_back(st.get_text(1));
      for (const auto& a : aliases) subj.ids.push_back(a.get<std::string>());
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
                          {"installed", st.get_text(7)},
                          {"layer", comp.layer},
                          {"location", comp.location},
                          {"purl", comp.purl},
                          {"advisory", st.get_text(1)},
                          {"aliases", aliases},
                          {"channel", st.get_text(3)},
                          {"advisory_source", st.get_text(4)},
                          {"severity", sev},
                          {"fixed", st.get_text(8)},
                          {"vendor_status", st.get_text(9)},
                          {"fix_available", st.get_text(10)},
                          {"summary", st.get_text(11)},
                          {"first_seen", rfc3339(st.get_int(12))}};
      if (!st.is_null(6)) f["score"] = std::stod(st.get_text(6));
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
