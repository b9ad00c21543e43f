#include "collect/alpine.hpp"

#include <algorithm>
#include <cctype>

#include "collect/url.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "version/version.hpp"

namespace airheal::collect {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

namespace {

bool safe_component(const std::string& s) {
  return !s.empty() && s.size() <= 200 && s[0] != '.' &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '+' || c == '~';
         });
}

}  // namespace

Result<std::vector<ApkIndexEntry>> parse_apkindex(std::string_view text) {
  auto records = apk::parse_database(text);
  if (!records) return make_error(records.error().code, "APKINDEX: " + records.error().message);
  std::vector<ApkIndexEntry> out;
  out.reserve(records->size());
  for (auto& r : *records) {
    ApkIndexEntry e;
    std::size_t start = 0;
    while (start < r.text.size()) {
      auto nl = r.text.find('\n', start);
      auto line = r.text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      start = nl == std::string::npos ? r.text.size() : nl + 1;
      if (line.rfind("C:", 0) == 0) e.checksum = line.substr(2);
    }
    if (e.checksum.rfind("Q1", 0) != 0 || e.checksum.size() != 30)
      return make_error(Errc::invalid_argument,
                        "APKINDEX: " + r.name + " " + r.version + " has no usable C: checksum");
    if (!safe_component(r.name) || !safe_component(r.version))
      return make_error(Errc::invalid_argument,
                        "APKINDEX: a record names '" + r.name.substr(0, 80) + "' '" +
                            r.version.substr(0, 80) + "', not a package file name");
    e.record = std::move(r);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ApkChosen> select_apk(const std::vector<ApkIndexEntry>& index, const std::string& arch,
                                  const std::vector<ApkWant>& wants,
                                  std::vector<std::string>& missing) {
  std::vector<ApkChosen> out;
  for (const auto& w : wants) {
    const ApkIndexEntry* best = nullptr;
    std::string newest;
    for (const auto& e : index) {
      if (e.record.name != w.name) continue;
      if (!w.origin.empty() && !e.record.origin.empty() && e.record.origin != w.origin) continue;
      if (newest.empty() || version::compare_apk(e.record.version, newest) > 0)
        newest = e.record.version;
      if (!w.min_version.empty() && version::compare_apk(e.record.version, w.min_version) < 0)
        continue;
      if (!best || version::compare_apk(e.record.version, best->record.version) > 0) best = &e;
    }
    if (best) {
      out.push_back({*best, arch, w.why});
      continue;
    }
    missing.push_back(w.name + ":" + arch +
                      (newest.empty() ? ": not in this repository"
                                      : ": the newest build here is " + newest + ", older than " +
                                            w.min_version + " that fixes it"));
  }
  return out;
}

Result<ApkRepository> ApkRepository::open(const ApkSource& source, const std::string& arch,
                                          const stdfs::path& cache, const FetchOptions& fetch,
                                          const ApkLog& log) {
  ApkRepository repo;
  repo.source_ = source;
  repo.arch_ = arch;
  repo.cache_ = cache / "apk" / source.name / arch;
  repo.fetch_ = fetch;
  std::error_code ec;
  stdfs::create_directories(repo.cache_, ec);
  stdfs::create_directories(cache / "apks", ec);
  const auto root = base_url(source.url);
  const std::string url = root + "/" + arch + "/APKINDEX.tar.gz";
  const std::string who = source.name + " (" + url + ")";
  auto file = repo.cache_ / "APKINDEX.tar.gz";
  stdfs::remove(file, ec);  // the index is fetched fresh on every run
  FetchOptions o = fetch;
  o.max_bytes = 64u << 20;
  if (auto got = fetch_to_file(url, file, o); !got)
    return make_error(got.error().code, who + ": " + got.error().message);
  auto index = apk::read_index(file);
  if (!index) return make_error(index.error().code, who + ": " + index.error().message);
  if (index->signatures.empty()) return make_error(Errc::denied, who + ": the index is not signed");
  std::string good, problems;
  for (const auto& sig : index->signatures) {
    auto key = fs::read_file(stdfs::path(source.keys) / sig.key_name, 1 << 20);
    if (!key) {
      problems += (problems.empty() ? "" : "; ") + std::string("signed by ") + sig.key_name +
                  ", which is not in " + source.keys;
      continue;
    }
    if (auto st = apk::verify_signature(index->signed_member, sig, *key); !st) {
      return make_error(Errc::denied, who + ": BAD signature on the index by " + sig.key_name +
                                          " (altered in transit or at the mirror)");
    }
    good = sig.key_name;
  }
  if (good.empty())
    return make_error(Errc::denied, who + ": no good signature on the index by a key of " +
                                        source.keys + " (" + problems + ")");
  auto entries = parse_apkindex(index->apkindex);
  if (!entries) return make_error(entries.error().code, who + ": " + entries.error().message);
  repo.index_ = std::move(*entries);
  if (log.record) {
    auto bytes = fs::read_file(file, o.max_bytes);
    log.record({{"event", "apk.index"},
                {"source", source.name},
                {"url", url},
                {"sha256", bytes ? Sha256::of(*bytes).hex() : ""},
                {"signed_by", good},
                {"description", index->description.substr(0, 200)}});
  }
  return repo;
}

Result<stdfs::path> ApkRepository::download(const ApkIndexEntry& e, const stdfs::path& out_dir,
                                            const ApkLog& log) const {
  const auto root = base_url(source_.url);
  const std::string file_name = e.record.name + "-" + e.record.version + ".apk";
  const std::string url = root + "/" + arch_ + "/" + file_name;
  // Cached by identity: the checksum the signed index names.
  std::string key = e.checksum.substr(2);
  for (auto& c : key)
    if (c == '/') c = '_';
  auto cached = cache_.parent_path().parent_path().parent_path() / "apks" / (key + ".apk");
  bool from_cache = false;
  auto check = [&]() -> Status {
    auto p = apk::read_package(cached);
    if (!p) return make_error(p.error().code, url + ": " + p.error().message + ": refused");
    if (p->identity != e.checksum)
      return make_error(Errc::digest_invalid,
                        url + " is not the package the signed index names (identity " +
                            p->identity + ", APKINDEX says " + e.checksum + "): refused");
    if (p->info.name != e.record.name || p->info.version != e.record.version ||
        (!e.record.arch.empty() && p->info.arch != e.record.arch))
      return make_error(Errc::invalid_argument, url + " says it is " + p->info.name + " " +
                                                    p->info.version + " " + p->info.arch +
                                                    ": refused");
    return {};
  };
  std::error_code ec;
  if (stdfs::exists(cached, ec) && check()) {
    from_cache = true;
  } else {
    stdfs::remove(cached, ec);
    FetchOptions o = fetch_;
    o.max_bytes = apk::kMaxPackageBytes;
    auto got = fetch_to_file(url, cached, o);
    if (!got) return make_error(got.error().code, source_.name + ": " + got.error().message);
    if (auto st = check(); !st) {
      stdfs::remove(cached, ec);
      return make_error(st.error().code, source_.name + ": " + st.error().message);
    }
  }
  stdfs::create_directories(out_dir, ec);
  auto dest = out_dir / file_name;
  stdfs::remove(dest, ec);
  stdfs::copy_file(cached, dest, ec);
  if (ec) return make_error(Errc::io_error, "cannot write " + dest.string() + ": " + ec.message());
  if (log.record)
    log.record({{"event", "apk.package"},
                {"source", source_.name},
                {"package", e.record.name},
                {"version", e.record.version},
                {"architecture", arch_},
                {"url", url},
                {"identity", e.checksum},
                {"from_cache", from_cache},
                {"verified_by", "identity (C:) in the signed APKINDEX"}});
  return dest;
}

}  // namespace airheal::collect
