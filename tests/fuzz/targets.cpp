#include "fuzz/targets.hpp"

#include <unistd.h>

#include <fstream>
#include <string_view>

#include "advisory/advisory.hpp"
#include "collect/apt_index.hpp"
#include "collect/rpm_repo.hpp"
#include "collect/url.hpp"
#include "core/apk.hpp"
#include "core/digest.hpp"
#include "core/json.hpp"
#include "core/oci.hpp"
#include "core/pgp.hpp"
#include "core/rpm.hpp"
#include "core/yaml.hpp"
#include "core/zip.hpp"
#include "heal/builder_protocol.hpp"
#include "heal/deb/control.hpp"
#include "scan/app_manifest.hpp"
#include "scan/java.hpp"
#include "scan/lockfile.hpp"
#include "scan/pkgdb.hpp"
#include "snapshot/format.hpp"
#include "version/version.hpp"

namespace airheal::fuzz {
namespace {

std::string_view view(const std::uint8_t* d, std::size_t n) {
  return {reinterpret_cast<const char*>(d), n};
}

// Each target returns normally for any input: an error Result is the expected answer to garbage.
// A crash, a sanitizer report, an uncaught exception or a timeout is a finding.

void json(const std::uint8_t* d, std::size_t n) {
  auto r = parse_json(view(d, n), JsonLimits{1u << 20, 64, false});
  if (r) (void)r->dump();  // walking the result must be safe too
}

void yaml(const std::uint8_t* d, std::size_t n) {
  (void)check_yaml(view(d, n), YamlLimits{1u << 20, 64, 1000, 100000});
}

void snapshot_manifest(const std::uint8_t* d, std::size_t n) {
  auto m = snapshot::parse_manifest(view(d, n));
  if (m) (void)snapshot::serialize(*m);
}

// The first byte picks the format, the rest is the document.
void advisory_docs(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  static constexpr advisory::Format formats[] = {
      advisory::Format::osv, advisory::Format::debian_tracker, advisory::Format::alpine_secdb,
      advisory::Format::csaf};
  auto format = formats[d[0] % 4];
  auto r = advisory::parse(format, view(d + 1, n - 1), "fuzz");
  if (!r) return;
  for (const auto& a : *r)
    for (const auto& aff : a.affected) {
      if (format == advisory::Format::osv || format == advisory::Format::csaf)
        (void)advisory::osv_evaluate(aff.data, aff.ecosystem, "1.2.3");
      if (format == advisory::Format::debian_tracker)
        (void)advisory::debian_evaluate(aff.data, "1.0-1");
    }
}

void oci_manifest(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  static constexpr const char* types[] = {
      "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.distribution.manifest.list.v2+json", ""};
  (void)oci::parse_manifest(view(d + 1, n - 1), types[d[0] % 5]);
}

void deb_control(const std::uint8_t* d, std::size_t n) {
  auto paragraphs = heal::deb::parse_paragraphs(view(d, n));
  if (!paragraphs) return;
  for (const auto& p : *paragraphs) {
    auto pkg = heal::deb::package_from(p);
    if (!pkg) continue;
    for (const auto& group : pkg->depends)
      for (const auto& r : group) (void)heal::deb::satisfies(r, *pkg);
  }
}

void deb_relations(const std::uint8_t* d, std::size_t n) {
  auto r = heal::deb::parse_relations(view(d, n));
  if (r)
    for (const auto& g : *r) (void)heal::deb::text(g);
}

void pgp_signature(const std::uint8_t* d, std::size_t n) { (void)pgp::signature_types(view(d, n)); }

void package_databases(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  auto text = view(d + 1, n - 1);
  switch (d[0] % 6) {
    case 0:
      (void)scan::parse_dpkg_status(text);
      break;
    case 1:
      (void)scan::parse_apk_installed(text);
      break;
    case 2:
      (void)scan::parse_rpm_header(text);
      break;
    case 3:
      (void)scan::parse_os_release(text);
      break;
    case 4:
      (void)scan::parse_debian_copyright(text);
      break;
    default:
      (void)scan::parse_md5sums(text);
      break;
  }
}

void lockfiles(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  std::string text(view(d + 1, n - 1));
  std::vector<std::string> problems;
  switch (d[0] % 4) {
    case 0:
      (void)scan::parse_go_mod(text, problems);
      break;
    case 1:
      (void)scan::parse_package_lock(text, problems);
      break;
    case 2:  // an installed npm package's package.json
      (void)scan::parse_node_package(text, problems);
      break;
    default:  // an installed Python distribution's METADATA / PKG-INFO
      (void)scan::parse_python_metadata(text, problems);
      break;
  }
}

void digests(const std::uint8_t* d, std::size_t n) { (void)Digest::parse(view(d, n)); }

// apk v2 packages (read whole, data stream and all, from a file as airheal reads them), the
// installed database, .PKGINFO and dependency tokens, chosen by the first byte.
void apk_package(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  auto text = view(d + 1, n - 1);
  switch (d[0] % 4) {
    case 0: {
      static const std::string file = "/tmp/airheal-fuzz-apk-" + std::to_string(::getpid());
      std::ofstream(file, std::ios::binary | std::ios::trunc)
          .write(text.data(), static_cast<long>(text.size()));
      if (auto p = apk::read_package(file, true)) {
        (void)apk::installed_record(*p);
        (void)apk::index_record(*p);
        (void)apk::check_datahash(file, *p);
      }
      // The same bytes as a repository's APKINDEX.tar.gz (collect reads those).
      if (auto idx = apk::read_index(file); idx && !idx->signatures.empty())
        (void)apk::parse_database(idx->apkindex);
      break;
    }
    case 1:
      if (auto db = apk::parse_database(text); db && !db->empty())
        (void)apk::replace_record(text, db->front().name, "P:x\nV:1\n");
      break;
    case 2:
      (void)apk::parse_pkginfo(text);
      break;
    default:
      (void)apk::parse_dependency(text);
      break;
  }
}

// rpm packages (lead, signature header, main header, from a file as airheal reads them), one
// header in rpmdb form, an OpenPGP signature packet, and rpmdb.sqlite, chosen by the first byte.
void rpm_package(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  auto text = view(d + 1, n - 1);
  switch (d[0] % 4) {
    case 0: {
      static const std::string file = "/tmp/airheal-fuzz-rpm-" + std::to_string(::getpid());
      std::ofstream(file, std::ios::binary | std::ios::trunc)
          .write(text.data(), static_cast<long>(text.size()));
      if (auto p = rpm::read_package(file)) {
        (void)p->header.nevra();
        (void)p->header.source_name();
      }
      break;
    }
    case 1:
      if (auto h = rpm::parse_header(text))
        for (const auto& r : h->requires_) (void)r.text();
      break;
    case 2:
      (void)rpm::signature_key_id(text);
      break;
    default:
      (void)rpm::read_database_sqlite(text);
      break;
  }
}

// Application packages: Java archives (nested ones included, with small limits so that nesting
// and budgets are reached), the zip rewriter, gemspecs, .deps.json, .nupkg, Composer's
// installed.json, Cargo.lock, and the application ecosystems' version orderings and ranges,
// chosen by the first byte.
void app_packages(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  std::string text(view(d + 1, n - 1));
  std::vector<std::string> problems;
  switch (d[0] % 8) {
    case 0: {
      scan::JavaLimits limits;
      limits.max_nested_bytes = 1 << 20;
      limits.max_inflated_bytes = 8 << 20;
      limits.max_entries = 10000;
      (void)scan::parse_java_archive(text, "fuzz.jar", problems, limits);
      break;
    }
    case 1:
      if (auto z = zip::read(text); z && !z->entries.empty()) {
        (void)zip::entry(text, z->entries.front().name, 1 << 20);
        (void)zip::replace_entry(text, z->entries.back().name, "replacement");
      }
      break;
    case 2:
      (void)scan::parse_gemspec(text, "x-1.0.gemspec", problems);
      (void)scan::parse_properties(text);
      (void)scan::parse_manifest(text);
      break;
    case 3:
      (void)scan::parse_deps_json(text, problems);
      break;
    case 4:
      (void)scan::parse_nupkg(text, problems);
      break;
    case 5:
      (void)scan::parse_composer_installed(text, problems);
      (void)scan::parse_cargo_lock(text, problems);
      break;
    case 6: {  // two versions, each ecosystem's order
      auto nl = text.find('\n');
      auto a = text.substr(0, nl),
           b = nl == std::string::npos ? std::string() : text.substr(nl + 1);
      (void)version::compare_maven(a, b);
      (void)version::compare_nuget(a, b);
      (void)version::compare_rubygems(a, b);
      (void)version::compare_composer(a, b);
      break;
    }
    default: {  // a version and a range
      auto nl = text.find('\n');
      auto a = text.substr(0, nl),
           b = nl == std::string::npos ? std::string() : text.substr(nl + 1);
      (void)version::satisfies_npm_range(a, b);
      (void)version::satisfies_pep440(a, b);
      break;
    }
  }
}

// What airheal-snapshot collect reads from a mirror before it trusts it: an apt Release file, a
// Packages index (and the selection over it), URLs (from configuration and redirects), and
// rpm-md's repomd.xml and primary.xml (through the XML reader), chosen by the first byte.
void apt_metadata(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  std::string text(view(d + 1, n - 1));
  switch (d[0] % 5) {
    case 0:
      (void)collect::parse_release(text);
      break;
    case 3:
      (void)collect::parse_repomd(text);
      break;
    case 4:
      if (auto p = collect::parse_primary(text); p && !p->empty()) {
        std::vector<std::string> missing;
        (void)collect::select_rpm(*p, {{p->front().name, "", "", "1:0-1", "fuzz"}}, {"x86_64"},
                                  missing);
      }
      break;
    case 1:
      if (auto index = collect::parse_index(text); index && !index->empty()) {
        std::vector<collect::AptWant> wants(1);
        wants[0].name = index->front().package.name;
        wants[0].min_source_version = "1";
        (void)collect::select_packages(*index, wants, {"amd64"});
      }
      break;
    default:
      if (auto u = collect::parse_url(text))
        (void)collect::resolve_url(*u, text.substr(text.size() / 2));
      break;
  }
}

// airheal-builder's view of airheald's requests (and airheald's of the builder's replies): the
// first byte picks which, the rest is the frame, read with the limits each side uses; a request
// that parses is validated against a policy whose folders do not exist.
void builder_protocol(const std::uint8_t* d, std::size_t n) {
  if (n == 0) return;
  bool request = d[0] % 2 == 0;
  JsonLimits limits;
  limits.max_bytes = request ? heal::builder::kMaxRequestBytes : heal::builder::kMaxReplyBytes;
  limits.max_depth = request ? 8 : 16;
  auto j = parse_json(view(d + 1, n - 1), limits, "the frame");
  if (!j) return;
  if (request) {
    auto r = heal::builder::request_from_json(*j);
    if (!r) return;
    heal::builder::Policy policy;
    policy.work_root = "/nonexistent/airheal-fuzz/heal";
    policy.blobs_root = "/nonexistent/airheal-fuzz/blobs/sha256";
    (void)heal::builder::validate(*r, policy);
    (void)heal::builder::to_json(*r).dump();
  } else if (auto r = heal::builder::reply_from_json(*j)) {
    (void)heal::builder::to_json(*r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

}  // namespace

const std::vector<Entry>& targets() {
  static const std::vector<Entry> all = {
      {"json", json},
      {"yaml", yaml},
      {"snapshot_manifest", snapshot_manifest},
      {"advisory", advisory_docs},
      {"oci_manifest", oci_manifest},
      {"deb_control", deb_control},
      {"deb_relations", deb_relations},
      {"pgp_signature", pgp_signature},
      {"package_databases", package_databases},
      {"lockfiles", lockfiles},
      {"digest", digests},
      {"apk_package", apk_package},
      {"rpm_package", rpm_package},
      {"app_packages", app_packages},
      {"apt_metadata", apt_metadata},
      {"builder_protocol", builder_protocol},
  };
  return all;
}

}  // namespace airheal::fuzz
