// The builder half of the heal engine: the heal layer (the package family's tool install run by the
// ImageBuilder, or the family's files written directly for images that can run nothing), the
// healed config and manifest over the original's blobs, the checks run inside the healed image by
// the ImageBuilder (test command, smoke test), the advisory outbox and the signed attestations.
#include <spdlog/spdlog.h>

#include <map>

#include "core/fs.hpp"
#include "core/oci.hpp"
#include "core/subprocess.hpp"
#include "heal/attest.hpp"
#include "heal/engine.hpp"
#include "heal/heal_layer.hpp"
#include "heal/pins.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/layer.hpp"
#include "scan/layer_cache_repository.hpp"
#include "scan/sbom.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

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
Status write_layout(store::Store& store, const fsys::path& dir, const std::string& manifest_bytes,
                    const std::string& name) {
  auto m = oci::parse_manifest(manifest_bytes, oci::media::kOciManifest);
  if (!m || !m->config)
    return make_error(Errc::manifest_invalid, "cannot read the manifest for the layout");
  auto digest = Sha256::of(manifest_bytes);
  std::error_code ec;
  fsys::create_directories(dir / "blobs" / "sha256", ec);
  if (auto st = fs::write_file_atomic(dir / "blobs" / "sha256" / digest.hex(), manifest_bytes); !st)
    return st;
  if (auto st = link_blob_into(store.blob_path(m->config->digest), dir, m->config->digest); !st)
    return st;
  for (const auto& l : m->layers)
    if (auto st = link_blob_into(store.blob_path(l.digest), dir, l.digest); !st) return st;
  json index = {{"schemaVersion", 2},
                {"manifests",
                 json::array({{{"mediaType", oci::media::kOciManifest},
                               {"digest", digest.str()},
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

}  // namespace

void Engine::reset_buildah_storage() { builder_->reset(); }

// A heal layer built earlier for the same packages can be reused when the dpkg run it recorded
// would be the same here: the earlier heal's original and this image share their lower layers,
// and no layer above that shared part (in either image) touches the dpkg database or any path the
// heal layer writes. Every reuse is still verified like a fresh build (rescan, test, smoke test).
std::optional<Engine::Reuse> Engine::reusable_layer(const std::string& original,
                                                    const oci::Manifest& m, const Plan& plan) {
  const auto* found = package_family(plan.family);
  if (!found) return std::nullopt;
  const auto& family = *found;
  auto pins = plan.to_json();
  std::vector<std::tuple<std::int64_t, std::string, std::string>>
      candidates;  // id, original, staged
  auto recent = store_.read(
      [&](sqlite::Connection& c) { return HealRepository::reusable(c, plan.strategy, 200); });
  for (const auto& h : recent) {
    auto pj = json::parse(h.plan, nullptr, false);
    if (!pj.is_object() || pj.value("packages", json()) != pins["packages"] ||
        pj.value("artifacts", json::array()) != pins["artifacts"])
      continue;
    candidates.emplace_back(h.id, h.original, h.staged);
  }
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
    while (k < p->layers.size() && k < m.layers.size() && p->layers[k].digest == m.layers[k].digest)
      ++k;
    if (k == 0) continue;
    const auto& heal_layer = h->layers.back();
    // What the heal layer writes, and what the layers above the shared part touch.
    std::optional<scan::LayerInventory> healed;
    std::vector<std::optional<scan::LayerInventory>> uppers;
    store_.read([&](sqlite::Connection& c) {
      healed = scan::LayerCache::get(c, heal_layer.digest.str());
      for (std::size_t i = k; i < p->layers.size(); ++i)
        uppers.push_back(scan::LayerCache::get(c, p->layers[i].digest.str()));
      for (std::size_t i = k; i < m.layers.size(); ++i)
        uppers.push_back(scan::LayerCache::get(c, m.layers[i].digest.str()));
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
        if (auto paths = family.package_paths(store_.blob_path(*Digest::parse(pin.digest))))
          package_files->insert(paths->begin(), paths->end());
    }
    for (const auto& f : *package_files) writes.emplace(f, 'f');
    bool clash = false;
    for (const auto& u : uppers) {
      if (!u) {
        clash = true;  // not inventoried: cannot prove anything
        break;
      }
      auto touches = [&](const std::string& path, char type) {
        if (family.database_path(path)) return true;
        auto it = writes.find(path);
        return it != writes.end() &&
               !(type == 'd' && it->second == 'd');  // a directory over a directory is harmless
      };
      for (const auto& f : u->files)
        if (touches(f.path, f.type)) clash = true;
      for (const auto& w : u->whiteouts)
        if (touches(w, 'w')) clash = true;
      for (const auto& o : u->opaque) {
        if (touches(o, 'o')) clash = true;
        for (auto it = writes.lower_bound(o + "/");
             it != writes.end() && it->first.rfind(o + "/", 0) == 0; ++it)
          clash = true;
      }
      if (clash) break;
    }
    if (clash) continue;
    auto hc = fs::read_file(store_.blob_path(h->config->digest), 8 << 20);
    if (!hc) continue;
    auto hcj = json::parse(*hc, nullptr, false);
    if (!hcj.is_object() || !hcj.contains("rootfs") || !hcj["rootfs"].contains("diff_ids") ||
        hcj["rootfs"]["diff_ids"].empty())
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

Result<BuildResult> Engine::build(std::int64_t id, const std::string& repo,
                                  const std::string& original, const Plan& plan,
                                  const fsys::path& work, std::string& log, const Policy& policy,
                                  Failure& failure) {
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
  if (!m || !mj.is_object() || !m->config)
    return make_error(Errc::manifest_invalid, "the original manifest cannot be read");
  for (const auto& p : plan.packages)
    if (auto d = Digest::parse(p.digest); !d || !store_.has_blob_file(*d))
      return make_error(Errc::blob_unknown,
                        "package " + p.name + " " + p.version + " is not in the store");
  for (const auto& a : plan.artifacts)
    if (auto d = Digest::parse(a.digest); !d || !store_.has_blob_file(*d))
      return make_error(Errc::blob_unknown, "artefact " + a.name + " is not in the store");

  if (plan.rebase) return build_rebase(id, repo, original, plan, work, log, policy);
  LayerBlob heal;
  std::set<std::string> scratch;  // the build's mount points, left out of the heal layer
  std::string created_by = "airheal heal " + std::to_string(id) + ":";
  std::optional<Reuse> reuse;
  if (plan.uses_dpkg() && options_.reuse_layers && plan.applications.empty())
    reuse = reusable_layer(original, *m, plan);
  if (reuse) {
    heal = reuse->layer;
    for (const auto& p : plan.packages) created_by += " " + p.name + "=" + p.version;
    for (const auto& a : plan.artifacts) created_by += " /" + a.path + "=" + a.name;
    log += "heal layer reused from heal " + std::to_string(reuse->heal) +
           ": the same packages, the first " + std::to_string(reuse->shared_layers) +
           " layer(s) shared with its original, and no layer above them touches "
           "the dpkg database or a path the heal layer writes\n";
  } else {
    // The plan's packages, each read by its family and checked against its pin.
    const PackageFamily* family = nullptr;
    std::vector<FixedPackage> packages;
    if (!plan.packages.empty()) {
      family = package_family(plan.family);
      if (!family)
        return make_error(Errc::unsupported, "airheal cannot install " + plan.family + " packages");
      auto read = fixed_packages(plan, *family);
      if (!read) return read.error();
      packages = std::move(*read);
      for (const auto& p : plan.packages) created_by += " " + p.name + "=" + p.version;
    }
    if (plan.uses_dpkg()) {
      // The image's own package tools install the pinned packages from a local read-only
      // repository made of imported content (the family says how: apt-get when the image has it,
      // else ordered dpkg calls), with no network. Gold artefacts are copied in first; the
      // builder's one new layer is the heal layer.
      if (auto st = write_layout(store_, work / "in", *manifest_bytes, "original"); !st)
        return st.error();
      auto install = family->tool_install(plan, packages, work / "repo", work / "apt-state",
                                          store_.now_seconds());
      if (!install) return install.error();
      if (!install->note.empty()) log += install->note + "\n";
      LayerRequest request;
      request.name = "airheal-heal-" + std::to_string(id);
      request.work = work;
      request.base_layers = m->layers.size();
      for (const auto& a : plan.artifacts) {
        request.copies.push_back({store_.blob_path(*Digest::parse(a.digest)), "/" + a.path, 0755});
        created_by += " /" + a.path + "=" + a.name;
      }
      request.mounts = install->mounts;
      request.env = install->env;
      request.commands = install->commands;
      for (const auto& mount : install->mounts) scratch.insert(mount.target.substr(1));
      auto layer = builder_->add_layer(request, log, &failure);
      if (!layer) return layer.error();
      heal = *layer;
    } else {
      // Nothing in the image can run: the layer is written here (the packages' files and
      // database records as the family writes them, then gold artefacts at their paths).
      LayerWriter w(work / "layer", options_.layer_compression);
      if (family) {
        auto image = image_files(*original_digest);
        if (!image) return image.error();
        // (a host tool the family needs, such as rpm --root, runs in the builder)
        if (auto st = family->write_files(plan, packages, *image, w, {work, builder_.get()}); !st)
          return st.error();
      }
      for (const auto& a : plan.artifacts) {
        if (auto st = w.add_file(a.path, store_.blob_path(*Digest::parse(a.digest)), 0755); !st)
          return st.error();
        created_by += " /" + a.path + "=" + a.name;
      }
      auto blob = w.finish();
      if (!blob) return blob.error();
      heal = *blob;
    }
  }
  if (!reuse && !plan.packages.empty()) {
    // Package upgrades rewrite every file of a package; most are byte-identical to the copy below.
    std::vector<fsys::path> lowers;
    for (const auto& l : m->layers) lowers.push_back(store_.blob_path(l.digest));
    SlimReport slim;
    auto slimmer = slim_layer(heal.file, lowers, work / "slim", slim, scratch,
                              options_.layer_compression, plan.family == "rpm");
    if (!slimmer) return slimmer.error();
    log += "heal layer: " + std::to_string(slim.dropped) + " file(s) (" +
           fs::human_bytes(slim.dropped_bytes) +
           ") left out, identical in content, mode and owner to the layers below; " +
           fs::human_bytes(heal.size) + " -> " + fs::human_bytes(slimmer->size) + " compressed\n";
    heal = *slimmer;
  }
  if (!plan.applications.empty()) {
    // Application packages replaced in place: their files, whiteouts and lockfile edits,
    // computed again from the image and the artefacts (as the plan computed them), join the heal
    // layer, which is rewritten without the entries they replace.
    auto image = image_files(*original_digest);
    if (!image) return image.error();
    std::vector<app::Ops> all;
    std::set<std::string> replaced;
    for (const auto& a : plan.applications) {
      auto d = Digest::parse(a.digest);
      if (!d || !store_.has_blob_file(*d))
        return make_error(Errc::blob_unknown, "artefact " + a.name + " is not in the store");
      auto bytes = fs::read_file(store_.blob_path(*d), 1ull << 30);
      if (!bytes) return bytes.error();
      auto ops = app::plan_ops(a, *bytes, *image);
      if (!ops) return make_error(ops.error().code, a.package + ": " + ops.error().message);
      for (const auto& f : ops->files) replaced.insert(f.path);
      for (const auto& w : ops->whiteouts) replaced.insert(w);
      log += a.ecosystem + " " + a.package + " " + a.installed + " -> " + a.version + " at /" +
             a.location + ": " + std::to_string(ops->files.size()) + " file(s) written, " +
             std::to_string(ops->whiteouts.size()) + " removed\n";
      created_by += " " + a.package + "=" + a.version;
      all.push_back(std::move(*ops));
    }
    LayerWriter w(work / "app-layer", options_.layer_compression);
    if (!heal.file.empty())
      if (auto st = w.copy_layer(heal.file, replaced); !st) return st.error();
    for (const auto& ops : all)
      if (auto st = app::write_ops(ops, w); !st) return st.error();
    auto blob = w.finish();
    if (!blob) return blob.error();
    heal = *blob;
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
  if (!config.contains("history") || !config["history"].is_array())
    config["history"] = json::array();
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
  healed["layers"].push_back(
      {{"mediaType", heal.media_type}, {"digest", heal.digest.str()}, {"size", heal.size}});
  if (!healed.contains("annotations") || !healed["annotations"].is_object())
    healed["annotations"] = json::object();
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
    for (const auto& l : m->layers)
      store_.link_blob(c, repo, l.digest, static_cast<std::uint64_t>(l.size));
  });
  log += "heal layer " + heal.digest.str() + " (" + fs::human_bytes(heal.size) + ")\n";
  // The checks run in exactly the image that will be staged.
  auto checks =
      run_checks(id, out.manifest, work / "check", log, policy.test, true, out.smoke_note);
  if (!checks) return checks.error();
  out.test_failure = checks->first;
  out.smoke_failure = checks->second;
  return out;
}

Result<std::pair<std::string, std::string>> Engine::run_checks(
    std::int64_t id, const std::string& manifest_bytes, const fsys::path& dir, std::string& log,
    const std::vector<std::string>& argv, bool smoke, std::string& smoke_note) {
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
  if (auto st = write_layout(store_, dir / "image", manifest_bytes, "image"); !st)
    return st.error();
  // The test and smoke containers run under a memory bound (a cgroup limit; the kernel's OOM
  // killer ends a process that exceeds it, which fails the gate).
  CheckRequest request;
  request.name = "airheal-check-" + std::to_string(id);
  request.work = dir;
  request.memory = options_.smoke_memory;
  request.env = {"DEBIAN_FRONTEND=noninteractive"};
  if (!entry.empty())
    request.runs.push_back({entry, std::chrono::milliseconds(options_.smoke_timeout)});
  if (!argv.empty()) request.runs.push_back({argv, {}});
  auto outcomes = builder_->check(request, log);
  if (!outcomes) return outcomes.error();
  if (outcomes->size() != request.runs.size())
    return make_error(Errc::io_error, "the image builder ran " + std::to_string(outcomes->size()) +
                                          " of " + std::to_string(request.runs.size()) + " checks");
  auto bound = [&](std::string message) {
    if (options_.smoke_memory)
      message += " (it ran with at most " + std::to_string(options_.smoke_memory >> 20) +
                 " MiB of memory, heal.smoke_memory_bytes)";
    return message;
  };
  std::size_t next = 0;
  if (!entry.empty()) {
    const auto& o = (*outcomes)[next++];
    if (o.timed_out)
      smoke_note += " smoke test: the entrypoint was still running after " +
                    std::to_string(options_.smoke_timeout.count()) + " s;";
    else if (!o.passed)
      failures.second = bound(o.failure);
    else
      smoke_note += " smoke test: the entrypoint exited 0;";
  }
  if (!argv.empty()) {
    const auto& o = (*outcomes)[next];
    if (!o.passed) failures.first = bound(o.failure);
  }
  return failures;
}

Status Engine::write_outbox(std::int64_t id, const std::string& repo, const std::string& tag,
                            const std::string& original, const Plan& plan, bool pins_only) {
  auto dir = (options_.outbox.empty() ? store_.root() / "outbox" : options_.outbox) /
             ("heal-" + std::to_string(id));
  std::error_code ec;
  fsys::create_directories(dir, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  if (auto st = write_dependency_pins(store_, dir, original, plan); !st) return st;
  if (pins_only) return fs::write_file_atomic(dir / "plan.json", plan.to_json().dump(2) + "\n");
  // Generated files hold names from images and snapshots: every value is quoted (JSON in the
  // Containerfile, single quotes in the shell script), never pasted.
  std::string containerfile =
      "# airheal heal " + std::to_string(id) +
      " (advisory mode): " + comment_text(repo + ":" + tag) + "\n# " +
      comment_text(plan.explanation) +
      "\n# Build it from this folder, offline, naming this appliance's registry:\n"
      "#   buildah bud --network none --build-arg REGISTRY=HOST:PORT -f Containerfile .\n"
      "ARG REGISTRY\nFROM ${REGISTRY}/" +
      repo + "@" + original + "\n";
  std::string pins;
  for (const auto& p : plan.packages) pins += p.name + "=" + p.version + "\n";
  if (plan.uses_dpkg()) {
    const auto* family = package_family(plan.family);
    if (!family)
      return make_error(Errc::unsupported, "airheal cannot install " + plan.family + " packages");
    auto packages = fixed_packages(plan, *family);
    if (!packages) return packages.error();
    // The tool's scratch state is a tmpfs in the outbox's build (no host folder).
    auto install = family->tool_install(plan, *packages, dir / "repo", {}, store_.now_seconds());
    if (!install) return install.error();
    std::string script =
        "#!/bin/sh\n# airheal heal " + std::to_string(id) +
        ": installs the fixed packages from this local repository with the image's own " +
        install->tool + ", no network.\nset -eu\n";
    if (!install->env.empty()) {
      script += "export";
      for (const auto& e : install->env) {
        auto eq = e.find('=');
        script += " " + e.substr(0, eq + 1) +
                  shell_quote(eq == std::string::npos ? "" : e.substr(eq + 1));
      }
      script += "\n";
    }
    if (!install->setup.empty()) {
      script += "mkdir -p";
      for (const auto& d : install->setup) script += " " + shell_quote(d);
      script += "\n";
    }
    for (const auto& step : install->commands) {
      for (std::size_t i = 0; i < step.size(); ++i) script += (i ? " " : "") + shell_quote(step[i]);
      script += "\n";
    }
    if (auto st = fs::write_file_atomic(dir / "repo" / "heal.sh", script); !st) return st;
    std::string repo_target;
    containerfile += "RUN";
    for (const auto& mount : install->mounts) {
      if (mount.read_only) {
        repo_target = mount.target;
        containerfile += " --mount=type=bind,source=repo,target=" + mount.target + ",ro";
      } else {
        containerfile += " --mount=type=tmpfs,target=" + mount.target;
      }
    }
    containerfile += " " + json::array({"/bin/sh", repo_target + "/heal.sh"}).dump() + "\n";
  } else if (!plan.packages.empty()) {
    containerfile +=
        plan.family == "apk"
            ? "# no apk-tools in the image: unpack each .apk's data stream into the build context "
              "and\n# rewrite its record in lib/apk/db/installed (as apk writes it), then:\n"
              "COPY rootfs/ /\n"
        : plan.family == "rpm"
            ? "# no rpm in the image: copy its rpm database into a staging root, install the "
              "packages there with\n# rpm --root STAGE --dbpath /var/lib/rpm -U --noscripts, "
              "copy what changed into the build context, then:\nCOPY rootfs/ /\n"
            : "# no package manager in the image: unpack each .deb's data (dpkg-deb -x) into the "
              "build context and\n# update its status.d record, then:\nCOPY rootfs/ /\n";
  }
  for (const auto& a : plan.artifacts) {
    auto d = Digest::parse(a.digest);
    if (!d)
      return make_error(Errc::invalid_argument,
                        "artefact " + comment_text(a.name) + ": bad digest");
    // The artefact under its digest: its name comes from a snapshot and is not a file name here.
    std::error_code e;
    fsys::create_directories(dir / "artifacts", e);
    auto to = dir / "artifacts" / d->hex();
    if (!fsys::exists(to)) {
      fsys::create_hard_link(store_.blob_path(*d), to, e);
      if (e) fsys::copy_file(store_.blob_path(*d), to, e);
      if (e)
        return make_error(Errc::io_error,
                          "cannot place artefact " + d->str() + " in the outbox: " + e.message());
    }
    containerfile +=
        "COPY --chmod=0755 " + json::array({"artifacts/" + d->hex(), "/" + a.path}).dump() + "\n";
    pins += json::array({"/" + a.path, a.name, a.digest}).dump() + "\n";
  }
  for (auto [name, text] : {std::pair{"plan.json", plan.to_json().dump(2) + "\n"},
                            std::pair{"Containerfile", containerfile}, std::pair{"pins.txt", pins}})
    if (auto st = fs::write_file_atomic(dir / name, text); !st) return st;
  return {};
}

void Engine::attest(std::int64_t id, const std::string& repo, const std::string& staged,
                    const Plan& plan, const std::string& original, std::int64_t started,
                    const std::string& build_log) {
  auto key = ApplianceKey::open(store_.root());
  if (!key) {
    spdlog::warn("heal {}: no appliance key, attestations not signed: {}", id, key.error().message);
    return;
  }
  auto subject = store_.get_manifest(repo, staged);
  auto h = get(id);
  std::optional<scan::ImageInventory> inv;
  std::int64_t scanned = store_.now_seconds();
  store_.read([&](sqlite::Connection& c) { inv = scan::InventoryRepository::load(c, staged); });
  if (!subject || !h) return;
  // An in-toto digest set: {"sha256": hex} or {"sha512": hex}, as the digest names it.
  auto digest_set = [](const std::string& d) {
    auto colon = d.find(':');
    return colon == std::string::npos ? json{{"sha256", d}}
                                      : json{{d.substr(0, colon), d.substr(colon + 1)}};
  };
  auto now = store_.now_seconds();
  // SLSA provenance v1: what went in (the original image, the snapshots, each package and
  // artefact by digest), how (buildType, parameters) and who built it (this appliance's key).
  auto deps = json::array();
  deps.push_back({{"uri", "oci://" + repo + "@" + original},
                  {"digest", digest_set(original)},
                  {"name", "original image"}});
  if (plan.rebase)
    deps.push_back(
        {{"uri", "oci://" + plan.rebase->base_name.substr(0, plan.rebase->base_name.rfind(':')) +
                     "@" + plan.rebase->new_base},
         {"digest", digest_set(plan.rebase->new_base)},
         {"name", "newer base image " + plan.rebase->base_name}});
  for (const auto& s : plan.snapshots)
    deps.push_back(
        {{"uri", "airheal-snapshot:" + s}, {"digest", digest_set(s)}, {"name", "signed snapshot"}});
  // Each package by the purl the healed image's SBOM gives it (its family and distribution).
  auto package_purl = [&](const PackagePin& p) {
    if (inv)
      for (const auto& c : inv->components)
        if (c.name == p.name && c.version == p.version && !c.purl.empty()) return c.purl;
    auto distro = inv && !inv->os.id.empty() ? inv->os.id : std::string();
    std::string type = plan.family == "apk" ? "apk" : plan.family == "rpm" ? "rpm" : "deb";
    if (distro.empty()) distro = type == "apk" ? "alpine" : type == "rpm" ? "rpm" : "debian";
    return "pkg:" + type + "/" + scan::purl_encode(distro) + "/" + scan::purl_encode(p.name) + "@" +
           scan::purl_encode(p.version) + "?arch=" + scan::purl_encode(p.architecture);
  };
  for (const auto& p : plan.packages)
    deps.push_back({{"uri", package_purl(p)},
                    {"digest", digest_set(p.digest)},
                    {"name", plan.family == "dpkg" ? deb_file_name(p) : p.name + "-" + p.version}});
  for (const auto& a : plan.artifacts)
    deps.push_back(
        {{"uri", "airheal-artifact:" + a.name + (a.version.empty() ? "" : "@" + a.version)},
         {"digest", digest_set(a.digest)},
         {"name", "/" + a.path}});
  // The tools that built it, as they report themselves (the builder's version in SLSA's sense).
  // (asked of the builder: with airheal-builder, airheald never runs buildah itself)
  json versions = {{"airheal", options_.tool_version}};
  for (const auto& [name, line] : builder_->tool_versions()) versions[name] = line;
  // Byproducts: the build log (kept in the heal record and in evidence bundles), by digest.
  json byproducts = json::array();
  if (!build_log.empty())
    byproducts.push_back({{"name", "heal-" + std::to_string(id) + "-build.log"},
                          {"digest", {{"sha256", Sha256::of(build_log).hex()}}},
                          {"mediaType", "text/plain; charset=utf-8"}});
  json provenance = {
      {"buildDefinition",
       {{"buildType", "https://airheal.dev/heal/v1"},
        {"externalParameters",
         {{"image", repo + ":" + h->tag}, {"strategy", plan.strategy}, {"mode", h->mode}}},
        {"internalParameters", {{"heal", id}, {"runtime", options_.runtime}, {"network", "none"}}},
        {"resolvedDependencies", deps}}},
      {"runDetails",
       {{"builder",
         {{"id", "https://airheal.dev/appliance/" + key->fingerprint()}, {"version", versions}}},
        {"metadata",
         {{"invocationId", "heal-" + std::to_string(id)},
          {"startedOn", scan::rfc3339(started)},
          {"finishedOn", scan::rfc3339(now)}}},
        {"byproducts", byproducts}}}};
  json explanation = {{"heal", id},
                      {"image", repo + ":" + h->tag},
                      {"original", original},
                      {"healed", staged},
                      {"strategy", plan.strategy},
                      {"explanation", plan.explanation},
                      {"targeted", plan.targeted},
                      {"deferred", plan.deferred},
                      {"plan", plan.to_json()}};
  std::vector<std::pair<std::string, json>> statements = {{kSlsaProvenanceV1, provenance},
                                                          {kHealExplanationPredicate, explanation}};
  if (!plan.applications.empty()) {
    json changes = json::array();
    for (const auto& a : plan.applications) changes.push_back(a.to_json());
    statements.emplace_back(kApplicationChangesPredicate,
                            json{{"heal", id}, {"original", original}, {"changes", changes}});
  }
  // The attested SBOM is the SBOM referrer of the healed image, byte for byte (the rescan attached
  // it); made here only when that referrer is missing.
  if (auto sd = Digest::parse(staged)) {
    std::optional<json> referrer_sbom;
    for (const auto& r : store_.referrers(repo, *sd, scan::kCycloneDxMediaType)) {
      auto m = store_.get_manifest(repo, r.digest.str());
      if (!m || !m->bytes) continue;
      auto mj = json::parse(*m->bytes, nullptr, false);
      if (!mj.is_object() || !mj["layers"].is_array() || mj["layers"].empty()) continue;
      auto ld = Digest::parse(mj["layers"][0].value("digest", ""));
      if (!ld) continue;
      auto bytes = fs::read_file(store_.blob_path(*ld), 64u << 20);
      if (!bytes) continue;
      auto doc = json::parse(*bytes, nullptr, false);
      if (!doc.is_discarded() && doc.dump() == *bytes) referrer_sbom = std::move(doc);
      break;
    }
    if (referrer_sbom)
      statements.emplace_back(kCycloneDxPredicate, std::move(*referrer_sbom));
    else if (inv) {
      scan::SbomSubject s{repo, staged, {h->staged_tag}, scanned, options_.tool_version};
      statements.emplace_back(kCycloneDxPredicate, scan::cyclonedx(*inv, s));
    }
  }
  auto made = json::array();
  for (auto& [type, predicate] : statements) {
    auto st = intoto_statement(repo, staged, type, predicate);
    auto r = attach_attestation(store_, *key, repo, staged, subject->media_type,
                                subject->bytes->size(), st, now);
    if (!r) {
      spdlog::warn("heal {}: attestation {} not stored: {}", id, type, r.error().message);
      continue;
    }
    made.push_back({{"digest", *r}, {"predicateType", type}});
  }
  store_.transaction([&](sqlite::Connection& c) { HealRepository::set_attestations(c, id, made); });
  journal({{"type", "heal.attested"},
           {"heal", id},
           {"image", repo + "@" + staged},
           {"signer", key->fingerprint()},
           {"attestations", made}});
}

}  // namespace airheal::heal
