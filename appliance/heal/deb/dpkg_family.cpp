#include "heal/deb/dpkg_family.hpp"

#include <spdlog/spdlog.h>

#include "heal/deb/order.hpp"
#include "heal/deb/repository.hpp"
#include "heal/deb/resolver.hpp"
#include "scan/layer.hpp"
#include "version/version.hpp"

namespace airheal::heal::deb {
namespace fsys = std::filesystem;

std::set<std::string> md5sums_paths(std::string_view sums) {
  // "<32 hex digits>  <path>" per line.
  std::set<std::string> out;
  std::size_t i = 0;
  while (i < sums.size()) {
    auto eol = sums.find('\n', i);
    auto line = sums.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
    if (line.size() > 34)
      if (auto n = scan::normalise_path(line.substr(34)); n && !n->empty()) out.insert(*n);
    if (eol == std::string_view::npos) break;
    i = eol + 1;
  }
  return out;
}

std::optional<int> DpkgFamily::compare_versions(std::string_view a, std::string_view b) const {
  return version::compare_dpkg(a, b);
}

Result<FixedPackage> DpkgFamily::read_package(const PackagePin& pin, const fsys::path& file) const {
  auto what = "package " + pin.name + " " + pin.version;
  auto ctl = read_deb_control(file);
  if (!ctl) return make_error(Errc::invalid_argument, what + ": " + ctl.error().message);
  auto paras = parse_paragraphs(ctl->control, 1 << 20);
  if (!paras)
    return make_error(Errc::invalid_argument,
                      what + ": its control file: " + paras.error().message);
  if (paras->size() != 1)
    return make_error(Errc::invalid_argument, what + ": its control file holds " +
                                                  std::to_string(paras->size()) + " paragraphs");
  auto pkg = package_from(paras->front());
  auto name = deb_file_name(paras->front());
  if (!pkg || !name)
    return make_error(Errc::invalid_argument, what + " has an unreadable control file");
  // Snapshot metadata is checked against the package itself.
  if (pkg->name != pin.name || pkg->version != pin.version)
    return make_error(Errc::invalid_argument,
                      "the imported file for " + pin.name + " " + pin.version + " is " + pkg->id());
  std::error_code ec;
  auto size = fsys::file_size(file, ec);
  if (ec) return make_error(Errc::io_error, what + ": " + ec.message());
  FixedPackage out;
  out.name = pkg->name;
  out.version = pkg->version;
  out.architecture = pkg->architecture;
  out.file_name = *name;
  out.metadata = ctl->control;
  out.file = file;
  out.size = size;
  return out;
}

Result<std::string> DpkgFamily::package_metadata(const fsys::path& file) const {
  auto ctl = read_deb_control(file);
  if (!ctl) return ctl.error();
  return std::move(ctl->control);
}

Result<std::set<std::string>> DpkgFamily::package_paths(const fsys::path& file) const {
  auto ctl = read_deb_control(file);
  if (!ctl) return ctl.error();
  return md5sums_paths(ctl->md5sums);
}

// The local repository of the plan's packages, and the commands run inside the image that install
// them from it: the image's apt-get (update, install the pins, keep apt's automatic marks), or
// dpkg in calls ordered by Pre-Depends. Non-interactive, no tty: debconf takes its defaults,
// conffiles the image's admin changed are kept (as unattended-upgrades does). The repository is
// mounted read-only; apt's lists, caches and logs go to scratch space outside the image.
Result<ToolInstall> DpkgFamily::tool_install(const Plan& plan,
                                             const std::vector<FixedPackage>& packages,
                                             const fsys::path& repo, const fsys::path& scratch,
                                             std::int64_t now) const {
  if (packages.size() != plan.packages.size())
    return make_error(Errc::invalid_argument, "the plan's packages were not all read");
  std::vector<RepositoryPackage> repo_packages;
  std::vector<Package> described;
  for (const auto& fp : packages) {
    auto paras = parse_paragraphs(fp.metadata, 1 << 20);
    if (!paras || paras->size() != 1)
      return make_error(Errc::invalid_argument,
                        "package " + fp.name + " " + fp.version + ": bad control data");
    auto pkg = package_from(paras->front());
    if (!pkg)
      return make_error(Errc::invalid_argument,
                        "package " + fp.name + " " + fp.version + ": " + pkg.error().message);
    repo_packages.push_back({paras->front(), fp.file, fp.size, fp.sha256});
    described.push_back(std::move(*pkg));
  }
  if (auto st = write_repository(repo, kRepoMount, repo_packages, now); !st) return st.error();
  ToolInstall t;
  t.env = {"DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true"};
  t.mounts.push_back({repo, kRepoMount, true});
  if (plan.installer == "apt") {
    t.tool = "apt";
    for (auto sub : {"lists/partial", "cache/archives/partial", "log"}) {
      t.setup.push_back(std::string(kAptStateMount) + "/" + sub);
      if (!scratch.empty()) {
        std::error_code e;
        fsys::create_directories(scratch / sub, e);
        if (e)
          return make_error(Errc::io_error, "cannot create apt's scratch state: " + e.message());
      }
    }
    t.mounts.push_back({scratch, kAptStateMount, false});
    auto apt = [&](const std::string& tool, std::vector<std::string> args) {
      std::vector<std::string> v = {tool};
      auto o = apt_options(kRepoMount, kAptStateMount);
      v.insert(v.end(), o.begin(), o.end());
      v.insert(v.end(), args.begin(), args.end());
      return v;
    };
    t.commands.push_back(apt("apt-get", {"update"}));
    std::vector<std::string> install = {"install", "--no-remove"};
    for (const auto& p : described)
      install.push_back(p.name + (p.architecture == "all" ? "" : ":" + p.architecture) + "=" +
                        p.version);
    t.commands.push_back(apt("apt-get", install));
    if (!plan.apt_mark_auto.empty()) {
      std::vector<std::string> mark = {"auto"};
      mark.insert(mark.end(), plan.apt_mark_auto.begin(), plan.apt_mark_auto.end());
      t.commands.push_back(apt("apt-mark", mark));
    }
  } else {
    t.tool = "dpkg";
    for (const auto& batch : dpkg_batches(described)) {
      std::vector<std::string> dpkg = {"dpkg", "--force-confdef", "--force-confold", "-i"};
      for (auto i : batch) dpkg.push_back(std::string(kRepoMount) + "/" + packages[i].file_name);
      t.commands.push_back(std::move(dpkg));
    }
    t.note = "dpkg: " + std::to_string(t.commands.size()) +
             " call(s), each package after the packages it pre-depends on";
  }
  return t;
}

// Each fixed package's files, its dpkg record in the status.d form the image uses (other records
// in the same file kept byte for byte) and its md5sums; whiteouts for files the fixed version no
// longer ships.
Status DpkgFamily::write_files(const Plan& plan, const std::vector<FixedPackage>& packages,
                               const ImageFiles& image, LayerWriter& w, const Staging&) const {
  if (packages.size() != plan.packages.size())
    return make_error(Errc::invalid_argument, "the plan's packages were not all read");
  std::map<std::string, std::string> records;  // status.d file -> new content
  std::map<std::string, std::string> md5;      // md5sums file -> content
  std::set<std::string> removed, new_files;
  for (std::size_t i = 0; i < packages.size(); ++i) {
    const auto& p = plan.packages[i];
    auto ctl = read_deb_control(packages[i].file);
    if (!ctl)
      return make_error(Errc::invalid_argument, "package " + p.name + ": " + ctl.error().message);
    std::set<std::string> paths;
    if (auto st = w.add_deb_data(packages[i].file, &paths); !st) return st;
    new_files.insert(paths.begin(), paths.end());
    // The record, in the form the image already uses.
    bool dir_form = p.record.size() > 8 && p.record.ends_with("/control");
    if (!records.count(p.record) && !image.has(p.record)) {
      // A package the dependency closure adds: a record file of its own, as distroless images keep
      // them.
      records[p.record] = ctl->control;
    } else {
      auto old = records.count(p.record) ? Result<std::string>(records[p.record])
                                         : image.read(p.record, 64 << 20);
      if (!old)
        return make_error(Errc::io_error,
                          "the record " + p.record + " cannot be read: " + old.error().message);
      auto replaced = replace_stanza(*old, p.name, ctl->control);
      if (!replaced)
        return make_error(Errc::invalid_argument, p.record + ": " + replaced.error().message);
      records[p.record] = *replaced;
    }
    auto sums_path =
        dir_form ? p.record.substr(0, p.record.size() - 7) + "md5sums" : p.record + ".md5sums";
    if (image.has(sums_path)) {
      if (auto old_sums = image.read(sums_path, 64 << 20)) {
        auto gone = md5sums_paths(*old_sums);
        removed.insert(gone.begin(), gone.end());
      }
      md5[sums_path] = ctl->md5sums;
    }
  }
  for (const auto& [path, content] : records)
    if (auto st = w.add_bytes(path, content, 0644); !st) return st;
  for (const auto& [path, content] : md5)
    if (auto st = w.add_bytes(path, content, 0644); !st) return st;
  for (const auto& r : removed)
    if (!new_files.count(r) && image.has(r) && !w.written().count(r))
      if (auto st = w.add_whiteout(r); !st) return st;
  return {};
}

// Debian findings grouped by source package: a source is healed only with every installed binary
// built from it (dpkg refuses mixed versions of perl and perl-base, for instance). The resolver
// picks the imported builds the way apt would (every installed binary of each affected source,
// and what those builds need at versions the image does not have); whatever it cannot complete
// is deferred with the missing build named.
FamilyPlan DpkgFamily::plan(const FamilyPlanInput& input, PlanSources& io) const {
  using nlohmann::json;
  FamilyPlan out;
  // Which dpkg database a Debian component lives in: dpkg's own status file (the image can run
  // dpkg: package patch) or distroless status.d records (nothing can run: package files).
  bool has_dpkg = false;
  for (const auto& c : input.inventory->components)
    if (c.type == "deb" && c.location == "var/lib/dpkg/status") has_dpkg = true;
  auto usable = [&](const std::string& location) {
    return has_dpkg ? location == "var/lib/dpkg/status"
                    : location.rfind("var/lib/dpkg/status.d/", 0) == 0;
  };
  struct SourceNeed {
    std::string fixed;  // the highest fixed version any of its findings needs
    std::set<std::string> ids;
  };
  std::map<std::string, SourceNeed> sources;
  for (const auto& f : input.findings) {
    auto id = f["advisory"].get<std::string>();
    if (!usable(f["location"].get<std::string>())) {
      out.deferred.insert(id);
      continue;
    }
    auto fixed = f["fixed"].get<std::string>();
    auto& need = sources[f["source"].get<std::string>()];
    if (need.fixed.empty() || version::compare_dpkg(fixed, need.fixed).value_or(0) > 0)
      need.fixed = fixed;
    need.ids.insert(id);
  }
  if (sources.empty()) return out;
  Result<DebianDatabase> db = make_error(Errc::not_found, "no package database reader");
  if (io.image) {
    auto image = io.image();
    db = image ? read_database(*image, has_dpkg) : Result<DebianDatabase>(image.error());
  }
  std::vector<SourceRequest> requests;
  for (const auto& [source, need] : sources) requests.push_back({source, need.fixed, need.ids});
  auto defer_source = [&](const std::string& source, const std::string& fixed,
                          const std::set<std::string>& ids, const std::string& reason,
                          const std::vector<std::string>& missing) {
    out.deferred.insert(ids.begin(), ids.end());
    std::string m;
    for (const auto& x : missing) m += " " + x;
    out.missing.push_back(source + " " + fixed + ":" + m);
    out.deferrals.push_back({{"source", source},
                             {"fixed", fixed},
                             {"ids", ids},
                             {"reason", reason},
                             {"missing", missing}});
  };
  if (!db) {
    for (const auto& r : requests)
      defer_source(r.source, r.fixed, r.ids,
                   "the image's package database cannot be read: " + db.error().message, {});
    return out;
  }
  ResolveInput in;
  in.installed = db->packages;
  in.architecture = db->architecture;
  in.requests = requests;
  std::vector<const ImportedContent*> pool_content;
  for (const auto& c : *input.imported) {
    if (auto fmt = c.meta.find("format"); fmt != c.meta.end() && *fmt != "deb")
      continue;  // another family's package
    auto text = io.package_metadata
                    ? io.package_metadata(c.digest)
                    : Result<std::string>(make_error(Errc::not_found, "no package reader"));
    Result<std::vector<Paragraph>> paras =
        text ? parse_paragraphs(*text, 1 << 20) : Result<std::vector<Paragraph>>(text.error());
    if (paras && paras->size() != 1)
      paras = make_error(Errc::invalid_argument,
                         "its control file holds " + std::to_string(paras->size()) + " paragraphs");
    if (!paras) {
      spdlog::warn("imported package {} {} is not usable: {}", c.name, c.version,
                   paras.error().message);
      continue;
    }
    auto pkg = package_from(paras->front());
    // Snapshot metadata must describe the package itself.
    if (!pkg || pkg->name != c.name || pkg->version != c.version) continue;
    in.pool.push_back(std::move(*pkg));
    pool_content.push_back(&c);
  }
  auto res = resolve(in);
  std::set<std::string> deferred_sources;
  for (const auto& d : res.deferred) {
    deferred_sources.insert(d.source);
    defer_source(d.source, d.fixed, d.ids, d.reason, d.missing);
  }
  std::map<std::string, PackagePin> pins;  // by package name
  for (const auto& ch : res.choices) {
    const auto& pkg = in.pool[ch.pool];
    const auto& c = *pool_content[ch.pool];
    std::string ids;
    if (ch.needed_by.empty())
      for (const auto& i : sources[ch.origin].ids) ids += (ids.empty() ? "" : ",") + i;
    std::string record;
    if (!has_dpkg) {
      auto it = db->record.find(pkg.name);
      record = it != db->record.end() ? it->second : "var/lib/dpkg/status.d/" + pkg.name;
    }
    pins[pkg.name] =
        PackagePin{pkg.name, pkg.version, pkg.architecture, c.digest, ids, record, ch.needed_by};
    out.used.push_back(&c);
  }
  for (const auto& [source, need] : sources)
    if (!deferred_sources.count(source)) out.targeted.insert(need.ids.begin(), need.ids.end());
  if (!pins.empty()) {
    out.installer = !has_dpkg ? "files" : db->apt ? "apt" : "dpkg";
    if (out.installer == "apt") {
      // apt marks what it is asked to install as installed by hand; the image's own marks are
      // kept (so a later autoremove inside it behaves as before), and what the closure adds
      // is marked automatic, as apt would mark a dependency it pulled in.
      for (const auto& ch : res.choices) {
        const auto& name = in.pool[ch.pool].name;
        if (!ch.upgrade || db->auto_installed.count(name)) out.apt_mark_auto.push_back(name);
      }
    } else if (out.installer == "dpkg") {
      std::vector<Package> ordered;
      for (const auto& ch : res.choices) ordered.push_back(in.pool[ch.pool]);
      for (const auto& batch : dpkg_batches(ordered)) {
        out.dpkg_batches.emplace_back();
        for (auto i : batch) out.dpkg_batches.back().push_back(ordered[i].name);
      }
    }
  }
  for (auto& [name, pin] : pins) out.packages.push_back(std::move(pin));
  return out;
}

Result<DebianDatabase> DpkgFamily::read_database(const ImageFiles& image, bool has_dpkg) {
  DebianDatabase db;
  auto take = [&](const std::string& path, std::string_view text) -> Status {
    auto paras = parse_paragraphs(text);
    if (!paras)
      return make_error(Errc::invalid_argument, "/" + path + ": " + paras.error().message);
    for (const auto& para : *paras) {
      auto pkg = package_from(para);
      if (!pkg) {
        spdlog::warn("/{}: a record airheal cannot read is left out of the plan: {}", path,
                     pkg.error().message);
        continue;
      }
      if (!has_dpkg) db.record.emplace(pkg->name, path);
      db.packages.push_back(std::move(*pkg));
    }
    return {};
  };
  if (has_dpkg) {
    auto status = image.read("var/lib/dpkg/status", kMaxControlBytes);
    if (!status) return status.error();
    if (auto st = take("var/lib/dpkg/status", *status); !st) return st.error();
    if (auto es = image.read("var/lib/apt/extended_states", 16 << 20)) {
      if (auto paras = parse_paragraphs(*es))
        for (const auto& para : *paras)
          if (para.field("Auto-Installed") == "1")
            db.auto_installed.insert(std::string(para.field("Package")));
    }
  } else {
    for (const auto& [path, f] : image.files()) {
      if (path.rfind("var/lib/dpkg/status.d/", 0) != 0 || path.ends_with("md5sums") ||
          f.file.type != 'f')
        continue;
      auto text = image.read(path, 16 << 20);
      if (!text) return text.error();
      if (auto st = take(path, *text); !st) return st.error();
    }
  }
  std::map<std::string, int> arches;
  for (const auto& p : db.packages) {
    if (p.installed() && p.architecture != "all" && !p.architecture.empty())
      ++arches[p.architecture];
    if (p.name == "apt" && p.installed()) db.apt = image.has("usr/bin/apt-get");
  }
  db.architecture = "amd64";
  int most = 0;
  for (const auto& [a, n] : arches)
    if (n > most) {
      most = n;
      db.architecture = a;
    }
  return db;
}

}  // namespace airheal::heal::deb
