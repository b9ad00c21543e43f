#include "heal/engine.hpp"

#include <spdlog/spdlog.h>

#include <ctime>
#include <map>
#include <regex>
#include <set>

#include "core/fs.hpp"
#include "core/oci.hpp"
#include "core/subprocess.hpp"
#include "scan/sbom.hpp"
#include "version/version.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

bool safe_deb_field(const std::string& s, const std::regex& re) { return !s.empty() && s.size() < 256 && std::regex_match(s, re); }

std::string today() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

HealRecord row(sqlite::Statement& st) {
  HealRecord h;
  h.id = st.get_int(0);
  h.repository = st.get_text(1);
  h.tag = st.get_text(2);
  h.original = st.get_text(3);
  h.state = st.get_text(4);
  h.mode = st.get_text(5);
  h.strategy = st.get_text(6);
  h.plan = json::parse(st.get_text(7), nullptr, false);
  h.staged_tag = st.get_optional_text(8).value_or("");
  h.staged = st.get_optional_text(9).value_or("");
  h.reason = st.get_text(10);
  h.log = st.get_text(11);
  h.created_at = st.get_int(12);
  h.updated_at = st.get_int(13);
  if (!st.is_null(14)) h.staged_at = st.get_int(14);
  if (!st.is_null(15)) h.promoted_at = st.get_int(15);
  return h;
}

constexpr const char* kSelect =
    "SELECT id, repository, tag, original, state, mode, strategy, plan, staged_tag, staged, reason, log, created_at, "
    "updated_at, staged_at, promoted_at FROM heals";

}  // namespace

json Plan::to_json() const {
  auto pins = json::array();
  for (const auto& p : packages)
    pins.push_back({{"name", p.name}, {"version", p.version}, {"architecture", p.architecture}, {"digest", p.digest}, {"fixes", p.fixes}});
  return {{"strategy", strategy}, {"packages", pins},      {"targeted", targeted},
          {"deferred", deferred}, {"missing", missing}, {"explanation", explanation}};
}

json HealRecord::to_json() const {
  json j = {{"id", id},       {"repository", repository}, {"tag", tag},         {"original", original}, {"state", state},
            {"mode", mode},   {"strategy", strategy},     {"plan", plan},       {"reason", reason},
            {"created", scan::rfc3339(created_at)}, {"updated", scan::rfc3339(updated_at)}};
  if (!staged_tag.empty()) j["staged_tag"] = staged_tag;
  if (!staged.empty()) j["staged"] = staged;
  if (staged_at) j["staged_at"] = scan::rfc3339(*staged_at);
  if (promoted_at) j["promoted_at"] = scan::rfc3339(*promoted_at);
  return j;
}

Engine::Engine(store::Store& store, scan::Scanner& scanner, audit::Journal* journal, EngineOptions options)
    : store_(store), scanner_(scanner), journal_(journal), options_(std::move(options)) {}

void Engine::journal(json record) {
  if (!journal_) return;
  if (!record.contains("actor")) record["actor"] = options_.actor;
  if (auto st = journal_->append(std::move(record)); !st) spdlog::warn("journal: {}", st.error().message);
}

Result<Plan> Engine::plan(const std::string& manifest) {
  json findings;
  std::optional<scan::ImageInventory> inv;
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> content;  // name, version, meta, digest
  store_.read([&](sqlite::Connection& c) {
    scan::FindingsQuery q;
    q.manifests = {manifest};
    findings = scan::list_findings(c, q, store_.now_seconds());
    inv = scan::load_inventory(c, manifest);
    auto st = c.prepare("SELECT name, version, metadata, digest FROM content WHERE kind = 'package'");
    while (st.step()) content.emplace_back(st.get_text(0), st.get_text(1), st.get_text(2), st.get_text(3));
  });
  if (!inv) return make_error(Errc::not_found, manifest + " has not been scanned");
  Plan p;
  bool has_dpkg = false;
  for (const auto& c : inv->components)
    if (c.type == "deb" && c.location == "var/lib/dpkg/status") has_dpkg = true;
  static const std::regex name_re("[a-z0-9][a-z0-9+.-]*"), arch_re("[a-z0-9-]+");
  // Findings grouped by source package: a source is healed only with every installed binary
  // built from it (dpkg refuses mixed versions of perl and perl-base, for instance).
  struct SourceNeed {
    std::string fixed;  // the highest fixed version any of its findings needs
    std::set<std::string> ids;
  };
  std::map<std::string, SourceNeed> sources;
  std::set<std::string> targeted, deferred;
  for (const auto& f : findings) {
    auto id = f["advisory"].get<std::string>();
    if (f["type"] != "deb" || f["fixed"].get<std::string>().empty() || !has_dpkg) {
      deferred.insert(id);
      continue;
    }
    auto& need = sources[f["source"].get<std::string>()];
    auto fixed = f["fixed"].get<std::string>();
    if (need.fixed.empty() || version::compare_dpkg(fixed, need.fixed).value_or(0) > 0) need.fixed = fixed;
    need.ids.insert(id);
  }
  std::map<std::string, PackagePin> pins;  // by package name
  for (const auto& [source, need] : sources) {
    std::vector<PackagePin> chosen;
    std::vector<std::string> missing;
    for (const auto& comp : inv->components) {
      if (comp.type != "deb" || comp.source != source || comp.location != "var/lib/dpkg/status") continue;
      // The highest imported build of this binary whose source version carries every fix.
      std::optional<PackagePin> best;
      for (const auto& [cname, cversion, cmeta, cdigest] : content) {
        if (cname != comp.name) continue;
        auto meta = json::parse(cmeta, nullptr, false);
        if (!meta.is_object()) continue;
        auto carch = meta.value("architecture", "");
        if (carch != comp.arch && carch != "all") continue;
        auto sv = meta.value("source_version", "");
        if (sv.empty()) sv = cversion;
        auto cmp = version::compare_dpkg(sv, need.fixed);
        if (!cmp || *cmp < 0) continue;
        if (!safe_deb_field(cname, name_re) || !version::is_dpkg_version(cversion) || !safe_deb_field(carch, arch_re)) continue;
        if (best && version::compare_dpkg(cversion, best->version).value_or(0) <= 0) continue;
        best = PackagePin{cname, cversion, carch, cdigest, ""};
      }
      if (best) chosen.push_back(*best);
      else missing.push_back(comp.name);
    }
    std::string ids;
    for (const auto& i : need.ids) ids += (ids.empty() ? "" : ",") + i;
    if (!missing.empty() || chosen.empty()) {
      for (const auto& i : need.ids) deferred.insert(i);
      std::string m;
      for (const auto& x : missing) m += " " + x;
      p.missing.push_back(source + " " + need.fixed + ":" + m);
      continue;
    }
    for (auto& pin : chosen) {
      pin.fixes = ids;
      pins[pin.name] = pin;
    }
    targeted.insert(need.ids.begin(), need.ids.end());
  }
  for (const auto& t : targeted) deferred.erase(t);
  for (auto& [n, pin] : pins) p.packages.push_back(pin);
  p.targeted.assign(targeted.begin(), targeted.end());
  p.deferred.assign(deferred.begin(), deferred.end());
  if (!p.packages.empty()) {
    p.strategy = "package-patch";
    p.explanation = "The image's own package manager (dpkg) installs " + std::to_string(p.packages.size()) +
                    " fixed package(s) imported from a signed snapshot, in one heal layer over the original image, "
                    "with no network; this removes " + std::to_string(p.targeted.size()) + " vulnerabilit" +
                    (p.targeted.size() == 1 ? "y" : "ies") + ":";
    // One line per fix set: the packages upgraded together and the ids they remove.
    std::map<std::string, std::vector<std::string>> by_fixes;
    for (const auto& pin : p.packages) by_fixes[pin.fixes].push_back(pin.name + " " + pin.version);
    for (const auto& [fixes, names] : by_fixes) {
      std::vector<std::string> ids;
      std::size_t start = 0;
      while (start <= fixes.size()) {
        auto comma = fixes.find(',', start);
        ids.push_back(fixes.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      p.explanation += " [";
      for (std::size_t i = 0; i < names.size(); ++i) p.explanation += (i ? ", " : "") + names[i];
      p.explanation += "] fixes";
      for (std::size_t i = 0; i < ids.size() && i < 3; ++i) p.explanation += (i ? ", " : " ") + ids[i];
      if (ids.size() > 3) p.explanation += " and " + std::to_string(ids.size() - 3) + " more";
      p.explanation += ";";
    }
  } else {
    p.strategy = "defer";
    p.explanation = findings.empty() ? "Nothing to heal: the image has no open findings."
                                     : "No fix for these findings has been imported into the air gap yet (or the image "
                                       "has no package manager a package patch could use): the heal is deferred.";
  }
  if (!p.deferred.empty()) {
    p.explanation += " Deferred (no fix inside the air gap): " + std::to_string(p.deferred.size()) + " finding(s)";
    if (!p.missing.empty()) {
      p.explanation += "; a snapshot must carry the fixed builds of";
      for (const auto& m : p.missing) p.explanation += " [" + m + "]";
    }
    p.explanation += ".";
  }
  return p;
}

std::int64_t Engine::create(const std::string& repo, const std::string& tag, const std::string& original, const std::string& mode) {
  std::int64_t id = 0;
  auto now = store_.now_seconds();
  store_.transaction([&](sqlite::Connection& c) {
    c.prepare("INSERT INTO heals (repository, tag, original, state, mode, created_at, updated_at) VALUES (?, ?, ?, 'detected', ?, ?, ?)")
        .bind(1, repo).bind(2, tag).bind(3, original).bind(4, mode).bind(5, now).bind(6, now).run();
    id = c.last_insert_rowid();
    c.prepare("INSERT INTO heal_events (heal, state, at, detail) VALUES (?, 'detected', ?, ?)")
        .bind(1, id).bind(2, now).bind(3, repo + ":" + tag + " at " + original).run();
  });
  journal({{"type", "heal.detected"}, {"heal", id}, {"image", repo + ":" + tag}, {"original", original}});
  return id;
}

void Engine::transition(std::int64_t id, const std::string& state, const std::string& detail,
                        const std::function<void(sqlite::Connection&)>& extra) {
  auto now = store_.now_seconds();
  store_.transaction([&](sqlite::Connection& c) {
    c.prepare("UPDATE heals SET state = ?, updated_at = ? WHERE id = ?").bind(1, state).bind(2, now).bind(3, id).run();
    c.prepare("INSERT INTO heal_events (heal, state, at, detail) VALUES (?, ?, ?, ?)")
        .bind(1, id).bind(2, state).bind(3, now).bind(4, detail).run();
    if (extra) extra(c);
  });
  journal({{"type", "heal." + state}, {"heal", id}, {"detail", detail}});
}

std::string Engine::staging_tag(const std::string& repo, const std::string& tag) {
  auto base = tag.substr(0, 100) + "-airheal-" + today() + ".";
  std::set<std::string> taken;
  if (auto tags = store_.list_tags(repo, 0, ""); tags)
    for (const auto& t : *tags) taken.insert(t);
  store_.read([&](sqlite::Connection& c) {  // staged tags of heals whose tag was since removed count too
    auto st = c.prepare("SELECT staged_tag FROM heals WHERE repository = ? AND staged_tag IS NOT NULL");
    st.bind(1, repo);
    while (st.step()) taken.insert(st.get_text(0));
  });
  for (int n = 1;; ++n)
    if (!taken.count(base + std::to_string(n))) return base + std::to_string(n);
}

Status Engine::write_outbox(std::int64_t id, const std::string& repo, const std::string& tag, const std::string& original,
                            const Plan& plan) {
  auto dir = (options_.outbox.empty() ? store_.root() / "outbox" : options_.outbox) / ("heal-" + std::to_string(id));
  std::error_code ec;
  fsys::create_directories(dir, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  std::string containerfile = "# airheal heal " + std::to_string(id) + " (advisory mode): " + repo + ":" + tag + "\n# " +
                              plan.explanation + "\nFROM " + repo + "@" + original + "\n";
  std::string pins, files;
  for (const auto& p : plan.packages) {
    pins += p.name + "=" + p.version + "\n";
    files += " /tmp/airheal-heal/" + p.name + "_" + p.version + "_" + p.architecture + ".deb";
  }
  if (!plan.packages.empty())
    containerfile += "COPY debs/ /tmp/airheal-heal/\nRUN dpkg -i" + files + " && rm -rf /tmp/airheal-heal\n";
  for (auto [name, text] : {std::pair{"plan.json", plan.to_json().dump(2) + "\n"}, std::pair{"Containerfile", containerfile},
                            std::pair{"pins.txt", pins}})
    if (auto st = fs::write_file_atomic(dir / name, text); !st) return st;
  return {};
}

Result<std::string> Engine::build(std::int64_t id, const std::string& repo, const std::string& original, const Plan& plan,
                                  const fsys::path& work, std::string& log, const std::vector<std::string>& test,
                                  std::string& test_failure) {
  std::error_code ec;
  fsys::remove_all(work, ec);
  fsys::create_directories(work / "in" / "blobs" / "sha256");
  fsys::create_directories(work / "debs");
  // The original image as an OCI layout whose blobs are hard links to the store's.
  auto original_digest = Digest::parse(original);
  if (!original_digest) return make_error(Errc::invalid_argument, "bad original digest");
  auto manifest_bytes = fs::read_file(store_.blob_path(*original_digest), 8 << 20);
  if (!manifest_bytes) return manifest_bytes.error();
  auto m = oci::parse_manifest(*manifest_bytes, oci::media::kOciManifest);
  auto mj = json::parse(*manifest_bytes, nullptr, false);
  if (!m || !mj.is_object() || !m->config) return make_error(Errc::manifest_invalid, "the original manifest cannot be read");
  std::string media_type = mj.value("mediaType", std::string(oci::media::kOciManifest));
  auto link_in = [&](const Digest& d) -> Status {
    auto to = work / "in" / "blobs" / "sha256" / d.hex();
    if (fsys::exists(to)) return {};
    std::error_code e;
    fsys::create_hard_link(store_.blob_path(d), to, e);
    if (e) fsys::copy_file(store_.blob_path(d), to, e);
    if (e) return make_error(Errc::io_error, "cannot link blob " + d.str() + ": " + e.message());
    return {};
  };
  for (const auto& d : {*original_digest, m->config->digest})
    if (auto st = link_in(d); !st) return st.error();
  for (const auto& l : m->layers)
    if (auto st = link_in(l.digest); !st) return st.error();
  json index = {{"schemaVersion", 2},
                {"manifests", json::array({{{"mediaType", media_type}, {"digest", original}, {"size", manifest_bytes->size()},
                                            {"annotations", {{"org.opencontainers.image.ref.name", "original"}}}}})}};
  if (auto st = fs::write_file_atomic(work / "in" / "index.json", index.dump()); !st) return st.error();
  if (auto st = fs::write_file_atomic(work / "in" / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"); !st) return st.error();
  // The local repository: the pinned .debs from imported content, under names dpkg accepts.
  std::vector<std::string> debs;
  for (const auto& p : plan.packages) {
    auto d = Digest::parse(p.digest);
    if (!d || !store_.has_blob_file(*d)) return make_error(Errc::blob_unknown, "package " + p.name + " " + p.version + " is not in the store");
    auto v = p.version;
    for (auto& ch : v)
      if (ch == ':') ch = '%';
    auto file = p.name + "_" + v + "_" + p.architecture + ".deb";
    std::error_code e;
    fsys::create_hard_link(store_.blob_path(*d), work / "debs" / file, e);
    if (e) fsys::copy_file(store_.blob_path(*d), work / "debs" / file, e);
    if (e) return make_error(Errc::io_error, "cannot stage " + file + ": " + e.message());
    debs.push_back("/airheal-heal/" + file);
  }
  std::vector<std::string> b = {options_.buildah, "--root", (work / "storage").string(), "--runroot", (work / "run").string(),
                                "--storage-driver", "vfs"};
  ProcessOptions po;
  po.timeout = options_.step_timeout;
  // Relative oci: paths from inside the work folder: buildah derives image names from them, and
  // names must be lowercase whatever the state folder is called.
  po.cwd = work;
  auto step = [&](std::vector<std::string> args) -> Result<std::string> {
    auto argv = b;
    argv.insert(argv.end(), args.begin(), args.end());
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    log += "$ buildah " + cmd + "\n";
    auto r = run_process(argv, po);
    log += r.out + r.err;
    if (r.timed_out) return make_error(Errc::io_error, "buildah " + args[0] + " timed out after " + std::to_string(options_.step_timeout.count()) + " s");
    if (r.exit_code != 0) {
      auto err = r.err.substr(r.err.size() > 600 ? r.err.size() - 600 : 0);
      return make_error(Errc::io_error, "buildah " + args[0] + " failed (exit " + std::to_string(r.exit_code) + "): " + err);
    }
    return r.out;
  };
  auto ctr = step({"from", "--pull-never", "--name", "airheal-heal-" + std::to_string(id), "oci:in:original"});
  if (!ctr) return ctr.error();
  std::vector<std::string> install = {"run", "--runtime", options_.runtime, "--network", "none", "--volume",
                                      (work / "debs").string() + ":/airheal-heal:ro", "airheal-heal-" + std::to_string(id), "--",
                                      "dpkg", "-i"};
  install.insert(install.end(), debs.begin(), debs.end());
  if (auto r = step(install); !r) return r.error();
  if (auto r = step({"commit", "--quiet", "--disable-compression=false", "--format", "oci", "airheal-heal-" + std::to_string(id), "oci:out:healed"}); !r)
    return r.error();
  (void)step({"rm", "airheal-heal-" + std::to_string(id)});
  // The configured test, inside the healed image, with no network.
  if (!test.empty()) {
    auto tctr = "airheal-test-" + std::to_string(id);
    if (auto r = step({"from", "--pull-never", "--name", tctr, "oci:out:healed"}); !r) return r.error();
    std::vector<std::string> t = {"run", "--runtime", options_.runtime, "--network", "none", tctr, "--"};
    t.insert(t.end(), test.begin(), test.end());
    auto r = step(t);
    if (!r) test_failure = r.error().message;
    (void)step({"rm", tctr});
  }
  // Take buildah's last layer as the heal layer; everything below it stays the original's blobs.
  auto out_index = fs::read_file(work / "out" / "index.json", 1 << 20);
  if (!out_index) return out_index.error();
  auto oi = json::parse(*out_index, nullptr, false);
  if (!oi.is_object() || !oi.contains("manifests") || oi["manifests"].empty()) return make_error(Errc::io_error, "buildah wrote no image");
  auto out_blob = [&](const std::string& digest) { return work / "out" / "blobs" / "sha256" / digest.substr(7); };
  auto om = json::parse(*fs::read_file(out_blob(oi["manifests"][0]["digest"]), 8 << 20), nullptr, false);
  auto oc = json::parse(*fs::read_file(out_blob(om["config"]["digest"]), 8 << 20), nullptr, false);
  if (!om.is_object() || !oc.is_object() || om["layers"].size() != m->layers.size() + 1)
    return make_error(Errc::io_error, "buildah's image does not have exactly one layer more than the original");
  auto heal_layer = om["layers"].back();
  auto heal_diff = oc["rootfs"]["diff_ids"].back();
  auto heal_digest = Digest::parse(heal_layer["digest"].get<std::string>());
  if (!heal_digest) return make_error(Errc::io_error, "bad heal layer digest");
  // The healed config: the original's, one more diff id and a history entry saying what happened.
  auto config_bytes = fs::read_file(store_.blob_path(m->config->digest), 8 << 20);
  if (!config_bytes) return config_bytes.error();
  auto config = json::parse(*config_bytes, nullptr, false);
  if (!config.is_object()) return make_error(Errc::manifest_invalid, "the original config is not JSON");
  config["rootfs"]["diff_ids"].push_back(heal_diff);
  if (!config.contains("history") || !config["history"].is_array()) config["history"] = json::array();
  std::string pins;
  for (const auto& p : plan.packages) pins += " " + p.name + "=" + p.version;
  config["history"].push_back({{"created", scan::rfc3339(store_.now_seconds())},
                               {"created_by", "airheal heal " + std::to_string(id) + ": dpkg -i" + pins + " (no network)"},
                               {"comment", "airheal package patch"}});
  auto new_config = config.dump();
  auto config_digest = Sha256::of(new_config);
  json healed = mj;
  healed["config"]["digest"] = config_digest.str();
  healed["config"]["size"] = new_config.size();
  healed["config"]["mediaType"] = m->config->media_type;
  healed["layers"].push_back(heal_layer);
  if (!healed.contains("annotations") || !healed["annotations"].is_object()) healed["annotations"] = json::object();
  healed["annotations"]["org.opencontainers.image.base.digest"] = original;
  healed["annotations"]["dev.airheal.heal"] = std::to_string(id);
  auto healed_bytes = healed.dump();
  // Into the store: the heal layer and the new config, then the manifest (one transaction each).
  auto stage_file = work / "config.json";
  if (auto st = fs::write_file_atomic(stage_file, new_config); !st) return st.error();
  std::uint64_t layer_size = 0;
  if (auto d = Sha256::of_file(out_blob(heal_layer["digest"]), &layer_size); !d || d->str() != heal_digest->str())
    return make_error(Errc::digest_invalid, "the heal layer does not match its digest");
  if (auto st = store_.adopt_blob_file(out_blob(heal_layer["digest"]), *heal_digest); !st) return st.error();
  if (auto st = store_.adopt_blob_file(stage_file, config_digest); !st) return st.error();
  store_.transaction([&](sqlite::Connection& c) {
    store_.link_blob(c, repo, *heal_digest, layer_size);
    store_.link_blob(c, repo, config_digest, new_config.size());
    for (const auto& l : m->layers) store_.link_blob(c, repo, l.digest, static_cast<std::uint64_t>(l.size));
  });
  log += "heal layer " + heal_digest->str() + " (" + fs::human_bytes(layer_size) + ")\n";
  return healed_bytes;
}

Result<HealRecord> Engine::heal(const std::string& repo, const std::string& tag) {
  auto current = store_.get_manifest(repo, tag);
  if (!current) return make_error(Errc::manifest_unknown, repo + ":" + tag + ": " + current.error().message);
  // Heal from the original, never from an earlier heal: a second heal replaces the heal layer.
  std::string original = current->digest.str();
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT original FROM heals WHERE repository = ? AND tag = ? AND state = 'promoted' AND staged = ? ORDER BY id DESC LIMIT 1");
    st.bind(1, repo).bind(2, tag).bind(3, original);
    if (st.step()) original = st.get_text(0);
  });
  auto scanned = scanner_.scan(*Digest::parse(original));
  if (!scanned) return scanned.error();
  Policy policy = options_.policy ? options_.policy(repo) : Policy{};
  auto id = create(repo, tag, original, policy.mode);
  auto p = plan(original);
  if (!p) {
    transition(id, "failed", p.error().message, [&](sqlite::Connection& c) {
      c.prepare("UPDATE heals SET reason = ? WHERE id = ?").bind(1, p.error().message).bind(2, id).run();
    });
    return *get(id);
  }
  transition(id, "planned", p->strategy + ": " + std::to_string(p->packages.size()) + " package(s), " +
                               std::to_string(p->targeted.size()) + " targeted, " + std::to_string(p->deferred.size()) + " deferred",
             [&](sqlite::Connection& c) {
    c.prepare("UPDATE heals SET strategy = ?, plan = ? WHERE id = ?").bind(1, p->strategy).bind(2, p->to_json().dump()).bind(3, id).run();
  });
  if (policy.mode == "advisory" && p->strategy != "defer") {
    auto st = write_outbox(id, repo, tag, original, *p);
    std::string why = st ? "advisory mode: plan, Containerfile and package pins written to the outbox (heal-" + std::to_string(id) + ") for a human"
                         : "advisory mode: the outbox could not be written: " + st.error().message;
    transition(id, st ? "held" : "failed", why, [&](sqlite::Connection& c) {
      c.prepare("UPDATE heals SET reason = ? WHERE id = ?").bind(1, why).bind(2, id).run();
    });
    return *get(id);
  }
  if (p->strategy == "defer") {
    transition(id, "held", p->explanation, [&](sqlite::Connection& c) {
      c.prepare("UPDATE heals SET reason = ? WHERE id = ?").bind(1, p->explanation).bind(2, id).run();
    });
    return *get(id);
  }
  transition(id, "building", "buildah, no network");
  std::string log;
  auto work = store_.root() / "heal" / std::to_string(id);
  auto fail = [&](const std::string& why) {
    transition(id, "failed", why, [&](sqlite::Connection& c) {
      c.prepare("UPDATE heals SET reason = ?, log = ? WHERE id = ?").bind(1, why).bind(2, log.substr(0, 200000)).bind(3, id).run();
    });
    std::error_code ec;
    fsys::remove_all(work, ec);
    return *get(id);
  };
  std::string test_failure;
  auto built = build(id, repo, original, *p, work, log, policy.test, test_failure);
  if (!built) return fail(built.error().message);
  // Verify: the healed image is scanned like any other; the targeted findings must be gone and
  // nothing may be new.
  transition(id, "verifying", "rescan of the healed image");
  auto staged_tag = staging_tag(repo, tag);
  auto put = store_.put_manifest(repo, staged_tag, *built, oci::media::kOciManifest);
  if (!put) return fail("cannot store the healed manifest: " + put.error().message);
  auto staged = put->digest.str();
  auto rescanned = scanner_.scan(put->digest);
  if (!rescanned) return fail("rescan of the healed image failed: " + rescanned.error().message);
  json before, after;
  store_.read([&](sqlite::Connection& c) {
    scan::FindingsQuery q;
    q.manifests = {original};
    q.include_suppressed = true;
    before = scan::list_findings(c, q, store_.now_seconds());
    q.manifests = {staged};
    after = scan::list_findings(c, q, store_.now_seconds());
  });
  std::set<std::string> was, remaining, fresh;
  for (const auto& f : before) was.insert(f["package"].get<std::string>() + " " + f["advisory"].get<std::string>());
  std::set<std::string> targeted(p->targeted.begin(), p->targeted.end());
  for (const auto& f : after) {
    auto key = f["package"].get<std::string>() + " " + f["advisory"].get<std::string>();
    if (targeted.count(f["advisory"].get<std::string>())) remaining.insert(key);
    if (!was.count(key)) fresh.insert(key);
  }
  std::error_code ec;
  fsys::remove_all(work, ec);
  auto now = store_.now_seconds();
  if (!remaining.empty() || !fresh.empty() || !test_failure.empty()) {
    std::string why = "verification failed:";
    if (!test_failure.empty()) why += " the test command failed (" + test_failure + ");";
    for (const auto& r : remaining) why += " still " + r + ";";
    for (const auto& r : fresh) why += " new " + r + ";";
    transition(id, "held", why, [&](sqlite::Connection& c) {
      c.prepare("UPDATE heals SET reason = ?, log = ?, staged_tag = ?, staged = ? WHERE id = ?")
          .bind(1, why).bind(2, log.substr(0, 200000)).bind(3, staged_tag).bind(4, staged).bind(5, id).run();
    });
    return *get(id);
  }
  transition(id, "staged", repo + ":" + staged_tag + " = " + staged, [&](sqlite::Connection& c) {
    c.prepare("UPDATE heals SET staged_tag = ?, staged = ?, staged_at = ?, log = ?, reason = ? WHERE id = ?")
        .bind(1, staged_tag).bind(2, staged).bind(3, now).bind(4, log.substr(0, 200000))
        .bind(5, policy.mode == "continuous" ? "every gate passed" : "waiting for approval (airhealctl heal approve " + std::to_string(id) + ")")
        .bind(6, id).run();
  });
  if (policy.mode == "continuous") {
    auto promoted = approve(id, "airheal (continuous mode: rescan clean" + std::string(policy.test.empty() ? "" : ", test passed") + ")");
    if (!promoted) transition(id, "held", "promotion failed: " + promoted.error().message);
  }
  return *get(id);
}

Result<HealRecord> Engine::approve(std::int64_t id, const std::string& by) {
  auto h = get(id);
  if (!h) return make_error(Errc::not_found, "no heal " + std::to_string(id));
  if (h->state != "staged") return make_error(Errc::conflict, "heal " + std::to_string(id) + " is " + h->state + ", not staged");
  auto current = store_.get_manifest(h->repository, h->tag);
  if (current && current->digest.str() != h->original)
    return make_error(Errc::conflict, h->repository + ":" + h->tag + " has moved since the heal started (now " +
                                          current->digest.str() + "); heal it again");
  auto staged = store_.get_manifest(h->repository, h->staged);
  if (!staged) return make_error(Errc::manifest_unknown, "the staged image is gone: " + staged.error().message);
  if (auto st = store_.retain(h->repository, *Digest::parse(h->original), "rollback target of heal " + std::to_string(id)); !st)
    return st.error();
  auto put = store_.put_manifest(h->repository, h->tag, *staged->bytes, staged->media_type);
  if (!put) return put.error();
  auto now = store_.now_seconds();
  transition(id, "promoted", "approved by " + by + ": " + h->repository + ":" + h->tag + " -> " + h->staged,
             [&](sqlite::Connection& c) {
               c.prepare("UPDATE heals SET promoted_at = ?, reason = ? WHERE id = ?").bind(1, now).bind(2, "approved by " + by).bind(3, id).run();
             });
  return *get(id);
}

Result<HealRecord> Engine::rollback(const std::string& repo, const std::string& tag, const std::string& by) {
  std::optional<HealRecord> h;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(std::string(kSelect) + " WHERE repository = ? AND tag = ? AND state = 'promoted' ORDER BY id DESC LIMIT 1");
    st.bind(1, repo).bind(2, tag);
    if (st.step()) h = row(st);
  });
  if (!h) return make_error(Errc::not_found, "no promoted heal of " + repo + ":" + tag + " to roll back");
  auto original = store_.get_manifest(repo, h->original);
  if (!original) return make_error(Errc::manifest_unknown, "the original image " + h->original + " is gone: " + original.error().message);
  auto put = store_.put_manifest(repo, tag, *original->bytes, original->media_type);
  if (!put) return put.error();
  transition(h->id, "rolled_back", "rolled back by " + by + ": " + repo + ":" + tag + " -> " + h->original,
             [&](sqlite::Connection& c) {
               c.prepare("UPDATE heals SET reason = ? WHERE id = ?").bind(1, "rolled back by " + by).bind(2, h->id).run();
             });
  return *get(h->id);
}

std::vector<HealRecord> Engine::list() {
  std::vector<HealRecord> out;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(std::string(kSelect) + " ORDER BY id");
    while (st.step()) out.push_back(row(st));
  });
  return out;
}

std::optional<HealRecord> Engine::get(std::int64_t id) {
  std::optional<HealRecord> h;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare(std::string(kSelect) + " WHERE id = ?");
    st.bind(1, id);
    if (st.step()) h = row(st);
  });
  return h;
}

std::vector<json> Engine::events(std::int64_t id) {
  std::vector<json> out;
  store_.read([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT state, at, detail FROM heal_events WHERE heal = ? ORDER BY rowid");
    st.bind(1, id);
    while (st.step()) out.push_back({{"state", st.get_text(0)}, {"at", scan::rfc3339(st.get_int(1))}, {"detail", st.get_text(2)}});
  });
  return out;
}

}  // namespace airheal::heal
