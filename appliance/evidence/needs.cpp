#include "evidence/needs.hpp"

#include <map>
#include <set>
#include <tuple>

#include "advisory/advisory_repository.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"
#include "core/time.hpp"
#include "heal/engine.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/scanner.hpp"
#include "snapshot/snapshot_repository.hpp"
#include "store/catalog.hpp"
#include "version/version.hpp"

namespace airheal::evidence {
namespace {

using json = nlohmann::json;

int compare_dpkg_or_equal(const std::string& a, const std::string& b) {
  auto c = version::compare_dpkg(a, b);
  return c ? *c : 0;
}

// -1, 0, 1 in the package family's or ecosystem's own order; unordered versions compare equal.
int compare_in(const std::string& type, const std::string& ecosystem, const std::string& a,
               const std::string& b) {
  if (type == "deb") return compare_dpkg_or_equal(a, b);
  if (type == "apk") return version::compare_apk(a, b);
  if (type == "rpm") return version::compare_rpm(a, b);
  auto c = version::compare(ecosystem, a, b);
  return c ? *c : 0;
}

bool os_package(const std::string& type) { return type == "deb" || type == "apk" || type == "rpm"; }

// What a snapshot must bring for an application finding: a gold build of a binary (a Go or Rust
// program the image ships), a fixed module for a lockfile the image's owners rebuild from, or a
// fixed installed package (npm, PyPI, Maven...) replaced in place.
std::string app_kind(const std::string& type) {
  if (type == "golang" || type == "cargo" || type == "go-binary") return "binary";
  if (type == "go-module" || type == "npm") return "lockfile";
  return "package";
}

// The release name a repository of the image's distribution files its builds under: bookworm,
// v3.10, 9.
std::string release_of(const scan::OsInfo& os) {
  auto r = os.releases();
  if (r.empty()) return "";
  return os.id == "debian" || os.id == "ubuntu" ? r.back() : r.front();
}

struct PackageNeed {
  std::string fixed;
  std::set<std::pair<std::string, std::string>> binaries;  // name, architecture
  std::set<std::string> advisories, images;
  std::string distribution, version_id;
};

struct AppNeed {
  std::string fixed;
  std::set<std::string> advisories, images, paths;
};

struct BaseNeed {
  std::string repository, tag, digest;
  std::set<std::string> images;
};

}  // namespace

json needs_document(store::Store& store, std::int64_t now, const NeedsOptions& options,
                    const std::string& appliance_key) {
  // (type, ecosystem, release, source) -> need
  std::map<std::tuple<std::string, std::string, std::string, std::string>, PackageNeed> packages;
  // (ecosystem, name, kind) -> need
  std::map<std::tuple<std::string, std::string, std::string>, AppNeed> apps;
  std::map<std::string, BaseNeed> bases;  // by upstream name
  std::set<std::string> images_with_needs;
  json feeds = json::array();
  std::size_t open_without_fix = 0;
  std::multimap<std::string, std::string> served;  // manifest -> repository:tag
  auto label = [&](const std::string& manifest) {
    auto it = served.find(manifest);
    return it == served.end() ? manifest : it->second;
  };

  store.read([&](sqlite::Connection& c) {
    scan::FindingsQuery q;
    q.include_suppressed = true;  // an exception accepts a risk for a while; it fixes nothing
    auto findings = scan::list_findings(c, q, now);
    for (const auto& t : store::served_tags(c))
      served.emplace(t.digest, t.repository + ":" + t.tag);
    std::map<std::string, std::optional<scan::ImageInventory>> inventories;
    for (const auto& f : findings) {
      if (f.contains("suppressed") && f["suppressed"].value("by", "") == "vex") continue;
      const auto fix = f.value("fix_available", "");
      const auto fixed = f.value("fixed", "");
      if (fix == "no-fix" || fixed.empty()) {
        ++open_without_fix;
        continue;
      }
      if (fix != "none") continue;  // the fix is inside the gap already
      const auto manifest = f.value("image", "");
      const auto type = f.value("type", ""), ecosystem = f.value("ecosystem", "");
      const auto image_label = label(manifest);
      images_with_needs.insert(manifest);
      if (os_package(type)) {
        auto& inv = inventories[manifest];
        if (!inv) inv = scan::InventoryRepository::load(c, manifest);
        scan::OsInfo os = inv ? inv->os : scan::OsInfo{};
        auto source = f.value("source", "");
        if (source.empty()) source = f.value("package", "");
        auto& n = packages[{type, ecosystem, release_of(os), source}];
        if (n.fixed.empty() || compare_in(type, ecosystem, fixed, n.fixed) > 0) n.fixed = fixed;
        n.binaries.insert({f.value("package", ""), f.value("arch", "")});
        n.advisories.insert(f.value("advisory", ""));
        n.images.insert(image_label);
        n.distribution = os.id;
        n.version_id = os.version_id;
      } else {
        auto& n = apps[{ecosystem, f.value("package", ""), app_kind(type)}];
        if (n.fixed.empty() || compare_in(type, ecosystem, fixed, n.fixed) > 0) n.fixed = fixed;
        n.advisories.insert(f.value("advisory", ""));
        n.images.insert(image_label);
        if (app_kind(type) == "binary") n.paths.insert(f.value("location", ""));
      }
    }

    // Feeds: what each channel's snapshots last brought, and when.
    std::map<std::string, std::int64_t> imported;
    for (const auto& ch : snapshot::SnapshotRepository::channels(c))
      imported[ch.channel] = ch.imported_at;
    for (const auto& s : advisory::counts_by_source(c)) {
      json feed = {{"channel", s.channel},
                   {"source", s.source},
                   {"advisories", s.advisories},
                   {"withdrawn", s.withdrawn}};
      auto it = imported.find(s.channel);
      if (it != imported.end() && it->second > 0) feed["last_imported"] = format_time(it->second);
      feeds.push_back(std::move(feed));
    }
  });

  // Newer builds of the bases the images with needs were built on, as their annotations name
  // them: a rebase heals what the base's own packages bring.
  for (const auto& manifest : images_with_needs) {
    auto d = Digest::parse(manifest);
    if (!d) continue;
    auto bytes = fs::read_file(store.blob_path(*d), 8 << 20);
    if (!bytes) continue;
    auto m = oci::parse_manifest(*bytes, oci::media::kOciManifest);
    if (!m || m->is_index) continue;
    auto ann = json::parse(m->annotations_json, nullptr, false);
    if (!ann.is_object() || !ann.contains("org.opencontainers.image.base.name") ||
        !ann["org.opencontainers.image.base.name"].is_string())
      continue;
    auto upstream = ann["org.opencontainers.image.base.name"].get<std::string>();
    if (upstream.empty() || upstream.size() > 512) continue;  // buildah FROM scratch: ""
    auto& b = bases[upstream];
    if (auto ref = heal::base_reference(upstream)) {
      b.repository = ref->first;
      b.tag = ref->second;
    }
    if (ann.contains("org.opencontainers.image.base.digest") &&
        ann["org.opencontainers.image.base.digest"].is_string())
      b.digest = ann["org.opencontainers.image.base.digest"].get<std::string>();
    b.images.insert(label(manifest));
  }

  auto list = [&](const std::set<std::string>& s) {
    json a = json::array();
    for (const auto& x : s) a.push_back(x);
    return a;
  };
  json pkgs = json::array();
  for (const auto& [key, n] : packages) {
    const auto& [type, ecosystem, release, source] = key;
    json bins = json::array();
    for (const auto& [name, arch] : n.binaries)
      bins.push_back({{"name", name}, {"architecture", arch}});
    json p = {{"family", type},
              {"ecosystem", ecosystem},
              {"distribution", n.distribution},
              {"release", release},
              {"version_id", n.version_id},
              {"source", source},
              {"fixed_version", n.fixed},
              {"binaries", bins},
              {"advisories", list(n.advisories)}};
    if (!options.redact) p["images"] = list(n.images);
    pkgs.push_back(std::move(p));
  }
  json applications = json::array();
  for (const auto& [key, n] : apps) {
    const auto& [ecosystem, name, kind] = key;
    json a = {{"ecosystem", ecosystem},
              {"name", name},
              {"kind", kind},
              {"fixed_version", n.fixed},
              {"advisories", list(n.advisories)}};
    if (!options.redact) {
      a["images"] = list(n.images);
      if (kind == "binary") a["paths"] = list(n.paths);
    }
    applications.push_back(std::move(a));
  }
  json base_images = json::array();
  for (const auto& [upstream, b] : bases) {
    json e = {{"upstream", upstream}, {"current_digest", b.digest}};
    if (!options.redact) {
      e["repository"] = b.repository;
      e["tag"] = b.tag;
      e["images"] = list(b.images);
    }
    base_images.push_back(std::move(e));
  }
  return {{"schema", kNeedsSchema},
          {"generated_at", format_time(now)},
          {"appliance_key", appliance_key},
          {"redacted", options.redact},
          {"packages", std::move(pkgs)},
          {"base_images", std::move(base_images)},
          {"applications", std::move(applications)},
          {"advisory_feeds", std::move(feeds)},
          {"summary",
           {{"images_waiting", images_with_needs.size()},
            {"packages", packages.size()},
            {"applications", apps.size()},
            {"base_images", bases.size()},
            {"findings_without_upstream_fix", open_without_fix}}}};
}

Result<SignedNeeds> signed_needs(store::Store& store, heal::ApplianceKey& key, std::int64_t now,
                                 const NeedsOptions& options) {
  auto doc = needs_document(store, now, options, key.fingerprint());
  auto env = key.sign_envelope(kNeedsPayloadType, doc.dump(2) + "\n");
  if (!env) return env.error();
  return SignedNeeds{std::move(doc), std::move(*env)};
}

}  // namespace airheal::evidence
