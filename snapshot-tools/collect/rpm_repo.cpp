#include "collect/rpm_repo.hpp"

#include <algorithm>
#include <cctype>

#include "collect/decompress.hpp"
#include "collect/trust.hpp"
#include "collect/url.hpp"
#include "collect/xml.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/pgp.hpp"
#include "core/rpm.hpp"
#include "version/version.hpp"

namespace airheal::collect {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxRepomdBytes = 4u << 20;
constexpr std::size_t kMaxPrimaryBytes = 1u << 30;  // decompressed

std::string hash_of(const std::string& type, std::string_view bytes) {
  return ContentHash::of(type == "sha512" ? DigestAlgorithm::sha512 : DigestAlgorithm::sha256,
                         bytes)
      .hex();
}

}  // namespace

Result<RpmRepository> RpmRepository::open(const RpmSource& source, const stdfs::path& cache,
                                          const FetchOptions& fetch, const RpmLog& log) {
  RpmRepository repo;
  repo.source_ = source;
  repo.cache_ = cache / "rpm" / source.name;
  repo.fetch_ = fetch;
  std::error_code ec;
  stdfs::create_directories(repo.cache_ / "by-hash", ec);
  stdfs::create_directories(cache / "rpms", ec);
  const auto root = base_url(source.url);
  const std::string who = source.name + " (" + root + ")";
  auto trust = load_keyring(source.keyring, repo.cache_ / "gnupg", who);
  if (!trust) return trust.error();
  FetchOptions small = fetch;
  small.max_bytes = kMaxRepomdBytes;
  auto repomd = fetch_bytes(root + "/repodata/repomd.xml", small);
  if (!repomd) return make_error(repomd.error().code, who + ": " + repomd.error().message);
  auto sig = fetch_bytes(root + "/repodata/repomd.xml.asc", small);
  if (!sig)
    return make_error(Errc::denied,
                      who + ": repomd.xml is not signed (" + sig.error().message + ")");
  auto checks = trust->ring.verify_detached(*sig, *repomd);
  if (!checks) return make_error(Errc::denied, who + ": repomd.xml.asc: " + checks.error().message);
  auto good = good_signer(*checks, *trust, who, "repomd.xml");
  if (!good) return good.error();
  auto primary = parse_repomd(*repomd);
  if (!primary) return make_error(primary.error().code, who + ": " + primary.error().message);
  auto cached = repo.cache_ / "by-hash" / primary->checksum;
  std::string bytes;
  if (auto have = fs::read_file(cached, kMaxPrimaryBytes);
      have && hash_of(primary->checksum_type, *have) == primary->checksum) {
    bytes = std::move(*have);
  } else {
    FetchOptions o = fetch;
    o.max_bytes = primary->size ? primary->size : kMaxPrimaryBytes;
    auto got = fetch_bytes(root + "/" + primary->location, o);
    if (!got) return make_error(got.error().code, who + ": " + got.error().message);
    if (hash_of(primary->checksum_type, *got) != primary->checksum)
      return make_error(Errc::digest_invalid,
                        who + ": " + primary->location + " does not match the signed repomd.xml (" +
                            primary->checksum_type + " " + hash_of(primary->checksum_type, *got) +
                            "; repomd.xml says " + primary->checksum + ")");
    (void)fs::write_file_atomic(cached, *got);
    bytes = std::move(*got);
  }
  auto xml = decompress(bytes, who + ": " + primary->location, kMaxPrimaryBytes);
  if (!xml) return xml.error();
  auto entries = parse_primary(*xml);
  if (!entries) return make_error(entries.error().code, who + ": " + entries.error().message);
  repo.index_ = std::move(*entries);
  if (log.record)
    log.record({{"event", "rpm.repomd"},
                {"source", source.name},
                {"url", root + "/repodata/repomd.xml"},
                {"sha256", Sha256::of(*repomd).hex()},
                {"signed_by", *good},
                {"primary", primary->location},
                {"primary_" + primary->checksum_type, primary->checksum}});
  return repo;
}

Result<stdfs::path> RpmRepository::download(const RpmEntry& e, const stdfs::path& out_dir,
                                            const RpmLog& log) const {
  const auto root = base_url(source_.url);
  const std::string url = root + "/" + e.location;
  auto cached = cache_.parent_path().parent_path() / "rpms" / (e.checksum + ".rpm");
  bool from_cache = false;
  auto matches = [&]() {
    auto d = ContentHash::of_file(
        e.checksum_type == "sha512" ? DigestAlgorithm::sha512 : DigestAlgorithm::sha256, cached);
    return d && d->hex() == e.checksum;
  };
  std::error_code ec;
  if (stdfs::exists(cached, ec) && matches()) {
    from_cache = true;
  } else {
    FetchOptions o = fetch_;
    o.max_bytes = e.size ? e.size : rpm::kMaxPackageBytes;
    auto got = fetch_to_file(url, cached, o);
    if (!got) return make_error(got.error().code, source_.name + ": " + got.error().message);
    if (!matches()) {
      stdfs::remove(cached, ec);
      return make_error(Errc::digest_invalid,
                        source_.name + ": " + url +
                            " is not the package the signed metadata names (" + e.checksum_type +
                            " " + e.checksum + "): refused");
    }
  }
  auto pkg = rpm::read_package(cached);
  if (!pkg)
    return make_error(pkg.error().code,
                      source_.name + ": " + url + ": " + pkg.error().message + ": refused");
  const auto& h = pkg->header;
  std::string epoch = h.epoch ? std::to_string(*h.epoch) : "0";
  if (h.name != e.name || h.version != e.version || h.release != e.release || h.arch != e.arch ||
      epoch != (e.epoch.empty() ? "0" : e.epoch))
    return make_error(Errc::invalid_argument, source_.name + ": " + url + " holds " + h.nevra() +
                                                  ", not the " + e.name + "-" + e.evr() + "." +
                                                  e.arch + " its metadata names: refused");
  stdfs::create_directories(out_dir, ec);
  auto dest = out_dir / (e.name + "-" + e.version + "-" + e.release + "." + e.arch + ".rpm");
  stdfs::remove(dest, ec);
  stdfs::copy_file(cached, dest, ec);
  if (ec) return make_error(Errc::io_error, "cannot write " + dest.string() + ": " + ec.message());
  if (log.record)
    log.record({{"event", "rpm.package"},
                {"source", source_.name},
                {"package", e.name},
                {"evr", e.evr()},
                {"arch", e.arch},
                {"url", url},
                {e.checksum_type, e.checksum},
                {"from_cache", from_cache},
                {"verified_by", "primary metadata checksum under the signed repomd.xml"}});
  return dest;
}

}  // namespace airheal::collect
