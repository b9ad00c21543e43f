#include "heal/apk/apk_family.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "version/version.hpp"

namespace airheal::heal::alpine {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

std::string from_hex(std::string_view h) {
  std::string out;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    int a = nib(h[i]), b = nib(h[i + 1]);
    if (a < 0 || b < 0) return {};
    out += static_cast<char>(a * 16 + b);
  }
  return out;
}

std::string hex(std::string_view raw) {
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

// Does VERSION satisfy OP WANT in apk's ordering?
bool satisfies(const std::string& version, const std::string& op, const std::string& want) {
  if (op.empty()) return true;
  if (version.empty()) return false;  // an unversioned provides satisfies only unversioned deps
  if (op == "~" || op == "=~") return version == want || version.starts_with(want);
  if (op == "><") return false;  // a checksum pin: only that exact build
  int c = version::compare_apk(version, want);
  if (op == "=") return c == 0;
  if (op == ">=") return c >= 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  if (op == "<") return c < 0;
  return false;
}

// What a package provides for dependency name D: its own name (at its version) and each provides
// token; nullopt when it does not provide D, "" for an unversioned provides.
std::optional<std::string> provides(const std::string& name, const std::string& version,
                                    const std::vector<std::string>& tokens, const std::string& d) {
  if (name == d) return version;
  for (const auto& t : tokens) {
    auto eq = t.find('=');
    if (t.substr(0, eq) == d) return eq == std::string::npos ? std::string() : t.substr(eq + 1);
  }
  return std::nullopt;
}

struct Candidate {
  const ImportedContent* content = nullptr;
  apk::PkgInfo info;
  std::vector<std::string> scripts;
  bool trusted = false;
  std::string why_not;  // when not trusted
};

}  // namespace

std::optional<int> ApkFamily::compare_versions(std::string_view a, std::string_view b) const {
  if (!version::is_apk_version(a) || !version::is_apk_version(b)) return std::nullopt;
  return version::compare_apk(a, b);
}

Result<std::string> ApkFamily::package_metadata(const fsys::path& file) const {
  auto p = apk::read_package(file);
  if (!p) return p.error();
  json sigs = json::array();
  for (const auto& s : p->signatures)
    sigs.push_back({{"algorithm", s.algorithm}, {"key", s.key_name}, {"signature", hex(s.bytes)}});
  json j = {{"pkginfo", p->pkginfo},
            {"identity", p->identity},
            {"size", p->size},
            {"signatures", sigs},
            {"scripts", p->scripts}};
  if (!p->signatures.empty()) j["control"] = hex(p->control_member);
  return j.dump();
}

Result<FixedPackage> ApkFamily::read_package(const PackagePin& pin, const fsys::path& file) const {
  auto what = "package " + pin.name + " " + pin.version;
  auto p = apk::read_package(file);
  if (!p) return make_error(Errc::invalid_argument, what + ": " + p.error().message);
  if (p->info.name != pin.name || p->info.version != pin.version)
    return make_error(Errc::invalid_argument, "the imported file for " + pin.name + " " +
                                                  pin.version + " is " + p->info.name + " " +
                                                  p->info.version);
  FixedPackage out;
  out.name = p->info.name;
  out.version = p->info.version;
  out.architecture = p->info.arch;
  out.file_name = p->info.name + "-" + p->info.version + ".apk";
  out.metadata = apk::index_record(*p);
  out.file = file;
  out.size = p->size;
  return out;
}

Result<std::set<std::string>> ApkFamily::package_paths(const fsys::path& file) const {
  auto p = apk::read_package(file, true);
  if (!p) return p.error();
  std::set<std::string> out;
  for (const auto& d : p->data)
    if (d.type != 'd') out.insert(d.path);
  return out;
}

Status write_apkindex(const fsys::path& file, const std::vector<std::string>& records,
                      std::int64_t now) {
  std::string index;
  for (const auto& r : records) index += r + "\n";
  std::string description = "airheal: imported fixed packages for one heal (verified on import)";
  std::string out;
  struct archive* a = archive_write_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_write_free);
  archive_write_set_format_ustar(a);
  archive_write_add_filter_gzip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  std::vector<char> buf(index.size() + description.size() + 64 * 1024);
  std::size_t used = 0;
  if (archive_write_open_memory(a, buf.data(), buf.size(), &used) != ARCHIVE_OK)
    return make_error(Errc::io_error, "APKINDEX: " + std::string(archive_error_string(a)));
  for (auto [name, text] : {std::pair{"DESCRIPTION", std::string_view(description)},
                            std::pair{"APKINDEX", std::string_view(index)}}) {
    std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                             archive_entry_free);
    archive_entry_set_pathname(e.get(), name);
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(text.size()));
    archive_entry_set_mtime(e.get(), now, 0);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK ||
        archive_write_data(a, text.data(), text.size()) != static_cast<la_ssize_t>(text.size()))
      return make_error(Errc::io_error, "APKINDEX: " + std::string(archive_error_string(a)));
  }
  if (archive_write_close(a) != ARCHIVE_OK)
    return make_error(Errc::io_error, "APKINDEX: " + std::string(archive_error_string(a)));
  return fs::write_file_atomic(file, std::string_view(buf.data(), used));
}

// The local repository (REPO/<arch>/ with the plan's packages and an APKINDEX.tar.gz over them)
// and the image's own apk upgrading from it: the repository is the only one apk sees
// (--repositories-file /dev/null), no network, no cache. The index is airheal's own and
// unsigned, so apk runs with --allow-untrusted; every package in it was verified before it was
// planned (signed by a key the image trusts, or unsigned from a channel whose policy allows it).
Result<ToolInstall> ApkFamily::tool_install(const Plan& plan,
                                            const std::vector<FixedPackage>& packages,
                                            const fsys::path& repo, const fsys::path& scratch,
                                            std::int64_t now) const {
  if (packages.size() != plan.packages.size())
    return make_error(Errc::invalid_argument, "the plan's packages were not all read");
  std::map<std::string, std::vector<std::string>> by_arch;
  for (const auto& fp : packages) by_arch[fp.architecture].push_back(fp.metadata);
  std::error_code ec;
  std::string arch = "x86_64";
  for (const auto& fp : packages)
    if (fp.architecture != "noarch") arch = fp.architecture;
  auto dir = repo / arch;
  fsys::create_directories(dir, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  std::vector<std::string> records;
  for (const auto& fp : packages) {
    if (auto st = place_in_repository(fp.file, dir, fp.file_name); !st) return st.error();
    records.push_back(fp.metadata);
  }
  if (auto st = write_apkindex(dir / "APKINDEX.tar.gz", records, now); !st) return st.error();
  ToolInstall t;
  t.tool = "apk";
  t.mounts.push_back({repo, kApkRepoMount, true});
  t.commands.push_back({"apk", "upgrade", "--no-network", "--no-cache", "--repositories-file",
                        "/dev/null", "--repository", kApkRepoMount, "--allow-untrusted"});
  t.note = "apk: upgrade from a local repository of " + std::to_string(packages.size()) +
           " verified package(s), no network";
  return t;
}

// Each fixed package's files and its record in lib/apk/db/installed as apk writes it (the other
// records kept byte for byte); whiteouts for files the fixed version no longer ships.
Status ApkFamily::write_files(const Plan& plan, const std::vector<FixedPackage>& packages,
                              const ImageFiles& image, LayerWriter& w, const Staging&) const {
  if (packages.size() != plan.packages.size())
    return make_error(Errc::invalid_argument, "the plan's packages were not all read");
  auto db_path = plan.packages.empty() || plan.packages[0].record.empty()
                     ? std::string(kInstalledPath)
                     : plan.packages[0].record;
  auto db = image.read(db_path, apk::kMaxDatabaseBytes);
  if (!db) return make_error(Errc::io_error, "/" + db_path + ": " + db.error().message);
  auto old = apk::parse_database(*db);
  if (!old) return make_error(Errc::invalid_argument, "/" + db_path + ": " + old.error().message);
  std::string text = *db;
  std::set<std::string> removed, new_files;
  for (std::size_t i = 0; i < packages.size(); ++i) {
    const auto& pin = plan.packages[i];
    auto p = apk::read_package(packages[i].file, true);
    if (!p)
      return make_error(Errc::invalid_argument, "package " + pin.name + ": " + p.error().message);
    if (!p->scripts.empty())
      return make_error(Errc::unsupported, "package " + pin.name + " has install scripts (" +
                                               p->scripts.front() +
                                               "), which cannot run without apk-tools");
    std::set<std::string> paths;
    if (auto st = w.add_tar_stream(packages[i].file, p->control_entries, &paths); !st) return st;
    new_files.insert(paths.begin(), paths.end());
    for (const auto& r : *old)
      if (r.name == pin.name) removed.insert(r.files.begin(), r.files.end());
    auto replaced = apk::replace_record(text, pin.name, apk::installed_record(*p));
    if (!replaced)
      return make_error(Errc::invalid_argument, "/" + db_path + ": " + replaced.error().message);
    text = std::move(*replaced);
  }
  if (auto st = w.add_bytes(db_path, text, 0644); !st) return st;
  for (const auto& r : removed)
    if (!new_files.count(r) && image.has(r) && !w.written().count(r))
      if (auto st = w.add_whiteout(r); !st) return st;
  return {};
}

Result<ApkDatabase> ApkFamily::read_database(const ImageFiles& image) {
  ApkDatabase db;
  if (!image.has(db.path) && image.has("usr/lib/apk/db/installed"))
    db.path = "usr/lib/apk/db/installed";
  auto text = image.read(db.path, apk::kMaxDatabaseBytes);
  if (!text) return text.error();
  auto recs = apk::parse_database(*text);
  if (!recs) return make_error(Errc::invalid_argument, "/" + db.path + ": " + recs.error().message);
  db.packages = std::move(*recs);
  if (auto a = image.read("etc/apk/arch", 256)) {
    auto s = *a;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    db.architecture = s;
  }
  if (db.architecture.empty()) {
    std::map<std::string, int> n;
    for (const auto& p : db.packages)
      if (p.arch != "noarch" && !p.arch.empty()) ++n[p.arch];
    int most = 0;
    for (const auto& [a, c] : n)
      if (c > most) {
        most = c;
        db.architecture = a;
      }
  }
  for (const auto& [path, f] : image.files()) {
    if (!path.starts_with("etc/apk/keys/") || f.file.type != 'f') continue;
    auto name = path.substr(13);
    if (name.empty() || name.find('/') != std::string::npos) continue;
    if (auto pem = image.read(path, 64 << 10)) db.keys[name] = *pem;
  }
  bool tool = image.has("sbin/apk") || image.has("usr/sbin/apk") || image.has("bin/apk");
  for (const auto& p : db.packages)
    if (p.name == "apk-tools") db.apk = tool;
  return db;
}

// Alpine findings grouped by origin (the aport, as secdb names it): an origin is healed only with
// every installed package built from it, at a version at least the fixed one, plus what those
// builds depend on that the image does not already satisfy. What cannot be completed is deferred
// with the missing build named.
FamilyPlan ApkFamily::plan(const FamilyPlanInput& input, PlanSources& io) const {
  FamilyPlan out;
  auto origins = findings_by_source(*this, input, out);
  if (origins.empty()) return out;
  auto db = image_database<ApkDatabase>(io, read_database);
  if (!db) {
    for (const auto& [origin, need] : origins)
      defer_source(out, origin, need,
                   "the image's apk database cannot be read: " + db.error().message, {});
    return out;
  }
  // The imported packages this image could take, each with whether its trust is established.
  std::vector<Candidate> pool;
  for (const auto& [content, meta] : imported_metadata(input, io)) {
    const auto& c = *content;
    if (!meta.contains("pkginfo")) continue;
    auto info = apk::parse_pkginfo(meta.value("pkginfo", std::string()));
    if (!info || info->name != c.name || info->version != c.version) continue;
    if (info->arch != db->architecture && info->arch != "noarch") continue;
    Candidate cand;
    cand.content = &c;
    cand.info = std::move(*info);
    for (const auto& s : meta.value("scripts", json::array())) cand.scripts.push_back(s);
    auto sigs = meta.value("signatures", json::array());
    if (sigs.empty()) {
      cand.trusted = input.unsigned_channels && input.unsigned_channels->count(c.channel);
      if (!cand.trusted)
        cand.why_not = c.name + " " + c.version + " is unsigned and channel '" + c.channel +
                       "' may not bring unsigned packages (heal.unsigned_packages)";
    } else {
      apk::PackageFile pf;
      pf.control_member = from_hex(meta.value("control", std::string()));
      for (const auto& s : sigs) {
        apk::Signature sig{s.value("algorithm", ""), s.value("key", ""),
                           from_hex(s.value("signature", std::string()))};
        auto key = db->keys.find(sig.key_name);
        if (key == db->keys.end()) {
          cand.why_not = c.name + " " + c.version + " is signed by " + sig.key_name +
                         ", which is not in the image's /etc/apk/keys";
          continue;
        }
        if (auto st = apk::verify_signature(pf, sig, key->second); !st) {
          cand.why_not = c.name + " " + c.version + ": " + st.error().message;
          continue;
        }
        cand.trusted = true;
        break;
      }
    }
    pool.push_back(std::move(cand));
  }
  std::map<std::string, const apk::Record*> installed;
  for (const auto& r : db->packages) installed[r.name] = &r;
  struct Pick {
    std::size_t pool;
    std::string fixes, needed_by;
  };
  std::map<std::string, Pick> chosen;  // by package name
  auto best_named = [&](const std::string& name, const std::string& above,
                        const std::string& at_least,
                        std::string& why) -> std::optional<std::size_t> {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      const auto& c = pool[i];
      if (c.info.name != name) continue;
      if (!above.empty() && version::compare_apk(c.info.version, above) <= 0) continue;
      if (!at_least.empty() && version::compare_apk(c.info.version, at_least) < 0) continue;
      if (!c.trusted) {
        why = c.why_not;
        continue;
      }
      if (!db->apk && !c.scripts.empty()) {
        why = name + " " + c.info.version + " has install scripts (" + c.scripts.front() +
              "), which cannot run in an image without apk-tools";
        continue;
      }
      if (!best || version::compare_apk(c.info.version, pool[*best].info.version) > 0) best = i;
    }
    return best;
  };
  for (const auto& [origin, need] : origins) {
    std::map<std::string, Pick> add;
    std::vector<std::string> missing;
    std::string reason;
    std::string ids;
    for (const auto& i : need.ids) ids += (ids.empty() ? "" : ",") + i;
    bool any = false;
    for (const auto& r : db->packages) {
      if (r.origin != origin) continue;
      any = true;
      if (version::compare_apk(r.version, need.fixed) >= 0) continue;  // already fixed
      std::string why;
      auto best = best_named(r.name, r.version, need.fixed, why);
      if (!best) {
        missing.push_back(r.name + " " + need.fixed);
        if (!why.empty()) reason = why;
        continue;
      }
      add[r.name] = {*best, ids, ""};
    }
    if (!any) {
      defer_source(out, origin, need, "no installed package is built from " + origin, {});
      continue;
    }
    // What the picked builds depend on, satisfied by what stays installed, what is picked, or
    // another imported build.
    std::vector<std::string> queue;
    for (const auto& [n, _] : add) queue.push_back(n);
    for (std::size_t qi = 0; qi < queue.size() && missing.empty() && qi < 10000; ++qi) {
      const auto& picked = pool[add[queue[qi]].pool].info;
      for (const auto& token : picked.depends) {
        auto d = apk::parse_dependency(token);
        if (!d) {
          missing.push_back(token);
          reason = picked.name + " " + picked.version +
                   " has a dependency airheal cannot read: " + token;
          continue;
        }
        if (d->conflict) continue;
        auto satisfied = [&] {
          for (const auto* set : {&add, &chosen})
            for (const auto& [n, pk] : *set) {
              const auto& info = pool[pk.pool].info;
              if (auto v = provides(info.name, info.version, info.provides, d->name);
                  v && satisfies(*v, d->op, d->version))
                return true;
            }
          for (const auto& [n, r] : installed) {
            if (add.count(n) || chosen.count(n)) continue;  // being replaced
            if (auto v = provides(r->name, r->version, r->provides, d->name);
                v && satisfies(*v, d->op, d->version))
              return true;
          }
          return false;
        };
        if (satisfied()) continue;
        std::optional<std::size_t> best;
        for (std::size_t i = 0; i < pool.size(); ++i) {
          const auto& c = pool[i];
          auto v = provides(c.info.name, c.info.version, c.info.provides, d->name);
          if (!v || !satisfies(*v, d->op, d->version) || !c.trusted) continue;
          if (!db->apk && !c.scripts.empty()) continue;
          if (!best || version::compare_apk(c.info.version, pool[*best].info.version) > 0) best = i;
        }
        if (!best) {
          missing.push_back(token);
          reason = picked.name + " " + picked.version + " depends on " + token +
                   ", which neither the image nor an imported package provides";
          continue;
        }
        const auto& dep = pool[*best].info;
        if (!add.count(dep.name)) {
          add[dep.name] = {*best, "", picked.name + " " + picked.version + " depends on " + token};
          queue.push_back(dep.name);
        }
      }
    }
    if (!missing.empty()) {
      defer_source(out, origin, need,
                   reason.empty() ? "no imported build of " + origin + " at " + need.fixed +
                                        " or later for every installed package built from it"
                                  : reason,
                   missing);
      continue;
    }
    for (auto& [n, pk] : add) chosen.emplace(n, pk);
    out.targeted.insert(need.ids.begin(), need.ids.end());
  }
  for (const auto& [name, pk] : chosen) {
    const auto& c = pool[pk.pool];
    out.packages.push_back({c.info.name, c.info.version, c.info.arch, c.content->digest, pk.fixes,
                            db->apk ? std::string() : db->path, pk.needed_by});
    out.used.push_back(c.content);
  }
  if (!out.packages.empty()) out.installer = db->apk ? "apk" : "files";
  return out;
}

}  // namespace airheal::heal::alpine
