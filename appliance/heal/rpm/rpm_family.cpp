#include "heal/rpm/rpm_family.hpp"

#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "scan/pkgdb.hpp"
#include "version/version.hpp"

namespace airheal::heal::rpmfamily {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint32_t kDirMode = 040000, kTypeMask = 0170000;

json deps_json(const std::vector<rpm::Dependency>& deps) {
  json out = json::array();
  for (const auto& d : deps) out.push_back({d.name, d.op, d.version});
  return out;
}

std::vector<rpm::Dependency> deps_of(const json& j) {
  std::vector<rpm::Dependency> out;
  if (!j.is_array()) return out;
  for (const auto& d : j)
    if (d.is_array() && d.size() == 3 && d[0].is_string() && d[1].is_string() && d[2].is_string())
      out.push_back({d[0].get<std::string>(), d[1].get<std::string>(), d[2].get<std::string>()});
  return out;
}

// What an imported package says about itself (package_metadata's JSON, read back).
struct Candidate {
  const ImportedContent* content = nullptr;
  std::string name, evr, arch, source;
  std::vector<rpm::Dependency> requires_, provides;
  std::set<std::string> files;
  std::vector<std::string> scripts, signers;
  bool trusted = false;
  std::string why_not;
};

// Does a package named NAME at EVR, with PROVIDES and FILES, satisfy DEP?
bool provides_dep(const std::string& name, const std::string& evr,
                  const std::vector<rpm::Dependency>& provides, const std::set<std::string>& files,
                  const rpm::Dependency& dep) {
  if (dep.name.starts_with("/") && files.count(dep.name.substr(1))) return true;
  if (name == dep.name && satisfies(evr, dep)) return true;
  for (const auto& p : provides)
    if (p.name == dep.name && satisfies(p.op == "=" ? p.version : std::string(), dep)) return true;
  return false;
}

std::string image_text(const ImageFiles& image, const std::string& path) {
  auto t = image.read(path, 64 << 10);
  return t ? *t : std::string();
}

bool has_program(const ImageFiles& image, const std::string& name) {
  for (auto dir : {"usr/bin/", "bin/", "usr/sbin/", "sbin/"})
    if (image.has(dir + name)) return true;
  return false;
}

// A folder under the system's temporary folder, removed with everything in it.
class TempFolder {
 public:
  static Result<TempFolder> make(const std::string& prefix) {
    auto pattern = (fsys::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (!::mkdtemp(pattern.data()))
      return make_error(Errc::io_error,
                        "cannot create a temporary folder: " + std::string(std::strerror(errno)));
    TempFolder t;
    t.path_ = pattern;
    return t;
  }
  TempFolder() = default;
  TempFolder(TempFolder&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempFolder& operator=(TempFolder&&) = delete;
  ~TempFolder() {
    std::error_code ec;
    if (!path_.empty()) fsys::remove_all(path_, ec);
  }
  const fsys::path& path() const { return path_; }

 private:
  fsys::path path_;
};

std::string command_text(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// rpm's messages on one line ("error: Failed dependencies: greet-data >= 1.1 is needed by ..."),
// without Debian's notice that rpm is not its package manager.
std::string one_line(const std::string& text) {
  std::string out, line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    if (line.starts_with("rpm: RPM should not be used directly") ||
        line.starts_with("rpm: However assuming you know"))
      continue;
    auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    out += (out.empty() ? "" : " ") + line.substr(b);
  }
  return out.size() > 2000 ? out.substr(0, 2000) + "..." : out;
}

}  // namespace

bool satisfies(const std::string& provided, const rpm::Dependency& dep) {
  if (dep.op.empty() || provided.empty()) return true;
  int c = version::compare_rpm(provided, dep.version);
  if (dep.op == "=") return c == 0;
  if (dep.op == ">=") return c >= 0;
  if (dep.op == "<=") return c <= 0;
  if (dep.op == ">") return c > 0;
  if (dep.op == "<") return c < 0;
  return false;
}

std::optional<int> RpmFamily::compare_versions(std::string_view a, std::string_view b) const {
  if (a.empty() || b.empty()) return std::nullopt;
  return version::compare_rpm(a, b);
}

Result<std::string> RpmFamily::package_metadata(const fsys::path& file) const {
  auto p = rpm::read_package(file);
  if (!p) return p.error();
  const auto& h = p->header;
  json files = json::array();
  for (std::size_t i = 0; i < h.files.size(); ++i)
    if (i >= h.file_modes.size() || (h.file_modes[i] & kTypeMask) != kDirMode)
      files.push_back(h.files[i]);
  json j = {{"name", h.name},
            {"evr", h.evr()},
            {"arch", h.arch},
            {"source", h.source_name()},
            {"requires", deps_json(h.requires_)},
            {"provides", deps_json(h.provides)},
            {"files", files},
            {"scripts", h.scripts},
            {"signers", p->signer_key_ids}};
  return j.dump();
}

Result<FixedPackage> RpmFamily::read_package(const PackagePin& pin, const fsys::path& file) const {
  auto p = rpm::read_package(file);
  if (!p)
    return make_error(Errc::invalid_argument,
                      "package " + pin.name + " " + pin.version + ": " + p.error().message);
  const auto& h = p->header;
  if (h.name != pin.name || h.evr() != pin.version)
    return make_error(Errc::invalid_argument, "the imported file for " + pin.name + " " +
                                                  pin.version + " is " + h.name + " " + h.evr());
  FixedPackage out;
  out.name = h.name;
  out.version = h.evr();
  out.architecture = h.arch;
  out.file_name = h.name + "-" + h.version + "-" + h.release + "." + h.arch + ".rpm";
  out.metadata = json({{"signed", p->signed_()}, {"nevra", h.nevra()}}).dump();
  out.file = file;
  out.size = p->size;
  return out;
}

Result<std::set<std::string>> RpmFamily::package_paths(const fsys::path& file) const {
  auto p = rpm::read_package(file);
  if (!p) return p.error();
  std::set<std::string> out;
  const auto& h = p->header;
  for (std::size_t i = 0; i < h.files.size(); ++i)
    if (i >= h.file_modes.size() || (h.file_modes[i] & kTypeMask) != kDirMode)
      out.insert(h.files[i]);
  return out;
}

Result<RpmDatabase> RpmFamily::read_database(const ImageFiles& image) {
  RpmDatabase db;
  for (auto dir : {"usr/lib/sysimage/rpm", "var/lib/rpm"}) {
    std::string d = dir;
    if (image.has(d + "/rpmdb.sqlite")) {
      db.dbpath = d;
      break;
    }
    for (auto legacy : {"/Packages", "/Packages.db"})
      if (image.has(d + legacy))
        return make_error(Errc::unsupported,
                          "the image's rpm database /" + d + legacy +
                              " is Berkeley DB or ndb (rpm before 4.16): airheal reads it for "
                              "scans but writes only rpmdb.sqlite");
  }
  if (db.dbpath.empty()) return make_error(Errc::not_found, "the image has no rpm database");
  if (auto wal = image.files().find(db.dbpath + "/rpmdb.sqlite-wal");
      wal != image.files().end() && wal->second.file.size > 0)
    return make_error(Errc::unsupported, "/" + db.dbpath +
                                             "/rpmdb.sqlite-wal holds changes rpm has not yet "
                                             "written into rpmdb.sqlite");
  auto bytes = image.read(db.dbpath + "/rpmdb.sqlite", rpm::kMaxDatabaseBytes);
  if (!bytes) return bytes.error();
  auto headers = rpm::read_database_sqlite(*bytes);
  if (!headers)
    return make_error(Errc::invalid_argument,
                      "/" + db.dbpath + "/rpmdb.sqlite: " + headers.error().message);
  for (auto& h : *headers) {
    if (h.gpg_pubkey()) {
      auto id = h.version;
      std::transform(id.begin(), id.end(), id.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      db.keys.insert(id);
    } else {
      db.packages.push_back(std::move(h));
    }
  }
  bool rpm = has_program(image, "rpm");
  if (rpm && (has_program(image, "dnf") || has_program(image, "dnf-3")))
    db.tool = "dnf";
  else if (rpm && has_program(image, "yum"))
    db.tool = "yum";
  else if (rpm)
    db.tool = "rpm";
  auto os = image_text(image, "etc/os-release");
  if (os.empty()) os = image_text(image, "usr/lib/os-release");
  db.release = scan::parse_os_release(os)["VERSION_ID"];
  return db;
}

// rpm findings grouped by source rpm: a source is healed only with every installed package built
// from it at a version at least the fixed one (rpm's own subpackages require each other at the
// exact same version), plus what those builds require that the image does not already provide.
FamilyPlan RpmFamily::plan(const FamilyPlanInput& input, PlanSources& io) const {
  FamilyPlan out;
  auto sources = findings_by_source(*this, input, out);
  if (sources.empty()) return out;
  auto db = image_database<RpmDatabase>(io, read_database);
  if (!db) {
    for (const auto& [source, need] : sources)
      defer_source(out, source, need,
                   "the image's rpm database cannot be used: " + db.error().message, {});
    return out;
  }
  std::set<std::string> arches{"noarch"};
  for (const auto& h : db->packages) arches.insert(h.arch);
  std::vector<Candidate> pool;
  for (const auto& [content, meta] : imported_metadata(input, io)) {
    const auto& c = *content;
    if (!meta.contains("evr")) continue;
    Candidate cand;
    cand.content = content;
    cand.name = meta.value("name", "");
    cand.evr = meta.value("evr", "");
    cand.arch = meta.value("arch", "");
    cand.source = meta.value("source", "");
    if (cand.name != c.name || cand.evr != c.version || !arches.count(cand.arch)) continue;
    cand.requires_ = deps_of(meta.value("requires", json::array()));
    cand.provides = deps_of(meta.value("provides", json::array()));
    for (const auto& f : meta.value("files", json::array()))
      if (f.is_string()) cand.files.insert(f.get<std::string>());
    for (const auto& s : meta.value("scripts", json::array()))
      if (s.is_string()) cand.scripts.push_back(s.get<std::string>());
    for (const auto& s : meta.value("signers", json::array()))
      if (s.is_string()) cand.signers.push_back(s.get<std::string>());
    if (cand.signers.empty()) {
      cand.trusted = input.unsigned_channels && input.unsigned_channels->count(c.channel);
      if (!cand.trusted)
        cand.why_not = c.name + " " + c.version + " is unsigned and channel '" + c.channel +
                       "' may not bring unsigned packages (heal.unsigned_packages)";
    } else {
      for (const auto& s : cand.signers)
        if (s.size() == 16 && db->keys.count(s.substr(8))) cand.trusted = true;
      if (!cand.trusted)
        cand.why_not = c.name + " " + c.version + " is signed by key " + cand.signers.front() +
                       ", which the image's rpm database does not hold (no gpg-pubkey-" +
                       cand.signers.front().substr(8) + ")";
    }
    pool.push_back(std::move(cand));
  }
  std::map<std::string, std::set<std::string>> installed_files;  // by package name
  for (const auto& h : db->packages) installed_files[h.name].insert(h.files.begin(), h.files.end());
  struct Pick {
    std::size_t pool;
    std::string fixes, needed_by;
  };
  std::map<std::string, Pick> chosen;  // by "name.arch"
  auto key_of = [](const std::string& n, const std::string& a) { return n + "." + a; };
  for (const auto& [source, need] : sources) {
    std::map<std::string, Pick> add;
    std::vector<std::string> missing;
    std::string reason, ids;
    for (const auto& i : need.ids) ids += (ids.empty() ? "" : ",") + i;
    bool any = false;
    for (const auto& h : db->packages) {
      if (h.source_name() != source) continue;
      any = true;
      if (version::compare_rpm(h.evr(), need.fixed) >= 0) continue;  // already fixed
      std::optional<std::size_t> best;
      std::string why;
      for (std::size_t i = 0; i < pool.size(); ++i) {
        const auto& c = pool[i];
        if (c.name != h.name || (c.arch != h.arch && c.arch != "noarch" && h.arch != "noarch"))
          continue;
        if (version::compare_rpm(c.evr, need.fixed) < 0 ||
            version::compare_rpm(c.evr, h.evr()) <= 0)
          continue;
        if (!c.trusted) {
          why = c.why_not;
          continue;
        }
        if (!best || version::compare_rpm(c.evr, pool[*best].evr) > 0) best = i;
      }
      if (!best) {
        missing.push_back(h.name + "." + h.arch + " " + need.fixed);
        if (!why.empty()) reason = why;
        continue;
      }
      add[key_of(h.name, h.arch)] = {*best, ids, ""};
    }
    if (!any) {
      defer_source(out, source, need, "no installed package is built from " + source, {});
      continue;
    }
    // What the picked builds require, satisfied by what stays installed, what is picked, or
    // another imported build (rpm and dnf check the same again when they install).
    std::vector<std::string> queue;
    for (const auto& [k, _] : add) queue.push_back(k);
    for (std::size_t qi = 0; qi < queue.size() && missing.empty() && qi < 10000; ++qi) {
      const auto picked = pool[add[queue[qi]].pool];
      for (const auto& dep : picked.requires_) {
        if (dep.rpmlib() || dep.name.starts_with("config(")) continue;
        auto satisfied = [&] {
          for (const auto* set : {&add, &chosen})
            for (const auto& [k, pk] : *set) {
              const auto& c = pool[pk.pool];
              if (provides_dep(c.name, c.evr, c.provides, c.files, dep)) return true;
            }
          for (const auto& h : db->packages) {
            if (add.count(key_of(h.name, h.arch)) || chosen.count(key_of(h.name, h.arch)))
              continue;  // being replaced
            if (provides_dep(h.name, h.evr(), h.provides, installed_files[h.name], dep))
              return true;
          }
          return false;
        };
        if (satisfied()) continue;
        std::optional<std::size_t> best;
        for (std::size_t i = 0; i < pool.size(); ++i) {
          const auto& c = pool[i];
          if (!c.trusted || !provides_dep(c.name, c.evr, c.provides, c.files, dep)) continue;
          if (!best || version::compare_rpm(c.evr, pool[*best].evr) > 0) best = i;
        }
        if (!best) {
          missing.push_back(dep.text());
          reason = picked.name + " " + picked.evr + " requires " + dep.text() +
                   ", which neither the image nor an imported package provides";
          continue;
        }
        const auto& d = pool[*best];
        auto k = key_of(d.name, d.arch);
        if (!add.count(k)) {
          add[k] = {*best, "", picked.name + " " + picked.evr + " requires " + dep.text()};
          queue.push_back(k);
        }
      }
    }
    if (!missing.empty()) {
      defer_source(out, source, need,
                   reason.empty() ? "no imported build of " + source + " at " + need.fixed +
                                        " or later for every installed package built from it"
                                  : reason,
                   missing);
      continue;
    }
    for (auto& [k, pk] : add) chosen.emplace(k, pk);
    out.targeted.insert(need.ids.begin(), need.ids.end());
  }
  for (const auto& [k, pk] : chosen) {
    const auto& c = pool[pk.pool];
    out.packages.push_back({c.name, c.evr, c.arch, c.content->digest, pk.fixes,
                            db->tool.empty() ? db->dbpath : std::string(), pk.needed_by});
    out.used.push_back(c.content);
    if (db->tool.empty())
      for (const auto& s : c.scripts)
        out.notes.push_back(s + " scriptlet of " + c.name + " " + c.evr +
                            " is not run (--noscripts: nothing from the image runs on the host)");
  }
  if (!out.packages.empty()) out.installer = db->tool.empty() ? "host-rpm" : db->tool;
  return out;
}

// Local repositories under REPO (signed/ with gpgcheck on, unsigned/ for packages a channel's
// policy lets in), each indexed by createrepo_c, and a repos.d that names only them; the image's
// dnf installs the plan's NEVRAs from them with no network, its cache and logs on the scratch
// mount. An image with rpm but no dnf checks the signed packages' signatures (rpm -K against the
// keys in its database) and upgrades with rpm -U.
Result<ToolInstall> RpmFamily::tool_install(const Plan& plan,
                                            const std::vector<FixedPackage>& packages,
                                            const fsys::path& repo, const fsys::path& scratch,
                                            std::int64_t now) const {
  if (packages.size() != plan.packages.size())
    return make_error(Errc::invalid_argument, "the plan's packages were not all read");
  std::error_code ec;
  std::map<std::string, std::vector<const FixedPackage*>> groups;  // "signed"/"unsigned"
  for (const auto& fp : packages) {
    auto meta = json::parse(fp.metadata, nullptr, false);
    bool is_signed = meta.is_object() && meta.value("signed", false);
    groups[is_signed ? "signed" : "unsigned"].push_back(&fp);
  }
  std::string repos;
  std::vector<std::string> nevras, signed_files, all_files;
  for (const auto& [group, list] : groups) {
    auto dir = repo / group;
    fsys::create_directories(dir, ec);
    if (ec)
      return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
    for (const auto* fp : list) {
      if (auto st = place_in_repository(fp->file, dir, fp->file_name); !st) return st.error();
      auto meta = json::parse(fp->metadata, nullptr, false);
      nevras.push_back(meta.is_object() ? meta.value("nevra", fp->name) : fp->name);
      auto inside = std::string(kRpmRepoMount) + "/" + group + "/" + fp->file_name;
      all_files.push_back(inside);
      if (group == "signed") signed_files.push_back(inside);
    }
    std::vector<std::string> argv{"createrepo_c", "--quiet",           "--no-database",
                                  "--revision",   std::to_string(now), dir.string()};
    auto r = run_process(argv);
    if (r.exit_code != 0)
      return make_error(Errc::io_error,
                        "createrepo_c failed for the local repository: " + one_line(r.err));
    repos += "[airheal-" + group + "]\nname=airheal: " + group +
             " fixed packages imported from signed snapshots\nbaseurl=file://" + kRpmRepoMount +
             "/" + group + "\nenabled=1\ngpgcheck=" + (group == "signed" ? "1" : "0") +
             "\nrepo_gpgcheck=0\nskip_if_unavailable=0\n\n";
  }
  fsys::create_directories(repo / "repos.d", ec);
  if (auto st = fs::write_file_atomic(repo / "repos.d" / "airheal.repo", repos); !st)
    return st.error();
  auto installer = plan.installer.empty() ? std::string("dnf") : plan.installer;
  ToolInstall t;
  t.tool = installer;
  t.mounts.push_back({repo, kRpmRepoMount, true});
  if (installer == "dnf" || installer == "yum") {
    if (!scratch.empty()) {  // (empty: the outbox's build mounts a tmpfs there)
      fsys::create_directories(scratch, ec);
      if (ec)
        return make_error(Errc::io_error,
                          "cannot create " + scratch.string() + ": " + ec.message());
    }
    t.mounts.push_back({scratch, kRpmCacheMount, false});
    std::vector<std::string> cmd{installer,
                                 "-y",
                                 "--noplugins",
                                 std::string("--setopt=reposdir=") + kRpmRepoMount + "/repos.d",
                                 std::string("--setopt=cachedir=") + kRpmCacheMount + "/cache",
                                 std::string("--setopt=logdir=") + kRpmCacheMount + "/log",
                                 "--setopt=keepcache=False",
                                 "--setopt=install_weak_deps=False"};
    cmd.push_back("install");
    cmd.insert(cmd.end(), nevras.begin(), nevras.end());
    t.commands.push_back(std::move(cmd));
    t.note = installer + ": install " + std::to_string(packages.size()) +
             " verified package(s) from local repositories made with createrepo_c, no network" +
             (signed_files.empty() ? "" : "; gpgcheck on for the signed ones");
  } else {
    if (!signed_files.empty()) {
      std::vector<std::string> check{"rpm", "-K", "--define", "_pkgverify_level signature"};
      check.insert(check.end(), signed_files.begin(), signed_files.end());
      t.commands.push_back(std::move(check));
    }
    std::vector<std::string> cmd{"rpm", "-U", "-v"};
    cmd.insert(cmd.end(), all_files.begin(), all_files.end());
    t.commands.push_back(std::move(cmd));
    t.note = "rpm: the image has no dnf; its rpm upgrades " + std::to_string(packages.size()) +
             " verified package(s)" +
             (signed_files.empty() ? "" : " after rpm -K checked the signed ones");
  }
  return t;
}

// The host's rpm installs the plan's packages into a staging root that holds the image's
// database, its configuration files of the packages being upgraded (so rpm keeps a changed
// %config(noreplace) file and writes .rpmnew, as it would in the image) and its passwd/group
// (file owners); --noscripts: nothing from the image runs on the host. What rpm changed there is
// the heal layer, plus whiteouts for files the fixed versions no longer ship.
Status RpmFamily::write_files(const Plan& plan, const std::vector<FixedPackage>& packages,
                              const ImageFiles& image, LayerWriter& w,
                              const Staging& staging) const {
  if (packages.size() != plan.packages.size())
    return make_error(Errc::invalid_argument, "the plan's packages were not all read");
  auto db = read_database(image);
  if (!db) return db.error();
  // The staging root: in the heal's work folder when a builder runs rpm, else a temporary one.
  std::optional<TempFolder> temp;
  fsys::path work = staging.work;
  if (work.empty()) {
    auto made = TempFolder::make("airheal-rpm-");
    if (!made) return made.error();
    temp.emplace(std::move(*made));
    work = temp->path();
  }
  HostRpmRequest request;
  request.work = work;
  request.root = "rpm-root";
  request.dbpath = db->dbpath;
  auto root = work / request.root;
  std::error_code ec;
  fsys::remove_all(root, ec);
  fsys::create_directories(root, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + root.string() + ": " + ec.message());
  struct Placed {
    std::string bytes;
    fsys::file_time_type mtime;
  };
  std::map<std::string, Placed> placed;  // image path -> what was placed in the staging root
  auto place = [&](const std::string& path, std::uint64_t max) -> Status {
    auto bytes = image.read(path, max);
    if (!bytes) return make_error(Errc::io_error, "/" + path + ": " + bytes.error().message);
    auto to = root / path;
    fsys::create_directories(to.parent_path(), ec);
    std::ofstream out(to, std::ios::binary);
    out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
    out.close();
    if (!out) return make_error(Errc::io_error, "cannot write " + to.string());
    auto mtime = fsys::last_write_time(to, ec);
    placed[path] = {std::move(*bytes), mtime};
    return {};
  };
  if (auto st = place(db->dbpath + "/rpmdb.sqlite", rpm::kMaxDatabaseBytes); !st) return st;
  for (auto f : {"etc/passwd", "etc/group"})
    if (image.has(f))
      if (auto st = place(f, 4 << 20); !st) return st;
  std::set<std::string> names;
  for (const auto& p : plan.packages) names.insert(p.name);
  std::set<std::string> old_files;
  for (const auto& h : db->packages) {
    if (!names.count(h.name)) continue;
    for (std::size_t i = 0; i < h.files.size(); ++i) {
      bool dir = i < h.file_modes.size() && (h.file_modes[i] & kTypeMask) == kDirMode;
      if (dir) continue;
      old_files.insert(h.files[i]);
      bool config = i < h.file_flags.size() && (h.file_flags[i] & 1);
      auto it = image.files().find(h.files[i]);
      if (config && it != image.files().end() && it->second.file.type == 'f')
        if (auto st = place(h.files[i], 64 << 20); !st) return st;
    }
  }
  std::set<std::string> new_files;
  for (const auto& fp : packages) {
    request.packages.push_back(fp.file);
    auto meta = json::parse(fp.metadata, nullptr, false);
    if (meta.is_object() && meta.value("signed", false)) request.signed_packages.push_back(fp.file);
    auto paths = package_paths(fp.file);
    if (!paths) return paths.error();
    new_files.insert(paths->begin(), paths->end());
  }
  std::string log;
  auto ran = staging.builder ? staging.builder->host_rpm(request, log) : run_host_rpm(request, log);
  if (!ran) return ran;
  spdlog::debug("host rpm: {}", log);
  auto wal = root / db->dbpath / "rpmdb.sqlite-wal";
  if (fsys::exists(wal, ec) && fsys::file_size(wal, ec) > 0)
    return make_error(Errc::io_error,
                      "rpm left changes in rpmdb.sqlite-wal that are not in rpmdb.sqlite");
  std::set<std::string> skip{db->dbpath + "/rpmdb.sqlite-wal", db->dbpath + "/rpmdb.sqlite-shm",
                             db->dbpath + "/.rpm.lock"};
  for (auto it = fsys::recursive_directory_iterator(root, ec);
       !ec && it != fsys::recursive_directory_iterator(); it.increment(ec)) {
    auto rel = fsys::relative(it->path(), root, ec).generic_string();
    if (ec) break;
    if (skip.count(rel)) continue;
    auto st = it->symlink_status(ec);
    if (st.type() == fsys::file_type::directory) {
      if (!image.has(rel))
        if (auto s = w.add_path(rel, it->path()); !s) return s;
      continue;
    }
    if (auto p = placed.find(rel); p != placed.end() && st.type() == fsys::file_type::regular) {
      // unchanged: the same bytes, not touched (rpm sets a rewritten file's time from its header)
      auto now = fs::read_file(it->path(), rpm::kMaxDatabaseBytes);
      if (now && *now == p->second.bytes &&
          fsys::last_write_time(it->path(), ec) == p->second.mtime)
        continue;
    }
    if (auto s = w.add_path(rel, it->path()); !s) return s;
  }
  if (ec) return make_error(Errc::io_error, "cannot read the staging root: " + ec.message());
  for (const auto& f : old_files)
    if (!new_files.count(f) && image.has(f) && !w.written().count(f))
      if (auto s = w.add_whiteout(f); !s) return s;
  for (auto f : {"/rpmdb.sqlite-wal", "/rpmdb.sqlite-shm"})
    if (image.has(db->dbpath + f) && !w.written().count(db->dbpath + f))
      if (auto s = w.add_whiteout(db->dbpath + f); !s) return s;
  return {};
}

Status run_host_rpm(const HostRpmRequest& request, std::string& log) {
  auto root = request.work / request.root;
  auto home = request.work / "rpm-home";
  std::error_code ec;
  fsys::create_directories(home, ec);
  ProcessOptions o;
  o.env_overrides["HOME"] = home.string();
  std::vector<std::string> common{"--root", root.string(), "--dbpath", "/" + request.dbpath};
  if (!request.signed_packages.empty()) {
    std::vector<std::string> check{"rpmkeys", "--checksig", "--define",
                                   "_pkgverify_level signature"};
    check.insert(check.end(), common.begin(), common.end());
    for (const auto& p : request.signed_packages) check.push_back(p.string());
    auto r = run_process(check, o);
    log += "$ rpmkeys --checksig (" + std::to_string(request.signed_packages.size()) +
           " package(s))\n" + r.out + r.err;
    if (r.exit_code != 0)
      return make_error(Errc::invalid_argument, "rpm -K with the image's keys refused a package: " +
                                                    one_line(r.out + r.err));
  }
  std::vector<std::string> install{"rpm"};
  install.insert(install.end(), common.begin(), common.end());
  for (auto a : {"-U", "--noscripts", "--notriggers", "--define", "_pkgverify_level digest"})
    install.push_back(a);
  for (const auto& p : request.packages) install.push_back(p.string());
  auto r = run_process(install, o);
  log += "$ rpm -U --noscripts --notriggers (" + std::to_string(request.packages.size()) +
         " package(s))\n" + r.out + r.err;
  if (r.exit_code != 0)
    return make_error(Errc::invalid_argument,
                      "the host's rpm could not install the fixed packages into the image's "
                      "database: " +
                          one_line(r.err.empty() ? r.out : r.err));
  return {};
}

}  // namespace airheal::heal::rpmfamily
