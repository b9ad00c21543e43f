// The builder half of the heal engine: the heal layer (dpkg inside buildah, or written directly for
// images that can run nothing), the healed config and manifest over the original's blobs, the
// checks run inside the healed image (test command, smoke test), the advisory outbox and the
// signed attestations.
#include <spdlog/spdlog.h>

#include <map>

#include "core/fs.hpp"
#include "core/oci.hpp"
#include "core/subprocess.hpp"
#include "heal/attest.hpp"
#include "heal/deb/order.hpp"
#include "heal/deb/repository.hpp"
#include "heal/engine.hpp"
#include "heal/pins.hpp"
#include "heal/heal_layer.hpp"
#include "scan/layer.hpp"
#include "scan/sbom.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

// Where a heal build mounts the local repository and apt's scratch state. buildah creates the
// mount points in the container; they are left out of the heal layer (slim_layer).
constexpr const char* kRepoMount = "/airheal-heal";
constexpr const char* kAptStateMount = "/airheal-apt";

// Hard-links (or copies, across file systems) a store blob into an OCI layout's blob folder.
Status link_blob_into(const fsys::path& from, const fsys::path& layout, const Digest& d) {
  auto to = layout / "blobs" / std::string(d.algorithm_name()) / d.hex();
  if (fsys::exists(to)) return {};
  std::error_code e;
  fsys::create_directories(to.parent_path(), e);
  fsys::create_hard_link(from, to, e);
  if (e) fsys::copy_file(from, to, e);
  if (e) return make_error(Errc::io_error, "cannot link blob " + d.str() + ": " + e.message());
  return {};
}

// An OCI layout at DIR holding one image (MANIFEST's bytes, its blobs from the store) named NAME.
Status write_layout(store::Store& store, const fsys::path& dir, const std::string& manifest_bytes, const std::string& name) {
  auto m = oci::parse_manifest(manifest_bytes, oci::media::kOciManifest);
  if (!m || !m->config) return make_error(Errc::manifest_invalid, "cannot read the manifest for the layout");
  auto digest = Sha256::of(manifest_bytes);
  std::error_code ec;
  fsys::create_directories(dir / "blobs" / "sha256", ec);
  if (auto st = fs::write_file_atomic(dir / "blobs" / "sha256" / digest.hex(), manifest_bytes); !st) return st;
  if (auto st = link_blob_into(store.blob_path(m->config->digest), dir, m->config->digest); !st) return st;
  for (const auto& l : m->layers)
    if (auto st = link_blob_into(store.blob_path(l.digest), dir, l.digest); !st) return st;
  json index = {{"schemaVersion", 2},
                {"manifests", json::array({{{"mediaType", oci::media::kOciManifest}, {"digest", digest.str()},
                                            {"size", manifest_bytes.size()},
                                            {"annotations", {{"org.opencontainers.image.ref.name", name}}}}})}};
  if (auto st = fs::write_file_atomic(dir / "index.json", index.dump()); !st) return st;
  return fs::write_file_atomic(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
}

std::string deb_file_name(const PackagePin& p) {
  auto v = p.version;
  for (auto& ch : v)
    if (ch == ':') ch = '%';
  return p.name + "_" + v + "_" + p.architecture + ".deb";
}

// A value for a shell script: single-quoted, with each ' closed, escaped and reopened.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Text for a comment line: control characters (a newline would start an instruction) become spaces.
std::string comment_text(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c);
  return out;
}

std::string tail(const std::string& s, std::size_t n) { return s.substr(s.size() > n ? s.size() - n : 0); }

// The last N non-empty lines of S, without buildah's own "Error: while running runtime" echo.
std::string last_lines(const std::string& s, std::size_t n) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto eol = s.find('\n', pos);
    auto line = s.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? s.size() : eol + 1;
    if (line.empty() || line.rfind("Error: while running runtime:", 0) == 0) continue;
    lines.push_back(line);
  }
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) out += (out.empty() ? "" : "\n") + lines[i];
  return out;
}

}  // namespace

// buildah against the heal engine's one storage (<state>/heal/buildah, vfs: no privileges or kernel
// features beyond a chroot), shared by every heal so that a base layer is unpacked once, run from
// DIR so that relative oci: paths name images in lowercase whatever the state folder is called.
// Each command, its duration and the tail of its output go to the heal's log.
class Buildah {
 public:
  Buildah(const EngineOptions& o, fsys::path storage, fsys::path dir, std::string& log, Failure* failure = nullptr)
      : o_(o), storage_(std::move(storage)), dir_(std::move(dir)), log_(log), failure_(failure) {}
  Result<std::string> operator()(std::vector<std::string> args, std::optional<std::chrono::milliseconds> timeout = {},
                                 bool* timed_out = nullptr) {
    std::vector<std::string> argv = {o_.buildah, "--root", (storage_ / "root").string(), "--runroot", (storage_ / "run").string(),
                                     "--storage-driver", "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    ProcessOptions po;
    po.timeout = timeout ? *timeout : std::chrono::milliseconds(o_.step_timeout);
    po.cwd = dir_;
    ProcessResult r;
    auto t0 = std::chrono::steady_clock::now();
    try {
      r = run_process(argv, po);
    } catch (const std::exception& e) {
      return make_error(Errc::io_error, std::string("cannot run buildah: ") + e.what());
    }
    char took[32];
    std::snprintf(took, sizeof took, "%.1f", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    // The whole output goes to the heal's log (each stream bounded at 4 MiB, keeping its end).
    log_ += "$ buildah " + cmd + "(" + took + " s)\n" + tail(r.out, 4u << 20) + tail(r.err, 4u << 20);
    if (!log_.ends_with("\n")) log_ += "\n";
    last_output_ = r.out + r.err;
    if (timed_out) *timed_out = r.timed_out;
    if (r.timed_out || r.exit_code != 0) {
      auto f = classify_output(last_output_, r.timed_out);
      if (failure_) *failure_ = f;
      if (r.timed_out)
        return make_error(Errc::io_error, "buildah " + args[0] + " timed out after " +
                                              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(po.timeout).count()) + " s");
      return make_error(Errc::io_error, "buildah " + args[0] + " failed (exit " + std::to_string(r.exit_code) + "): " +
                                            (f.lines.empty() ? last_lines(r.err.empty() ? r.out : r.err, 12) : f.summary()));
    }
    return r.out;
  }
  const std::string& last_output() const { return last_output_; }

 private:
  const EngineOptions& o_;
  fsys::path storage_, dir_;
  std::string& log_;
  Failure* failure_;
  std::string last_output_;
};

// The local repository of a plan's packages under DIR (each checked against its own control
// file), and the packages as dpkg describes them, in the plan's order.
Result<Engine::LocalRepository> Engine::local_repository(const Plan& plan, const fsys::path& dir) {
  LocalRepository out;
  std::vector<deb::RepositoryPackage> repo_pkgs;
  for (const auto& p : plan.packages) {
    auto d = Digest::parse(p.digest);
    if (!d) return make_error(Errc::invalid_argument, "package " + p.name + ": bad digest");
    auto ctl = deb_control(p.digest);
    if (!ctl) return make_error(Errc::invalid_argument, "package " + p.name + " " + p.version + ": " + ctl.error().message);
    auto pkg = deb::package_from(*ctl);
    auto file = deb::deb_file_name(*ctl);
    if (!pkg || !file) return make_error(Errc::invalid_argument, "package " + p.name + " " + p.version + " has an unreadable control file");
    if (pkg->name != p.name || pkg->version != p.version)
      return make_error(Errc::invalid_argument, "the imported file for " + p.name + " " + p.version + " is " + pkg->id());
    std::error_code e;
    auto size = fsys::file_size(store_.blob_path(*d), e);
    if (e) return make_error(Errc::io_error, "package " + p.name + ": " + e.message());
    repo_pkgs.push_back({*ctl, store_.blob_path(*d), size, d->hex()});
    out.packages.push_back(std::move(*pkg));
    out.files.push_back(*file);
  }
  if (auto st = deb::write_repository(dir, kRepoMount, repo_pkgs, store_.now_seconds()); !st) return st.error();
  return out;
}

// The commands, run inside the image, that install a plan's packages from the local repository
// mounted at kRepoMount: the image's apt-get (update, install the pins, keep apt's automatic
// marks), or dpkg in calls ordered by Pre-Depends. A heal build runs them with buildah; the
// advisory outbox writes them, quoted, into heal.sh.
std::vector<std::vector<std::string>> Engine::install_steps(const Plan& plan, const LocalRepository& local) {
  std::vector<std::vector<std::string>> steps;
  if (plan.installer == "apt") {
    auto apt = [&](const std::string& tool, std::vector<std::string> args) {
      std::vector<std::string> v = {tool};
      auto o = deb::apt_options(kRepoMount, kAptStateMount);
      v.insert(v.end(), o.begin(), o.end());
      v.insert(v.end(), args.begin(), args.end());
      return v;
    };
    steps.push_back(apt("apt-get", {"update"}));
    std::vector<std::string> install = {"install", "--no-remove"};
    for (const auto& p : local.packages)
      install.push_back(p.name + (p.architecture == "all" ? "" : ":" + p.architecture) + "=" + p.version);
    steps.push_back(apt("apt-get", install));
    if (!plan.apt_mark_auto.empty()) {
      std::vector<std::string> mark = {"auto"};
      mark.insert(mark.end(), plan.apt_mark_auto.begin(), plan.apt_mark_auto.end());
      steps.push_back(apt("apt-mark", mark));
    }
  } else {
    for (const auto& batch : deb::dpkg_batches(local.packages)) {
      std::vector<std::string> dpkg = {"dpkg", "--force-confdef", "--force-confold", "-i"};
      for (auto i : batch) dpkg.push_back(std::string(kRepoMount) + "/" + local.files[i]);
      steps.push_back(std::move(dpkg));
    }
  }
  return steps;
}

fsys::path Engine::buildah_storage() const { return store_.root() / "heal" / "buildah"; }

void Engine::reset_buildah_storage() {
  std::string log;
  if (!fsys::exists(buildah_storage() / "root")) return;  // no heal has built anything yet
  Buildah buildah(options_, buildah_storage(), buildah_storage(), log);
  (void)buildah({"rm", "--all"});
  (void)buildah({"rmi", "--prune"});
}

// A heal layer built earlier for the same packages can be reused when the dpkg run it recorded
// would be the same here: the earlier heal's original and this image share their lower layers,
// and no layer above that shared part (in either image) touches the dpkg database or any path the
// heal layer writes. Every reuse is still verified like a fresh build (rescan, test, smoke test).
std::optional<Engine::Reuse> Engine::reusable_layer(const std::string& original, const oci::Manifest& m, const Plan& plan) {
  auto pins = plan.to_json();
  std::vector<std::tuple<std::int64_t, std::string, std::string>> candidates;  // id, original, staged
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT id, original, staged, plan FROM heals WHERE state IN ('staged', 'promoted') AND staged IS NOT NULL "
                        "AND strategy = ? ORDER BY id DESC LIMIT 200");
    st.bind(1, plan.strategy);
    while (st.step()) {
      auto pj = json::parse(st.get_text(3), nullptr, false);
      if (!pj.is_object() || pj.value("packages", json()) != pins["packages"] || pj.value("artifacts", json::array()) != pins["artifacts"])
        continue;
      candidates.emplace_back(st.get_int(0), st.get_text(1), st.get_text(2));
    }
  });
  auto manifest_of = [&](const std::string& digest) -> std::optional<oci::Manifest> {
    auto d = Digest::parse(digest);
    if (!d) return std::nullopt;
    auto bytes = fs::read_file(store_.blob_path(*d), 8 << 20);
    if (!bytes) return std::nullopt;
    auto mm = oci::parse_manifest(*bytes, oci::media::kOciManifest);
    if (!mm || !mm->config) return std::nullopt;
    return *mm;
  };
  std::optional<std::set<std::string>> package_files;  // what the pinned packages ship, read once
  for (const auto& [id, prev_original, staged] : candidates) {
    if (prev_original == original) continue;  // the same image: nothing shared to prove
    auto p = manifest_of(prev_original);
    auto h = manifest_of(staged);
    if (!p || !h || h->layers.size() != p->layers.size() + 1) continue;
    std::size_t k = 0;
    while (k < p->layers.size() && k < m.layers.size() && p->layers[k].digest == m.layers[k].digest) ++k;
    if (k == 0) continue;
    const auto& heal_layer = h->layers.back();
    // What the heal layer writes, and what the layers above the shared part touch.
    std::optional<scan::LayerInventory> healed;
    std::vector<std::optional<scan::LayerInventory>> uppers;
    store_.read([&](sqlite::Connection& c) {
      healed = scan::LayerCache::get(c, heal_layer.digest.str());
      for (std::size_t i = k; i < p->layers.size(); ++i) uppers.push_back(scan::LayerCache::get(c, p->layers[i].digest.str()));
      for (std::size_t i = k; i < m.layers.size(); ++i) uppers.push_back(scan::LayerCache::get(c, m.layers[i].digest.str()));
    });
    if (!healed) continue;
    std::map<std::string, char> writes;
    for (const auto& f : healed->files) writes[f.path] = f.type;
    for (const auto& w : healed->whiteouts) writes[w] = 'w';
    // A heal layer leaves out files identical to its original's (slim_layer), and those may have
    // come from the original's upper layers: every file the packages ship counts as written.
    if (!package_files) {
      package_files.emplace();
      for (const auto& pin : plan.packages)
        if (auto ctl = read_deb_control(store_.blob_path(*Digest::parse(pin.digest)))) {
          std::size_t i = 0;
          const auto& sums = ctl->md5sums;
          while (i < sums.size()) {
            auto eol = sums.find('\n', i);
            auto line = sums.substr(i, eol == std::string::npos ? std::string::npos : eol - i);
            if (line.size() > 34)
              if (auto n = scan::normalise_path(line.substr(34)); n && !n->empty()) package_files->insert(*n);
            if (eol == std::string::npos) break;
            i = eol + 1;
          }
        }
    }
    for (const auto& f : *package_files) writes.emplace(f, 'f');
    bool clash = false;
    for (const auto& u : uppers) {
      if (!u) {
        clash = true;  // not inventoried: cannot prove anything
        break;
      }
      auto touches = [&](const std::string& path, char type) {
        if (path == "var/lib/dpkg" || path.rfind("var/lib/dpkg/", 0) == 0) return true;
        auto it = writes.find(path);
        return it != writes.end() && !(type == 'd' && it->second == 'd');  // a directory over a directory is harmless
      };
      for (const auto& f : u->files)
        if (touches(f.path, f.type)) clash = true;
      for (const auto& w : u->whiteouts)
        if (touches(w, 'w')) clash = true;
      for (const auto& o : u->opaque) {
        if (touches(o, 'o')) clash = true;
        for (auto it = writes.lower_bound(o + "/"); it != writes.end() && it->first.rfind(o + "/", 0) == 0; ++it) clash = true;
      }
      if (clash) break;
    }
    if (clash) continue;
    auto hc = fs::read_file(store_.blob_path(h->config->digest), 8 << 20);
    if (!hc) continue;
    auto hcj = json::parse(*hc, nullptr, false);
    if (!hcj.is_object() || !hcj.contains("rootfs") || !hcj["rootfs"].contains("diff_ids") || hcj["rootfs"]["diff_ids"].empty())
      continue;
    auto diff = Digest::parse(hcj["rootfs"]["diff_ids"].back().get<std::string>());
    if (!diff || !store_.has_blob_file(heal_layer.digest)) continue;
    Reuse r;
    r.heal = id;
    r.shared_layers = k;
    r.layer.digest = heal_layer.digest;
    r.layer.diff_id = *diff;
    r.layer.size = static_cast<std::uint64_t>(heal_layer.size);
    r.layer.file = store_.blob_path(heal_layer.digest);
    r.layer.media_type = heal_layer.media_type;
    return r;
  }
  return std::nullopt;
}

Result<BuildResult> Engine::build(std::int64_t id, const std::string& repo, const std::string& original, const Plan& plan,
                                  const fsys::path& work, std::string& log, const Policy& policy, Failure& failure) {
  std::error_code ec;
  fsys::remove_all(work, ec);
  fsys::create_directories(work, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + work.string() + ": " + ec.message());
  auto original_digest = Digest::parse(original);
  if (!original_digest) return make_error(Errc::invalid_argument, "bad original digest");
  auto manifest_bytes = fs::read_file(store_.blob_path(*original_digest), 8 << 20);
  if (!manifest_bytes) return manifest_bytes.error();
  auto m = oci::parse_manifest(*manifest_bytes, oci::media::kOciManifest);
  auto mj = json::parse(*manifest_bytes, nullptr, false);
  if (!m || !mj.is_object() || !m->config) return make_error(Errc::manifest_invalid, "the original manifest cannot be read");
  for (const auto& p : plan.packages)
    if (auto d = Digest::parse(p.digest); !d || !store_.has_blob_file(*d))
      return make_error(Errc::blob_unknown, "package " + p.name + " " + p.version + " is not in the store");
  for (const auto& a : plan.artifacts)
    if (auto d = Digest::parse(a.digest); !d || !store_.has_blob_file(*d))
      return make_error(Errc::blob_unknown, "artefact " + a.name + " is not in the store");

  if (plan.rebase) return build_rebase(id, repo, original, plan, work, log, policy);
  LayerBlob heal;
  std::string created_by = "airheal heal " + std::to_string(id) + ":";
  std::optional<Reuse> reuse;
  if (plan.uses_dpkg() && options_.reuse_layers) reuse = reusable_layer(original, *m, plan);
  if (reuse) {
    heal = reuse->layer;
    for (const auto& p : plan.packages) created_by += " " + p.name + "=" + p.version;
    for (const auto& a : plan.artifacts) created_by += " /" + a.path + "=" + a.name;
    log += "heal layer reused from heal " + std::to_string(reuse->heal) + ": the same packages, the first " +
           std::to_string(reuse->shared_layers) + " layer(s) shared with its original, and no layer above them touches "
           "the dpkg database or a path the heal layer writes\n";
  } else if (plan.uses_dpkg()) {
    // The image's own package tools install the pinned .debs from a local read-only repository
    // made of imported content: apt-get when the image has it (apt orders pre-dependencies and
    // configuration, with that repository as its only source), else dpkg in calls ordered by the
    // packages' Pre-Depends. Gold artefacts are copied in; buildah's last layer is the heal layer.
    if (auto st = write_layout(store_, work / "in", *manifest_bytes, "original"); !st) return st.error();
    auto local = local_repository(plan, work / "repo");
    if (!local) return local.error();
    for (const auto& p : plan.packages) created_by += " " + p.name + "=" + p.version;
    Buildah buildah(options_, buildah_storage(), work, log, &failure);
    auto ctr = "airheal-heal-" + std::to_string(id);
    if (auto r = buildah({"from", "--pull-never", "--name", ctr, "oci:in:original"}); !r) return r.error();
    struct RemoveContainer {
      Buildah& b;
      std::string ctr;
      ~RemoveContainer() {
        (void)b({"rm", ctr});
        (void)b({"rmi", "--prune"});  // older images the shared storage no longer needs
      }
    } remove_container{buildah, ctr};
    for (const auto& a : plan.artifacts) {
      if (auto r = buildah({"copy", "--chmod", "0755", ctr, store_.blob_path(*Digest::parse(a.digest)).string(), "/" + a.path}); !r)
        return r.error();
      created_by += " /" + a.path + "=" + a.name;
    }
    // Non-interactive, no tty: debconf takes its defaults, conffiles the image's admin changed
    // are kept (as unattended-upgrades does). The repository is mounted read-only; apt's lists,
    // caches and logs go to scratch space outside the image.
    std::vector<std::string> run = {"run", "--runtime", options_.runtime, "--network", "none", "-e", "DEBIAN_FRONTEND=noninteractive",
                                    "-e", "DEBCONF_NONINTERACTIVE_SEEN=true", "--volume", (work / "repo").string() + ":" + kRepoMount + ":ro"};
    if (plan.installer == "apt") {
      std::error_code e;
      for (auto sub : {"lists/partial", "cache/archives/partial", "log"}) fsys::create_directories(work / "apt-state" / sub, e);
      if (e) return make_error(Errc::io_error, "cannot create apt's scratch state: " + e.message());
      run.insert(run.end(), {"--volume", (work / "apt-state").string() + ":" + kAptStateMount});
    }
    run.insert(run.end(), {ctr, "--"});
    auto steps = install_steps(plan, *local);
    if (plan.installer != "apt") log += "dpkg: " + std::to_string(steps.size()) + " call(s), each package after the packages it pre-depends on\n";
    for (const auto& step : steps) {
      auto v = run;
      v.insert(v.end(), step.begin(), step.end());
      if (auto r = buildah(v); !r) return r.error();
    }
    if (auto r = buildah({"commit", "--quiet", "--disable-compression=false", "--format", "oci", ctr, "oci:out:healed"}); !r)
      return r.error();
    auto out_index = fs::read_file(work / "out" / "index.json", 1 << 20);
    if (!out_index) return out_index.error();
    auto oi = json::parse(*out_index, nullptr, false);
    if (!oi.is_object() || !oi.contains("manifests") || oi["manifests"].empty()) return make_error(Errc::io_error, "buildah wrote no image");
    auto out_blob = [&](const std::string& digest) { return work / "out" / "blobs" / "sha256" / digest.substr(7); };
    auto omb = fs::read_file(out_blob(oi["manifests"][0]["digest"]), 8 << 20);
    if (!omb) return omb.error();
    auto om = json::parse(*omb, nullptr, false);
    if (!om.is_object() || !om.contains("config")) return make_error(Errc::io_error, "buildah's manifest is not readable");
    auto ocb = fs::read_file(out_blob(om["config"]["digest"]), 8 << 20);
    if (!ocb) return ocb.error();
    auto oc = json::parse(*ocb, nullptr, false);
    if (!oc.is_object() || om["layers"].size() != m->layers.size() + 1)
      return make_error(Errc::io_error, "buildah's image does not have exactly one layer more than the original");
    auto d = Digest::parse(om["layers"].back()["digest"].get<std::string>());
    auto diff = Digest::parse(oc["rootfs"]["diff_ids"].back().get<std::string>());
    if (!d || !diff) return make_error(Errc::io_error, "bad heal layer digest");
    heal.file = out_blob(d->str());
    auto check = Sha256::of_file(heal.file, &heal.size);
    if (!check || *check != *d) return make_error(Errc::digest_invalid, "the heal layer does not match its digest");
    heal.digest = *d;
    heal.diff_id = *diff;
  } else {
    // Nothing in the image can run: the layer is written here. Each fixed package's files, its
    // dpkg record in the status.d form the image uses (other records in the same file kept byte
    // for byte) and its md5sums; whiteouts for files the fixed version no longer ships; gold
    // artefacts at their paths.
    LayerWriter w(work / "layer", options_.layer_compression);
    std::map<std::string, std::string> records;  // status.d file -> new content
    std::map<std::string, std::string> md5;      // md5sums file -> content
    std::set<std::string> removed;
    std::optional<std::map<std::string, scan::FinalFile>> files;
    if (!plan.packages.empty()) {
      auto f = scanner_.image_files(*original_digest);
      if (!f) return f.error();
      files = std::move(*f);
    }
    auto original_file = [&](const std::string& path) -> Result<std::string> {
      auto it = files->find(path);
      if (it == files->end()) return make_error(Errc::not_found, path + " is not in the image");
      if (it->second.layer >= m->layers.size()) return make_error(Errc::io_error, "bad layer index for " + path);
      return scan::read_layer_file(store_.blob_path(m->layers[it->second.layer].digest), path, 64 << 20);
    };
    auto md5_paths = [](const std::string& sums) {
      std::set<std::string> out;
      std::size_t i = 0;
      while (i < sums.size()) {
        auto eol = sums.find('\n', i);
        auto line = sums.substr(i, eol == std::string::npos ? std::string::npos : eol - i);
        if (line.size() > 34) {
          if (auto n = scan::normalise_path(line.substr(34)); n && !n->empty()) out.insert(*n);
        }
        if (eol == std::string::npos) break;
        i = eol + 1;
      }
      return out;
    };
    std::set<std::string> new_files;
    for (const auto& p : plan.packages) {
      auto deb = store_.blob_path(*Digest::parse(p.digest));
      auto ctl = read_deb_control(deb);
      if (!ctl) return make_error(Errc::invalid_argument, "package " + p.name + ": " + ctl.error().message);
      // Snapshot metadata is checked against the package itself.
      if (ctl->field("Package") != p.name || ctl->field("Version") != p.version)
        return make_error(Errc::invalid_argument, "the imported file for " + p.name + " " + p.version + " is " + ctl->field("Package") +
                                                      " " + ctl->field("Version"));
      std::set<std::string> paths;
      if (auto st = w.add_deb_data(deb, &paths); !st) return st.error();
      new_files.insert(paths.begin(), paths.end());
      // The record, in the form the image already uses.
      bool dir_form = p.record.size() > 8 && p.record.ends_with("/control");
      if (!records.count(p.record) && !files->count(p.record)) {
        // A package the dependency closure adds: a record file of its own, as distroless images keep them.
        records[p.record] = ctl->control;
      } else {
        auto old = records.count(p.record) ? Result<std::string>(records[p.record]) : original_file(p.record);
        if (!old) return make_error(Errc::io_error, "the record " + p.record + " cannot be read: " + old.error().message);
        auto replaced = replace_stanza(*old, p.name, ctl->control);
        if (!replaced) return make_error(Errc::invalid_argument, p.record + ": " + replaced.error().message);
        records[p.record] = *replaced;
      }
      auto sums_path = dir_form ? p.record.substr(0, p.record.size() - 7) + "md5sums" : p.record + ".md5sums";
      if (files->count(sums_path)) {
        if (auto old_sums = original_file(sums_path)) {
          auto gone = md5_paths(*old_sums);
          removed.insert(gone.begin(), gone.end());
        }
        md5[sums_path] = ctl->md5sums;
      }
      created_by += " " + p.name + "=" + p.version;
    }
    for (const auto& [path, content] : records)
      if (auto st = w.add_bytes(path, content, 0644); !st) return st.error();
    for (const auto& [path, content] : md5)
      if (auto st = w.add_bytes(path, content, 0644); !st) return st.error();
    for (const auto& r : removed)
      if (!new_files.count(r) && files->count(r) && !w.written().count(r))
        if (auto st = w.add_whiteout(r); !st) return st.error();
    for (const auto& a : plan.artifacts) {
      if (auto st = w.add_file(a.path, store_.blob_path(*Digest::parse(a.digest)), 0755); !st) return st.error();
      created_by += " /" + a.path + "=" + a.name;
    }
    auto blob = w.finish();
    if (!blob) return blob.error();
    heal = *blob;
  }
  if (!reuse && !plan.packages.empty()) {
    // Package upgrades rewrite every file of a package; most are byte-identical to the copy below.
    std::vector<fsys::path> lowers;
    for (const auto& l : m->layers) lowers.push_back(store_.blob_path(l.digest));
    SlimReport slim;
    auto slimmer = slim_layer(heal.file, lowers, work / "slim", slim, {kRepoMount + 1, kAptStateMount + 1}, options_.layer_compression);
    if (!slimmer) return slimmer.error();
    log += "heal layer: " + std::to_string(slim.dropped) + " file(s) (" + fs::human_bytes(slim.dropped_bytes) +
           ") left out, identical in content, mode and owner to the layers below; " + fs::human_bytes(heal.size) + " -> " +
           fs::human_bytes(slimmer->size) + " compressed\n";
    heal = *slimmer;
  }
  created_by += " (no network)";

  // The healed config: the original's, one more diff id and a history entry saying what happened.
  auto config_bytes = fs::read_file(store_.blob_path(m->config->digest), 8 << 20);
  if (!config_bytes) return config_bytes.error();
  auto config = json::parse(*config_bytes, nullptr, false);
  if (!config.is_object() || !config.contains("rootfs") || !config["rootfs"].is_object() ||
      !config["rootfs"].contains("diff_ids") || !config["rootfs"]["diff_ids"].is_array())
    return make_error(Errc::manifest_invalid, "the original config has no rootfs.diff_ids");
  config["rootfs"]["diff_ids"].push_back(heal.diff_id.str());
  if (!config.contains("history") || !config["history"].is_array()) config["history"] = json::array();
  config["history"].push_back({{"created", scan::rfc3339(store_.now_seconds())},
                               {"created_by", created_by},
                               {"comment", "airheal " + plan.strategy}});
  auto new_config = config.dump();
  auto config_digest = Sha256::of(new_config);
  json healed = mj;
  healed["mediaType"] = oci::media::kOciManifest;
  healed["config"]["digest"] = config_digest.str();
  healed["config"]["size"] = new_config.size();
  healed["config"]["mediaType"] = m->config->media_type;
  healed["layers"].push_back({{"mediaType", heal.media_type}, {"digest", heal.digest.str()}, {"size", heal.size}});
  if (!healed.contains("annotations") || !healed["annotations"].is_object()) healed["annotations"] = json::object();
  healed["annotations"]["org.opencontainers.image.base.digest"] = original;
  healed["annotations"]["dev.airheal.heal"] = std::to_string(id);
  BuildResult out;
  out.manifest = healed.dump();
  out.heal_layer_size = heal.size;
  if (reuse) out.reused_from = reuse->heal;
  out.image_size = config_bytes->size();
  for (const auto& l : m->layers) out.image_size += static_cast<std::uint64_t>(l.size);
  // Into the store: the heal layer and the new config (adopted: renamed in, synced), then linked.
  auto stage_file = work / "config.json";
  if (auto st = fs::write_file_atomic(stage_file, new_config); !st) return st.error();
  if (!reuse)
    if (auto st = store_.adopt_blob_file(heal.file, heal.digest); !st) return st.error();
  if (auto st = store_.adopt_blob_file(stage_file, config_digest); !st) return st.error();
  store_.transaction([&](sqlite::Connection& c) {
    store_.link_blob(c, repo, heal.digest, heal.size);
    store_.link_blob(c, repo, config_digest, new_config.size());
    for (const auto& l : m->layers) store_.link_blob(c, repo, l.digest, static_cast<std::uint64_t>(l.size));
  });
  log += "heal layer " + heal.digest.str() + " (" + fs::human_bytes(heal.size) + ")\n";
  // The checks run in exactly the image that will be staged.
  auto checks = run_checks(id, out.manifest, work / "check", log, policy.test, true, out.smoke_note);
  if (!checks) return checks.error();
  out.test_failure = checks->first;
  out.smoke_failure = checks->second;
  return out;
}

Result<std::pair<std::string, std::string>> Engine::run_checks(std::int64_t id, const std::string& manifest_bytes,
                                                               const fsys::path& dir, std::string& log,
                                                               const std::vector<std::string>& argv, bool smoke,
                                                               std::string& smoke_note) {
  std::pair<std::string, std::string> failures;
  std::vector<std::string> entry;
  if (smoke) {
    // The smoke test runs what the image runs: its entrypoint and command (argument vectors, as
    // data: they reach buildah's argv, never a shell).
    auto m = oci::parse_manifest(manifest_bytes, oci::media::kOciManifest);
    if (m && m->config)
      if (auto cb = fs::read_file(store_.blob_path(m->config->digest), 8 << 20)) {
        auto cfg = json::parse(*cb, nullptr, false);
        if (cfg.is_object() && cfg.contains("config") && cfg["config"].is_object())
          for (auto key : {"Entrypoint", "Cmd"})
            if (cfg["config"].contains(key) && cfg["config"][key].is_array())
              for (const auto& a : cfg["config"][key])
                if (a.is_string()) entry.push_back(a.get<std::string>());
      }
    if (entry.empty()) smoke_note += " smoke test skipped: the image has no entrypoint or command;";
  }
  if (entry.empty() && argv.empty()) return failures;
  std::error_code ec;
  fsys::remove_all(dir, ec);
  struct Cleanup {
    fsys::path d;
    ~Cleanup() {
      std::error_code e;
      fsys::remove_all(d, e);
    }
  } cleanup{dir};
  if (auto st = write_layout(store_, dir / "image", manifest_bytes, "image"); !st) return st.error();
  Buildah buildah(options_, buildah_storage(), dir, log);
  auto ctr = "airheal-check-" + std::to_string(id);
  // The test and smoke containers run under a memory bound (a cgroup limit; the kernel's OOM
  // killer ends a process that exceeds it, which fails the gate).
  std::vector<std::string> from = {"from", "--pull-never", "--name", ctr};
  if (options_.smoke_memory)
    for (auto flag : {"--memory", "--memory-swap"}) {
      from.push_back(flag);
      from.push_back(std::to_string(options_.smoke_memory));
    }
  from.push_back("oci:image:image");
  if (auto r = buildah(from); !r) return r.error();
  auto bound = [&](std::string message) {
    if (options_.smoke_memory)
      message += " (it ran with at most " + std::to_string(options_.smoke_memory >> 20) + " MiB of memory, heal.smoke_memory_bytes)";
    return message;
  };
  if (!entry.empty()) {
    std::vector<std::string> run = {"run", "--runtime", options_.runtime, "--network", "none", "-e", "DEBIAN_FRONTEND=noninteractive", ctr, "--"};
    run.insert(run.end(), entry.begin(), entry.end());
    bool timed_out = false;
    auto r = buildah(run, std::chrono::milliseconds(options_.smoke_timeout), &timed_out);
    if (timed_out)
      smoke_note += " smoke test: the entrypoint was still running after " + std::to_string(options_.smoke_timeout.count()) + " s;";
    else if (!r)
      failures.second = bound(r.error().message);
    else
      smoke_note += " smoke test: the entrypoint exited 0;";
  }
  if (!argv.empty()) {
    std::vector<std::string> t = {"run", "--runtime", options_.runtime, "--network", "none", "-e", "DEBIAN_FRONTEND=noninteractive", ctr, "--"};
    t.insert(t.end(), argv.begin(), argv.end());
    if (auto r = buildah(t); !r) failures.first = bound(r.error().message);
  }
  (void)buildah({"rm", ctr});
  (void)buildah({"rmi", "--prune"});
  return failures;
}

Status Engine::write_outbox(std::int64_t id, const std::string& repo, const std::string& tag, const std::string& original,
                            const Plan& plan, bool pins_only) {
  auto dir = (options_.outbox.empty() ? store_.root() / "outbox" : options_.outbox) / ("heal-" + std::to_string(id));
  std::error_code ec;
  fsys::create_directories(dir, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  if (auto st = write_dependency_pins(store_, dir, original, plan); !st) return st;
  if (pins_only) return fs::write_file_atomic(dir / "plan.json", plan.to_json().dump(2) + "\n");
  // Generated files hold names from images and snapshots: every value is quoted (JSON in the
  // Containerfile, single quotes in the shell script), never pasted.
  std::string containerfile = "# airheal heal " + std::to_string(id) + " (advisory mode): " + comment_text(repo + ":" + tag) + "\n# " +
                              comment_text(plan.explanation) +
                              "\n# Build it from this folder, offline, naming this appliance's registry:\n"
                              "#   buildah bud --network none --build-arg REGISTRY=HOST:PORT -f Containerfile .\n"
                              "ARG REGISTRY\nFROM ${REGISTRY}/" + repo + "@" + original + "\n";
  std::string pins;
  for (const auto& p : plan.packages) pins += p.name + "=" + p.version + "\n";
  if (plan.uses_dpkg()) {
    auto local = local_repository(plan, dir / "repo");
    if (!local) return local.error();
    std::string script = "#!/bin/sh\n# airheal heal " + std::to_string(id) +
                         ": installs the fixed packages from this local repository with the image's own " +
                         (plan.installer == "apt" ? "apt" : "dpkg") + ", no network.\nset -eu\n" +
                         "export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true\n";
    if (plan.installer == "apt")
      script += "mkdir -p " + std::string(kAptStateMount) + "/lists/partial " + kAptStateMount + "/cache/archives/partial " +
                kAptStateMount + "/log\n";
    for (const auto& step : install_steps(plan, *local)) {
      for (std::size_t i = 0; i < step.size(); ++i) script += (i ? " " : "") + shell_quote(step[i]);
      script += "\n";
    }
    if (auto st = fs::write_file_atomic(dir / "repo" / "heal.sh", script); !st) return st;
    containerfile += "RUN --mount=type=bind,source=repo,target=" + std::string(kRepoMount) + ",ro";
    if (plan.installer == "apt") containerfile += " --mount=type=tmpfs,target=" + std::string(kAptStateMount);
    containerfile += " " + json::array({"/bin/sh", std::string(kRepoMount) + "/heal.sh"}).dump() + "\n";
  } else if (!plan.packages.empty()) {
    containerfile += "# no package manager in the image: unpack each .deb's data (dpkg-deb -x) into the build context and\n"
                     "# update its status.d record, then:\nCOPY rootfs/ /\n";
  }
  for (const auto& a : plan.artifacts) {
    auto d = Digest::parse(a.digest);
    if (!d) return make_error(Errc::invalid_argument, "artefact " + comment_text(a.name) + ": bad digest");
    // The artefact under its digest: its name comes from a snapshot and is not a file name here.
    std::error_code e;
    fsys::create_directories(dir / "artifacts", e);
    auto to = dir / "artifacts" / d->hex();
    if (!fsys::exists(to)) {
      fsys::create_hard_link(store_.blob_path(*d), to, e);
      if (e) fsys::copy_file(store_.blob_path(*d), to, e);
      if (e) return make_error(Errc::io_error, "cannot place artefact " + d->str() + " in the outbox: " + e.message());
    }
    containerfile += "COPY --chmod=0755 " + json::array({"artifacts/" + d->hex(), "/" + a.path}).dump() + "\n";
    pins += json::array({"/" + a.path, a.name, a.digest}).dump() + "\n";
  }
  for (auto [name, text] : {std::pair{"plan.json", plan.to_json().dump(2) + "\n"}, std::pair{"Containerfile", containerfile},
                            std::pair{"pins.txt", pins}})
    if (auto st = fs::write_file_atomic(dir / name, text); !st) return st;
  return {};
}

void Engine::attest(std::int64_t id, const std::string& repo, const std::string& staged, const Plan& plan,
                    const std::string& original, std::int64_t started) {
  auto key = ApplianceKey::open(store_.root());
  if (!key) {
    spdlog::warn("heal {}: no appliance key, attestations not signed: {}", id, key.error().message);
    return;
  }
  auto subject = store_.get_manifest(repo, staged);
  auto h = get(id);
  std::optional<scan::ImageInventory> inv;
  std::int64_t scanned = store_.now_seconds();
  store_.read([&](sqlite::Connection& c) { inv = scan::load_inventory(c, staged); });
  if (!subject || !h) return;
  // An in-toto digest set: {"sha256": hex} or {"sha512": hex}, as the digest names it.
  auto digest_set = [](const std::string& d) {
    auto colon = d.find(':');
    return colon == std::string::npos ? json{{"sha256", d}} : json{{d.substr(0, colon), d.substr(colon + 1)}};
  };
  auto now = store_.now_seconds();
  // SLSA provenance v1: what went in (the original image, the snapshots, each package and
  // artefact by digest), how (buildType, parameters) and who built it (this appliance's key).
  auto deps = json::array();
  deps.push_back({{"uri", "oci://" + repo + "@" + original}, {"digest", digest_set(original)}, {"name", "original image"}});
  if (plan.rebase)
    deps.push_back({{"uri", "oci://" + plan.rebase->base_name.substr(0, plan.rebase->base_name.rfind(':')) + "@" + plan.rebase->new_base},
                    {"digest", digest_set(plan.rebase->new_base)},
                    {"name", "newer base image " + plan.rebase->base_name}});
  for (const auto& s : plan.snapshots)
    deps.push_back({{"uri", "airheal-snapshot:" + s}, {"digest", digest_set(s)}, {"name", "signed snapshot"}});
  for (const auto& p : plan.packages)
    deps.push_back({{"uri", "pkg:deb/debian/" + p.name + "@" + scan::purl_encode(p.version) + "?arch=" + p.architecture},
                    {"digest", digest_set(p.digest)},
                    {"name", deb_file_name(p)}});
  for (const auto& a : plan.artifacts)
    deps.push_back({{"uri", "airheal-artifact:" + a.name + (a.version.empty() ? "" : "@" + a.version)},
                    {"digest", digest_set(a.digest)},
                    {"name", "/" + a.path}});
  json provenance = {
      {"buildDefinition",
       {{"buildType", "https://airheal.dev/heal/v1"},
        {"externalParameters", {{"image", repo + ":" + h->tag}, {"strategy", plan.strategy}, {"mode", h->mode}}},
        {"internalParameters", {{"heal", id}, {"runtime", options_.runtime}, {"network", "none"}}},
        {"resolvedDependencies", deps}}},
      {"runDetails",
       {{"builder", {{"id", "https://airheal.dev/appliance/" + key->fingerprint()}, {"version", {{"airheal", options_.tool_version}}}}},
        {"metadata", {{"invocationId", "heal-" + std::to_string(id)}, {"startedOn", scan::rfc3339(started)},
                      {"finishedOn", scan::rfc3339(now)}}}}}};
  json explanation = {{"heal", id},
                      {"image", repo + ":" + h->tag},
                      {"original", original},
                      {"healed", staged},
                      {"strategy", plan.strategy},
                      {"explanation", plan.explanation},
                      {"targeted", plan.targeted},
                      {"deferred", plan.deferred},
                      {"plan", plan.to_json()}};
  std::vector<std::pair<std::string, json>> statements = {{kSlsaProvenanceV1, provenance}, {kHealExplanationPredicate, explanation}};
  if (inv) {
    scan::SbomSubject s{repo, staged, {h->staged_tag}, scanned, options_.tool_version};
    statements.emplace_back(kCycloneDxPredicate, scan::cyclonedx(*inv, s));
  }
  auto made = json::array();
  for (auto& [type, predicate] : statements) {
    auto st = intoto_statement(repo, staged, type, predicate);
    auto r = attach_attestation(store_, *key, repo, staged, subject->media_type, subject->bytes->size(), st, now);
    if (!r) {
      spdlog::warn("heal {}: attestation {} not stored: {}", id, type, r.error().message);
      continue;
    }
    made.push_back({{"digest", *r}, {"predicateType", type}});
  }
  store_.transaction([&](sqlite::Connection& c) {
    c.prepare("UPDATE heals SET attestations = ? WHERE id = ?").bind(1, made.dump()).bind(2, id).run();
  });
  journal({{"type", "heal.attested"}, {"heal", id}, {"image", repo + "@" + staged}, {"signer", key->fingerprint()},
           {"attestations", made}});
}

}  // namespace airheal::heal
