// Upstream bump: an image built FROM a base that has since been updated in this registry (a newer
// version mirrored by a snapshot or pushed) is rebased: the newer base's layers, then the image's
// own layers, unchanged. Nothing is rebuilt; the result is verified like any heal.
#include <map>
#include <set>

#include "core/fs.hpp"
#include "core/oci.hpp"
#include "heal/engine.hpp"
#include "heal/rebase_builder.hpp"
#include "scan/layer.hpp"
#include "scan/layer_cache_repository.hpp"
#include "scan/sbom.hpp"
#include "scan/vex.hpp"
#include "store/catalog.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;
using nlohmann::json;

// "registry.example:5000/library/debian:12" -> {"library/debian", "12"}: the registry host, when
// the name has one, is dropped (the base is looked up in this registry). Digest references and
// names without a tag have no "newer version".
std::optional<std::pair<std::string, std::string>> base_reference(std::string name) {
  if (name.size() > 512 || name.find('@') != std::string::npos) return std::nullopt;
  auto slash = name.find('/');
  if (slash != std::string::npos) {
    auto first = name.substr(0, slash);
    if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
        first == "localhost")
      name = name.substr(slash + 1);
  }
  auto colon = name.rfind(':');
  if (colon == std::string::npos ||
      (name.rfind('/') != std::string::npos && colon < name.rfind('/')))
    return std::nullopt;
  auto repo = name.substr(0, colon), tag = name.substr(colon + 1);
  if (repo.empty() || tag.empty()) return std::nullopt;
  return std::pair{repo, tag};
}

namespace {

bool package_database(const std::string& path) {
  for (const char* db :
       {"var/lib/dpkg", "var/lib/apk", "lib/apk", "var/lib/rpm", "usr/lib/sysimage/rpm"}) {
    std::string d(db);
    if (path == d || path.rfind(d + "/", 0) == 0) return true;
  }
  return false;
}

}  // namespace

std::optional<Plan> Engine::upstream_bump(const std::string& manifest, std::string& why) {
  auto digest = Digest::parse(manifest);
  if (!digest) return std::nullopt;
  auto bytes = fs::read_file(store_.blob_path(*digest), 8 << 20);
  if (!bytes) return std::nullopt;
  auto m = oci::parse_manifest(*bytes, oci::media::kOciManifest);
  if (!m || m->is_index || !m->config) return std::nullopt;
  // The base: named by the image's annotations (image metadata is untrusted: both must be strings
  // of the right shape), or else the longest image in this registry whose layers lead this one's
  // and whose tag has since moved on (tag history).
  auto ann = json::parse(m->annotations_json, nullptr, false);
  std::string old_base;
  std::optional<std::pair<std::string, std::string>> ref;
  if (ann.is_object() && ann.contains("org.opencontainers.image.base.name") &&
      ann.contains("org.opencontainers.image.base.digest") &&
      ann["org.opencontainers.image.base.name"].is_string() &&
      ann["org.opencontainers.image.base.digest"].is_string()) {
    old_base = ann["org.opencontainers.image.base.digest"].get<std::string>();
    ref = base_reference(ann["org.opencontainers.image.base.name"].get<std::string>());
  } else if (!m->layers.empty()) {
    auto candidates = store_.read([&](sqlite::Connection& c) {
      return store::formerly_tagged_with_layer(c, m->layers[0].digest.str(), manifest);
    });
    std::size_t best = 0;
    for (const auto& cand : candidates) {
      auto cd = Digest::parse(cand);
      auto cb = cd ? fs::read_file(store_.blob_path(*cd), 8 << 20)
                   : Result<std::string>(make_error(Errc::not_found, ""));
      if (!cb) continue;
      auto cm = oci::parse_manifest(*cb, oci::media::kOciManifest);
      if (!cm || cm->is_index || cm->layers.size() >= m->layers.size() || cm->layers.size() <= best)
        continue;
      bool prefix = true;
      for (std::size_t i = 0; i < cm->layers.size(); ++i)
        prefix = prefix && cm->layers[i].digest == m->layers[i].digest;
      if (!prefix) continue;
      if (auto tagged =
              store_.read([&](sqlite::Connection& c) { return store::last_tag_of(c, cand); })) {
        ref = std::move(tagged);
        old_base = cand;
        best = cm->layers.size();
      }
    }
    if (!ref) {
      why =
          "the image does not name its base, and no earlier version of an image here leads its "
          "layers";
      return std::nullopt;
    }
  }
  if (old_base.empty()) {
    why = "the image does not name its base (org.opencontainers.image.base.* annotations)";
    return std::nullopt;
  }
  if (!is_sha256_digest(old_base) || !ref) {
    why = "the base annotations are not a tagged name and a sha256 digest";
    return std::nullopt;
  }
  auto current = store_.get_manifest(ref->first, ref->second);
  if (!current) {
    why = "the base " + ref->first + ":" + ref->second + " is not in this registry";
    return std::nullopt;
  }
  if (current->digest.str() == old_base || current->digest.str() == manifest) {
    why = "the base " + ref->first + ":" + ref->second + " has no newer version";
    return std::nullopt;
  }
  auto old_m = store_.get_manifest(ref->first, old_base);
  if (!old_m) {
    why = "the image's base " + old_base + " is not in this registry";
    return std::nullopt;
  }
  auto om = oci::parse_manifest(*old_m->bytes, old_m->media_type);
  auto nm = oci::parse_manifest(*current->bytes, current->media_type);
  if (!om || !nm || om->is_index || nm->is_index || !nm->config || om->layers.empty() ||
      om->layers.size() >= m->layers.size()) {
    why = "the base is not a single image below this one";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < om->layers.size(); ++i)
    if (om->layers[i].digest != m->layers[i].digest) {
      why = "the image's leading layers are not its named base's";
      return std::nullopt;
    }
  std::size_t k = om->layers.size();
  // The image's own layers must leave every package database alone: otherwise its records would
  // hide the newer base's.
  for (std::size_t i = k; i < m->layers.size(); ++i) {
    std::optional<scan::LayerInventory> inv;
    store_.read(
        [&](sqlite::Connection& c) { inv = scan::LayerCache::get(c, m->layers[i].digest.str()); });
    if (!inv) {
      why = "layer " + m->layers[i].digest.str() + " has not been inventoried";
      return std::nullopt;
    }
    bool touches = false;
    for (const auto& f : inv->files) touches = touches || package_database(f.path);
    for (const auto& w : inv->whiteouts) touches = touches || package_database(w);
    for (const auto& o : inv->opaque) touches = touches || package_database(o);
    if (touches) {
      why =
          "the image's own layers change a package database, so it cannot simply be put on a newer "
          "base";
      return std::nullopt;
    }
  }
  // What the newer base fixes here: findings the old base has and the new one does not.
  if (!scanner_.scan(*Digest::parse(old_base)) || !scanner_.scan(current->digest))
    return std::nullopt;
  std::set<std::string> in_old, in_new;
  json image_findings;
  store_.read([&](sqlite::Connection& c) {
    scan::FindingsQuery q;
    q.include_suppressed = true;
    q.manifests = {old_base};
    for (const auto& f : scan::list_findings(c, q, store_.now_seconds()))
      in_old.insert(f["package"].get<std::string>() + " " + f["advisory"].get<std::string>());
    q.manifests = {current->digest.str()};
    for (const auto& f : scan::list_findings(c, q, store_.now_seconds()))
      in_new.insert(f["package"].get<std::string>() + " " + f["advisory"].get<std::string>());
    q.manifests = {manifest};
    image_findings = scan::list_findings(c, q, store_.now_seconds());
  });
  std::set<std::string> targeted;
  for (const auto& f : image_findings) {
    if (f.contains("suppressed") && f["suppressed"].value("by", "") == "vex") continue;
    auto key = f["package"].get<std::string>() + " " + f["advisory"].get<std::string>();
    if (in_old.count(key) && !in_new.count(key)) targeted.insert(f["advisory"].get<std::string>());
  }
  if (targeted.empty()) {
    why = "the newer base fixes none of this image's findings";
    return std::nullopt;
  }
  Plan p;
  p.strategy = "upstream-bump";
  p.rebase = Rebase{ref->first + ":" + ref->second, old_base, current->digest.str(), k};
  p.targeted.assign(targeted.begin(), targeted.end());
  if (auto at = store_.read([&](sqlite::Connection& c) {
        return store::manifest_stored_at(c, current->digest.str());
      }))
    p.fix_imported_at = *at;
  p.explanation = "The image was built FROM " + p.rebase->base_name +
                  " (its org.opencontainers.image.base annotations), which has a "
                  "newer version in this registry (" +
                  p.rebase->new_base.substr(0, 19) + ", was " + old_base.substr(0, 19) +
                  ") that fixes " + std::to_string(targeted.size()) +
                  " of its findings: the image's own " + std::to_string(m->layers.size() - k) +
                  " layer(s) are put unchanged on the newer base; nothing is rebuilt.";
  return p;
}

Result<BuildResult> Engine::build_rebase(std::int64_t id, const std::string& repo,
                                         const std::string& original, const Plan& plan,
                                         const fsys::path& work, std::string& log,
                                         const Policy& policy) {
  const auto& rb = *plan.rebase;
  auto read_json = [&](const std::string& digest) -> Result<json> {
    auto d = Digest::parse(digest);
    if (!d) return make_error(Errc::invalid_argument, "bad digest " + digest);
    auto b = fs::read_file(store_.blob_path(*d), 8 << 20);
    if (!b) return b.error();
    auto j = json::parse(*b, nullptr, false);
    if (!j.is_object()) return make_error(Errc::manifest_invalid, digest + " is not a JSON object");
    return j;
  };
  RebaseInput in;
  auto mj = read_json(original);
  auto old_base = read_json(rb.old_base);
  auto new_base = read_json(rb.new_base);
  if (!mj || !old_base || !new_base)
    return make_error(Errc::manifest_invalid, "the image or its bases cannot be read");
  in.image = std::move(*mj);
  in.old_base = std::move(*old_base);
  in.new_base = std::move(*new_base);
  auto config_of = [&](const json& m) -> Result<json> {
    if (!m.contains("config") || !m["config"].is_object())
      return make_error(Errc::manifest_invalid, "the image or its bases have no layers");
    return read_json(m["config"].value("digest", ""));
  };
  auto config = config_of(in.image), new_config = config_of(in.new_base),
       old_config = config_of(in.old_base);
  if (!config || !new_config || !old_config)
    return make_error(Errc::manifest_invalid, "a config cannot be read");
  in.image_config = std::move(*config);
  in.new_base_config = std::move(*new_config);
  in.old_base_config = std::move(*old_config);
  in.base_layers = rb.base_layers;
  in.original = original;
  in.old_base_digest = rb.old_base;
  in.new_base_digest = rb.new_base;
  in.heal_id = id;
  in.now = store_.now_seconds();
  auto rebased = rebase_image(in);
  if (!rebased) return rebased.error();
  const auto& cfg_bytes = rebased->config;
  auto cfg_digest = Sha256::of(cfg_bytes);
  const auto& layers = rebased->layers;
  BuildResult out;
  out.manifest = rebased->manifest.dump();
  out.image_size = cfg_bytes.size();
  std::vector<std::pair<Digest, std::uint64_t>> blobs;
  for (const auto& l : layers) {
    auto d = Digest::parse(l.value("digest", ""));
    if (!d || !store_.has_blob_file(*d))
      return make_error(Errc::blob_unknown,
                        "layer " + l.value("digest", "") + " is not in the store");
    auto size = l.value("size", std::uint64_t{0});
    blobs.emplace_back(*d, size);
    out.image_size += size;
  }
  std::error_code ec;
  fsys::create_directories(work, ec);
  auto stage_file = work / "config.json";
  if (auto st = fs::write_file_atomic(stage_file, cfg_bytes); !st) return st.error();
  if (auto st = store_.adopt_blob_file(stage_file, cfg_digest); !st) return st.error();
  store_.transaction([&](sqlite::Connection& c) {
    store_.link_blob(c, repo, cfg_digest, cfg_bytes.size());
    for (const auto& [d, size] : blobs) store_.link_blob(c, repo, d, size);
  });
  log += "rebased onto " + rb.base_name + " at " + rb.new_base + " (" +
         std::to_string(rb.base_layers) + " base layer(s) replaced by " +
         std::to_string(in.new_base["layers"].size()) + ")\n";
  auto checks =
      run_checks(id, out.manifest, work / "check", log, policy.test, true, out.smoke_note);
  if (!checks) return checks.error();
  out.test_failure = checks->first;
  out.smoke_failure = checks->second;
  return out;
}

}  // namespace airheal::heal
