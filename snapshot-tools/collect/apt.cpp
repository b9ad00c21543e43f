#include "collect/apt.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "collect/decompress.hpp"
#include "collect/trust.hpp"
#include "collect/url.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/pgp.hpp"
#include "heal/deb/repository.hpp"
#include "heal/heal_layer.hpp"
#include "version/version.hpp"

namespace airheal::collect {
namespace {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t kMaxReleaseBytes = 16u << 20;
constexpr std::size_t kMaxIndexBytes = 512u << 20;  // a decompressed Packages file

std::string sha256_hex(std::string_view data) { return Sha256::of(data).hex(); }

}  // namespace

Result<AptRepository> AptRepository::open(const AptSource& source, const stdfs::path& cache,
                                          const FetchOptions& fetch, std::int64_t now,
                                          const AptLog& log) {
  AptRepository repo;
  repo.source_ = source;
  repo.cache_ = cache / "apt" / source.name;
  repo.fetch_ = fetch;
  std::error_code ec;
  stdfs::create_directories(repo.cache_ / "by-hash", ec);
  stdfs::create_directories(cache / "debs", ec);
  if (ec)
    return make_error(Errc::io_error,
                      "cannot create " + repo.cache_.string() + ": " + ec.message());
  const auto root = base_url(source.url);
  const std::string dists = root + "/dists/" + source.suite + "/";
  const std::string who = source.name + " (" + dists + ")";

  auto trust = load_keyring(source.keyring, repo.cache_ / "gnupg", who);
  if (!trust) return trust.error();
  auto* ring = &trust->ring;

  // InRelease (clearsigned, what apt reads first), else Release with Release.gpg. An InRelease
  // that is there but does not verify is refused, never passed over for the other pair.
  FetchOptions small = fetch;
  small.max_bytes = kMaxReleaseBytes;
  std::vector<pgp::SignatureCheck> checks;
  std::string release, release_url;
  auto inrelease = fetch_bytes(dists + "InRelease", small);
  if (inrelease) {
    auto verified = ring->verify_clearsigned(*inrelease);
    if (!verified)
      return make_error(Errc::denied, who + ": InRelease: " + verified.error().message);
    checks = std::move(verified->signatures);
    release = std::move(verified->text);
    release_url = dists + "InRelease";
  } else if (inrelease.error().code == Errc::not_found) {
    auto plain = fetch_bytes(dists + "Release", small);
    if (!plain) return make_error(plain.error().code, who + ": " + plain.error().message);
    auto signature = fetch_bytes(dists + "Release.gpg", small);
    if (!signature)
      return make_error(Errc::denied, who + ": the Release file is not signed (no InRelease, and " +
                                          signature.error().message + ")");
    auto verified = ring->verify_detached(*signature, *plain);
    if (!verified)
      return make_error(Errc::denied, who + ": Release.gpg: " + verified.error().message);
    checks = std::move(*verified);
    release = std::move(*plain);
    release_url = dists + "Release";
  } else {
    return make_error(inrelease.error().code, who + ": " + inrelease.error().message);
  }
  auto good = good_signer(checks, *trust, who, release_url);
  if (!good) return good.error();
  auto rel = parse_release(release);
  if (!rel) return make_error(rel.error().code, who + ": " + rel.error().message);
  if (rel->valid_until && *rel->valid_until < now)
    return make_error(Errc::denied, who + ": the Release file expired at its Valid-Until (" +
                                        std::string(rel->date.empty() ? "" : "dated " + rel->date) +
                                        "): a replayed or stale mirror");
  if (!rel->suite.empty() && !rel->codename.empty() && rel->suite != source.suite &&
      rel->codename != source.suite)
    return make_error(Errc::denied, who + ": the Release file is for suite " + rel->suite + " (" +
                                        rel->codename + "), not " + source.suite);
  if (log.record)
    log.record({{"event", "apt.release"},
                {"source", source.name},
                {"url", release_url},
                {"sha256", sha256_hex(release)},
                {"signed_by", *good},
                {"date", rel->date}});

  // Each component's indices: the compressed form Release lists first, checked against it.
  std::set<std::string> seen;
  std::vector<std::string> arches = source.architectures;
  arches.push_back("all");
  for (const auto& component : source.components) {
    for (const auto& arch : arches) {
      const std::string base = component + "/binary-" + arch + "/Packages";
      if (arch == "all" && !rel->read_binary_all) continue;
      // Each form Release lists (xz, gzip, bzip2, plain), by hash where the archive offers it,
      // until one matches the signed Release: a mirror half-way through an update may serve a
      // stale file under one name, as apt also copes with.
      std::vector<std::pair<std::string, const ReleaseFile::Entry*>> forms;
      for (const char* ext : {".xz", ".gz", ".bz2", ""}) {
        auto it = rel->sha256.find(base + ext);
        if (it != rel->sha256.end()) forms.emplace_back(it->first, &it->second);
      }
      if (forms.empty()) {
        if (arch == "all") continue;  // archives list arch:all packages per architecture too
        return make_error(Errc::not_found, who + ": the Release file lists no index " + base +
                                               " (component " + component + ", architecture " +
                                               arch + ")");
      }
      std::string bytes, path, first_problem;
      const ReleaseFile::Entry* entry = nullptr;
      for (const auto& [form, e] : forms) {
        auto cached = repo.cache_ / "by-hash" / e->sha256;
        if (auto have = fs::read_file(cached, kMaxIndexBytes);
            have && sha256_hex(*have) == e->sha256) {
          bytes = std::move(*have);
          path = form;
          entry = e;
          break;
        }
        FetchOptions o = fetch;
        o.max_bytes = std::min<std::uint64_t>(e->size, kMaxIndexBytes);
        std::vector<std::string> urls;
        if (rel->by_hash)
          urls.push_back(dists + form.substr(0, form.rfind('/')) + "/by-hash/SHA256/" + e->sha256);
        urls.push_back(dists + form);
        for (const auto& url : urls) {
          auto got = fetch_bytes(url, o);
          if (!got) {
            if (got.error().code != Errc::not_found && first_problem.empty())
              first_problem = got.error().message;
            continue;
          }
          if (got->size() != e->size || sha256_hex(*got) != e->sha256) {
            if (first_problem.empty() || first_problem.find("does not match") == std::string::npos)
              first_problem = url + " does not match the signed Release file (SHA256 " +
                              sha256_hex(*got) + ", " + std::to_string(got->size()) +
                              " bytes; Release says " + e->sha256 + ", " + std::to_string(e->size) +
                              " bytes)";
            continue;
          }
          (void)fs::write_file_atomic(cached, *got);
          bytes = std::move(*got);
          path = form;
          entry = e;
          break;
        }
        if (entry) break;
      }
      if (!entry)
        return make_error(
            first_problem.find("does not match") != std::string::npos ? Errc::digest_invalid
                                                                      : Errc::not_found,
            who + ": " + base + ": " +
                (first_problem.empty() ? "no form of it could be fetched" : first_problem));
      auto text = path == base ? Result<std::string>(bytes)
                               : decompress(bytes, who + ": " + path, kMaxIndexBytes);
      if (!text) return text.error();
      auto entries = parse_index(*text);
      if (!entries)
        return make_error(entries.error().code, who + ": " + path + ": " + entries.error().message);
      for (auto& e : *entries)
        if (seen.insert(e.package.id() + " " + e.package.architecture).second)
          repo.index_.push_back(std::move(e));
      if (log.record)
        log.record({{"event", "apt.index"},
                    {"source", source.name},
                    {"path", path},
                    {"sha256", entry->sha256},
                    {"verified_by", "Release SHA256"}});
    }
  }
  return repo;
}

Result<std::pair<stdfs::path, bool>> AptRepository::download(const IndexEntry& e,
                                                             const stdfs::path& out_dir,
                                                             const AptLog& log) const {
  const auto root = base_url(source_.url);
  const std::string url = root + "/" + e.filename;
  auto cached = cache_.parent_path().parent_path() / "debs" / (e.sha256 + ".deb");
  bool from_cache = false, resumed = false;
  std::uint64_t size = 0;
  auto digest = Sha256::of_file(cached, &size);
  if (digest && digest->hex() == e.sha256 && size == e.size) {
    from_cache = true;
  } else {
    FetchOptions o = fetch_;
    o.max_bytes = e.size;
    if (log.progress) {
      const std::string name = e.package.name + " " + e.package.version;
      o.progress = [&log, name](std::uint64_t done, std::uint64_t total) {
        log.progress(name + " " + fs::human_bytes(done) + " / " + fs::human_bytes(total));
      };
    }
    auto got = fetch_to_file(url, cached, o);
    if (!got) return make_error(got.error().code, source_.name + ": " + got.error().message);
    resumed = got->resumed;
    digest = Sha256::of_file(cached, &size);
    if (!digest || digest->hex() != e.sha256 || size != e.size) {
      std::error_code ec;
      stdfs::remove(cached, ec);
      return make_error(Errc::digest_invalid,
                        source_.name + ": " + url +
                            " is not the file the signed index names (SHA256 " +
                            (digest ? digest->hex() : std::string("unreadable")) + ", " +
                            std::to_string(size) + " bytes; Packages says " + e.sha256 + ", " +
                            std::to_string(e.size) + " bytes): refused");
    }
  }
  // Inside: the control says what the index says.
  auto control = heal::read_deb_control(cached);
  if (!control)
    return make_error(Errc::invalid_argument,
                      source_.name + ": " + url + ": " + control.error().message);
  if (control->field("Package") != e.package.name ||
      control->field("Version") != e.package.version ||
      control->field("Architecture") != e.package.architecture)
    return make_error(Errc::invalid_argument,
                      source_.name + ": " + url + " holds " + control->field("Package") + " " +
                          control->field("Version") + " " + control->field("Architecture") +
                          ", not the " + e.package.id() + " " + e.package.architecture +
                          " its index entry names: refused");
  auto paras = heal::deb::parse_paragraphs(control->control);
  if (!paras || paras->empty())
    return make_error(Errc::invalid_argument, url + ": unreadable control");
  auto name = heal::deb::deb_file_name(paras->front());
  if (!name) return name.error();
  std::error_code ec;
  stdfs::create_directories(out_dir, ec);
  auto dest = out_dir / *name;
  stdfs::remove(dest, ec);
  stdfs::create_hard_link(cached, dest, ec);
  if (ec) {
    ec.clear();
    stdfs::copy_file(cached, dest, ec);
    if (ec)
      return make_error(Errc::io_error, "cannot write " + dest.string() + ": " + ec.message());
  }
  if (log.record)
    log.record({{"event", "apt.package"},
                {"source", source_.name},
                {"package", e.package.name},
                {"version", e.package.version},
                {"architecture", e.package.architecture},
                {"url", url},
                {"sha256", e.sha256},
                {"size", e.size},
                {"from_cache", from_cache},
                {"resumed", resumed},
                {"verified_by", "Packages SHA256 under the signed Release"}});
  return std::pair{dest, from_cache};
}

}  // namespace airheal::collect
