#include "heal/engine.hpp"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <map>
#include <regex>
#include <set>

#include "core/fs.hpp"
#include "core/oci.hpp"
#include "heal/buildah_builder.hpp"
#include "heal/deb/dpkg_family.hpp"
#include "heal/deb/order.hpp"
#include "heal/deb/resolver.hpp"
#include "heal/remote_builder.hpp"
#include "scan/binary.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/layer.hpp"
#include "scan/sbom.hpp"
#include "scan/vex.hpp"
#include "scan/vex_repository.hpp"
#include "store/content_repository.hpp"
#include "version/version.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

// A heal's log as stored: whole up to 4 MiB, else its beginning and its end (where failures are).
std::string bounded_log(const std::string& log) {
  constexpr std::size_t kMax = 4u << 20;
  if (log.size() <= kMax) return log;
  return log.substr(0, kMax / 4) + "\n[... " + std::to_string(log.size() - kMax) +
         " bytes left out ...]\n" + log.substr(log.size() - (kMax - kMax / 4));
}

std::string today() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

}  // namespace

EngineOptions engine_options(const config::Config& cfg) {
  EngineOptions eo;
  eo.runtime = cfg.heal.runtime;
  eo.separation_of_duties = cfg.auth.separation_of_duties;
  eo.step_timeout = cfg.heal.step_timeout;
  eo.smoke_timeout = cfg.heal.smoke_timeout;
  eo.smoke_memory = cfg.heal.smoke_memory_bytes;
  eo.max_size_growth = cfg.heal.max_size_growth;
  eo.attest = cfg.heal.attest;
  eo.reuse_layers = cfg.heal.reuse_layers;
  eo.unsigned_package_channels = {cfg.heal.unsigned_packages.begin(),
                                  cfg.heal.unsigned_packages.end()};
  eo.layer_compression =
      cfg.heal.layer_compression == "zstd" ? LayerCompression::zstd : LayerCompression::gzip;
  eo.outbox = cfg.outbox_directory();
  if (!cfg.heal.builder_socket.empty())
    eo.builder = std::make_shared<RemoteBuilder>(cfg.heal.builder_socket);
  auto rules = cfg;  // the policy reads the rules of this configuration
  eo.policy = [rules](const std::string& repo) {
    auto r = rules.heal_rule(repo);
    return Policy{r.mode, r.test, r.canary};
  };
  return eo;
}

Engine::Engine(store::Store& store, scan::Scanner& scanner, audit::Journal* journal,
               EngineOptions options)
    : store_(store),
      scanner_(scanner),
      journal_(journal),
      options_(std::move(options)),
      builder_(options_.builder),
      promoter_(store,
                [this](std::int64_t id, HealState state, const std::string& detail,
                       const std::function<void(sqlite::Connection&)>& extra,
                       const std::string& actor) { transition(id, state, detail, extra, actor); }) {
  if (!builder_) {
    BuildahOptions o;
    o.buildah = options_.buildah;
    o.runtime = options_.runtime;
    o.storage = store_.root() / "heal" / "buildah";
    o.step_timeout = options_.step_timeout;
    builder_ = std::make_shared<BuildahBuilder>(o);
  }
}

void Engine::journal(json record) {
  if (options_.notify) options_.notify(record);
  if (!journal_) return;
  if (!record.contains("actor")) record["actor"] = options_.actor;
  if (auto st = journal_->append(std::move(record)); !st)
    spdlog::warn("journal: {}", st.error().message);
}

std::string Engine::content_generation(sqlite::Connection& c) {
  return store::ContentRepository::fixes_generation(c);
}

Result<Plan> Engine::plan(const std::string& manifest, const std::string& repository) {
  PlanInput input;
  input.repository = repository;
  json& findings = input.findings;
  std::optional<scan::ImageInventory> inv;
  auto& packages = input.packages;
  auto& artifacts = input.artifacts;
  store_.read([&](sqlite::Connection& c) {
    scan::FindingsQuery q;
    q.manifests = {manifest};
    q.include_suppressed =
        true;  // an exception accepts a risk until a fix arrives; a fix inside the gap heals it
    for (auto& f : scan::list_findings(c, q, store_.now_seconds()))
      if (!f.contains("suppressed") || f["suppressed"].value("by", "") != "vex")
        findings.push_back(std::move(f));
    if (findings.is_null()) findings = json::array();
    inv = scan::InventoryRepository::load(c, manifest);
    for (auto& row : store::ContentRepository::fixes(c)) {
      ImportedContent x{row.name,
                        row.version,
                        row.digest,
                        row.snapshot,
                        json::parse(row.metadata, nullptr, false),
                        row.imported_at,
                        row.channel};
      if (!x.meta.is_object()) continue;
      (row.kind == "package" ? packages : artifacts).push_back(std::move(x));
    }
  });
  if (!inv) return make_error(Errc::not_found, manifest + " has not been scanned");
  input.inventory = std::move(*inv);
  input.upstream_bump = upstream_bump(manifest, input.no_bump);
  input.unsigned_channels = options_.unsigned_package_channels;
  auto image = Digest::parse(manifest);
  if (!image) return make_error(Errc::invalid_argument, manifest + " is not a digest");
  PlanSources sources;
  sources.image = [this, image = *image]() { return image_files(image); };
  sources.package_metadata = [this](const std::string& digest) { return package_metadata(digest); };
  sources.artifact_bytes = [this](const Digest& d) -> std::optional<std::string> {
    auto bytes = fs::read_file(store_.blob_path(d), 1ull << 30);
    if (!bytes) return std::nullopt;
    return std::move(*bytes);
  };
  return plan_heal(input, sources);
}

std::int64_t Engine::create(const std::string& repo, const std::string& tag,
                            const std::string& original, const std::string& mode) {
  std::int64_t id = 0;
  auto now = store_.now_seconds();
  id = store_.transaction([&](sqlite::Connection& c) {
    return HealRepository::create(c, repo, tag, original, mode, content_generation(c), now);
  });
  journal({{"type", "heal.detected"},
           {"heal", id},
           {"image", repo + ":" + tag},
           {"original", original}});
  return id;
}

void Engine::transition(std::int64_t id, HealState to, const std::string& detail,
                        const std::function<void(sqlite::Connection&)>& extra,
                        const std::string& actor) {
  auto now = store_.now_seconds();
  auto s = store_.transaction([&](sqlite::Connection& c) {
    HealRepository::set_state(c, id, to, detail, now);
    if (extra) extra(c);
    return HealRepository::summary(c, id);
  });
  json record = {{"type", std::string("heal.") + to_string(to)},
                 {"heal", id},
                 {"image", s.image},
                 {"detail", detail}};
  // Webhooks and the journal carry the classified failure beside the one-line reason.
  if ((to == HealState::failed || to == HealState::held) && !s.failure.empty())
    record["failure"] = {{"class", s.failure}, {"lines", s.failure_lines}};
  if (!actor.empty()) record["actor"] = actor;
  journal(std::move(record));
}

void Engine::fail_heal(std::int64_t id, const std::string& why, const std::string& log,
                       const Failure& failure) {
  // The package manager's own error lines say more than the step's exit status.
  auto cls = failure.cls == FailureClass::none ? FailureClass::build_failed : failure.cls;
  auto reason = failure.lines.empty() ? why : failure.summary();
  transition(id, HealState::failed, reason, [&](sqlite::Connection& c) {
    HealRepository::set_outcome(c, id, reason, bounded_log(log), to_slug(cls), failure.lines);
  });
}

Result<std::string> Engine::package_metadata(const std::string& digest) {
  {
    std::lock_guard lock(metadata_mutex_);
    if (auto it = metadata_.find(digest); it != metadata_.end()) return it->second;
  }
  auto d = Digest::parse(digest);
  if (!d) return make_error(Errc::digest_invalid, "bad package digest " + digest);
  auto file = store_.blob_path(*d);
  const auto* family = package_family_of_file(file);
  if (!family)
    return make_error(Errc::unsupported, "package " + digest + " is not a .deb, .apk or .rpm");
  auto meta = family->package_metadata(file);
  if (!meta) return meta.error();
  std::lock_guard lock(metadata_mutex_);
  return metadata_.emplace(digest, std::move(*meta)).first->second;
}

Result<ImageFiles> Engine::image_files(const Digest& manifest) {
  auto files = scanner_.image_files(manifest);
  if (!files) return files.error();
  auto mb = fs::read_file(store_.blob_path(manifest), 8 << 20);
  if (!mb) return mb.error();
  auto m = oci::parse_manifest(*mb, oci::media::kOciManifest);
  if (!m) return make_error(Errc::manifest_invalid, "the image's manifest cannot be read");
  std::vector<std::filesystem::path> layers;
  for (const auto& l : m->layers) layers.push_back(store_.blob_path(l.digest));
  return ImageFiles(std::move(*files),
                    [layers](const std::string& path, const scan::FinalFile& f,
                             std::uint64_t cap) -> Result<std::string> {
                      if (f.layer >= layers.size())
                        return make_error(Errc::io_error, "bad layer index for " + path);
                      return scan::read_layer_file(layers[f.layer], path, cap);
                    });
}

Result<std::vector<FixedPackage>> Engine::fixed_packages(const Plan& plan,
                                                         const PackageFamily& family) {
  std::vector<FixedPackage> out;
  for (const auto& p : plan.packages) {
    auto d = Digest::parse(p.digest);
    if (!d) return make_error(Errc::invalid_argument, "package " + p.name + ": bad digest");
    auto fp = family.read_package(p, store_.blob_path(*d));
    if (!fp) return fp.error();
    fp->sha256 = d->hex();
    out.push_back(std::move(*fp));
  }
  return out;
}

Result<HealRecord> Engine::heal(const std::string& repo, const std::string& tag, bool force) {
  auto current = store_.get_manifest(repo, tag);
  if (!current)
    return make_error(Errc::manifest_unknown, repo + ":" + tag + ": " + current.error().message);
  // Heal from the original, never from an earlier heal: a second heal replaces the heal layer.
  std::string original = current->digest.str();
  if (auto o = store_.read([&](sqlite::Connection& c) {
        return HealRepository::original_of_promoted(c, repo, tag, original);
      }))
    original = *o;
  auto scanned = scanner_.scan(*Digest::parse(original));
  if (!scanned) return scanned.error();
  Policy policy = options_.policy ? options_.policy(repo) : Policy{};
  auto p = plan(original, repo);
  if (!force && p) {
    auto prev = store_.read([&](sqlite::Connection& c) {
      return HealRepository::latest_settled(c, repo, tag, original);
    });
    auto now_plan = p->to_json();
    if (prev && prev->plan.is_object() &&
        prev->plan.value("packages", json()) == now_plan["packages"] &&
        prev->plan.value("artifacts", json::array()) == now_plan["artifacts"] &&
        prev->plan.value("rebase", json()) == now_plan.value("rebase", json()) &&
        prev->plan.value("dependencies", json()) == now_plan.value("dependencies", json())) {
      store_.transaction([&](sqlite::Connection& c) {
        HealRepository::set_generation(c, prev->id, content_generation(c));
      });
      return *get(prev->id);
    }
  }
  auto id = create(repo, tag, original, policy.mode);
  auto started = store_.now_seconds();
  if (!p) {
    fail_heal(id, p.error().message, "");
    return *get(id);
  }
  transition(id, HealState::planned,
             p->strategy + ": " + std::to_string(p->packages.size()) + " package(s), " +
                 std::to_string(p->artifacts.size()) + " artefact(s), " +
                 std::to_string(p->targeted.size()) + " targeted, " +
                 std::to_string(p->deferred.size()) + " deferred",
             [&](sqlite::Connection& c) {
               HealRepository::set_plan(c, id, p->strategy, p->to_json(), p->fix_imported_at);
             });
  auto hold = [&](const std::string& why, const std::string& log = "",
                  const Failure& failure = {}) {
    transition(id, HealState::held, why, [&](sqlite::Connection& c) {
      HealRepository::set_outcome(c, id, why, bounded_log(log), to_slug(failure.cls),
                                  failure.lines);
    });
    return *get(id);
  };
  bool pins = !p->dependencies.empty();
  if (policy.mode == "advisory" && (p->builds() || pins)) {
    auto st = write_outbox(id, repo, tag, original, *p, false);
    if (!st) {
      fail_heal(id, "advisory mode: the outbox could not be written: " + st.error().message, "");
      return *get(id);
    }
    return hold(
        "advisory mode: plan, Containerfile, package and dependency pins written to the outbox "
        "(heal-" +
        std::to_string(id) + ") for a human");
  }
  // Dependency pins need the application's source: in every mode they go to the outbox.
  if (pins) {
    if (auto st = write_outbox(id, repo, tag, original, *p, true); !st) {
      fail_heal(id, "the dependency pins could not be written to the outbox: " + st.error().message,
                "");
      return *get(id);
    }
  }
  if (!p->builds())
    return hold(pins
                    ? "dependency pins written to the outbox (heal-" + std::to_string(id) +
                          ") for the application's owners to rebuild from source: " + p->explanation
                    : p->explanation);

  transition(id, HealState::building, "no network; " + p->strategy);
  std::string log;
  auto work = store_.root() / "heal" / std::to_string(id);
  auto cleanup = [&] {
    std::error_code ec;
    fsys::remove_all(work, ec);
  };
  Failure failure;
  auto built = build(id, repo, original, *p, work, log, policy, failure);
  if (!built) {
    cleanup();
    fail_heal(id, built.error().message, log, failure);
    return *get(id);
  }
  // Verify: the healed image is scanned like any other; the targeted findings must be gone and
  // no new critical or high finding may appear.
  transition(id, HealState::verifying,
             std::string("rescan, test command, smoke test, size") +
                 (built->reused_from
                      ? "; heal layer reused from heal " + std::to_string(built->reused_from)
                      : ""));
  auto staged_tag = promoter_.staging_tag(repo, tag, today());
  auto put =
      store_.put_manifest(repo, staged_tag, built->manifest, oci::media::kOciManifest, "heal");
  cleanup();
  if (!put) {
    fail_heal(id, "cannot store the healed manifest: " + put.error().message, log);
    return *get(id);
  }
  auto staged = put->digest.str();
  store_.transaction([&](sqlite::Connection& c) {
    HealRepository::set_staged_image(c, id, staged_tag, staged,
                                     static_cast<std::int64_t>(built->heal_layer_size),
                                     static_cast<std::int64_t>(built->image_size));
  });
  auto rescanned = scanner_.scan(put->digest);
  if (!rescanned) {
    fail_heal(id, "rescan of the healed image failed: " + rescanned.error().message, log);
    return *get(id);
  }
  VerifyInput check;
  store_.read([&](sqlite::Connection& c) {
    scan::FindingsQuery q;
    q.manifests = {original};
    q.include_suppressed = true;
    check.before = scan::list_findings(c, q, store_.now_seconds());
    q.manifests = {staged};
    check.after = scan::list_findings(c, q, store_.now_seconds());
  });
  if (options_.attest) attest(id, repo, staged, *p, original, started, log);
  check.targeted = p->targeted;
  // A gold substitution replaces whole binaries, whatever their size.
  check.size_bound = !p->packages.empty() && p->artifacts.empty();
  check.max_size_growth = options_.max_size_growth;
  check.built = *built;
  auto verdict = verify(check);
  store_.transaction(
      [&](sqlite::Connection& c) { HealRepository::set_gates(c, id, verdict.gates); });
  auto notes = verdict.notes;
  if (!verdict.passed())
    return hold("verification failed:" + verdict.why, log + notes, verdict.gate);
  auto now = store_.now_seconds();
  transition(
      id, HealState::staged, repo + ":" + staged_tag + " = " + staged, [&](sqlite::Connection& c) {
        HealRepository::set_staged(
            c, id, now, bounded_log(log + notes),
            policy.mode == "continuous"
                ? "every gate passed"
                : "waiting for approval (airhealctl heal approve " + std::to_string(id) + ")");
      });
  if (policy.mode != "continuous") return *get(id);
  auto promoted = approve(id, "airheal (continuous mode: every gate passed)");
  if (!promoted) {
    hold("promotion failed: " + promoted.error().message);
    return *get(id);
  }
  // After promotion: the canary runs in the image the tag now serves; if it fails, the promotion
  // is rolled back on its own.
  if (!policy.canary.empty()) {
    auto served = store_.get_manifest(repo, tag);
    std::string failure;
    std::string note;
    if (!served || served->digest.str() != staged) {
      failure = "the tag does not serve the healed image";
    } else {
      auto r =
          run_checks(id, *served->bytes, store_.root() / "heal" / (std::to_string(id) + "-canary"),
                     log, policy.canary, false, note);
      failure = r ? r->first : r.error().message;
    }
    if (!failure.empty()) {
      auto rb = rollback(repo, tag,
                         "airheal (automatic: the canary failed after promotion: " + failure + ")");
      if (!rb) spdlog::error("heal {}: automatic rollback failed: {}", id, rb.error().message);
    }
  }
  return *get(id);
}

Status Engine::check_approvable(std::int64_t id, const std::string& by) {
  auto a = promoter_.approvable(id);
  if (!a) return a.error();
  if (!options_.separation_of_duties || by.empty()) return {};
  auto h = get(id);
  if (!h) return make_error(Errc::not_found, "no heal " + std::to_string(id));
  auto now = store_.now_seconds();
  auto exceptions =
      store_.read([&](sqlite::Connection& c) { return scan::list_exceptions(c, false, now); });
  for (const auto& e : exceptions)
    if (e.created_by == by && (e.product == h->repository || e.product == h->original ||
                               fnmatch(e.product.c_str(), h->repository.c_str(), 0) == 0))
      return make_error(Errc::conflict, "separation of duties: " + by + " granted exception " +
                                            std::to_string(e.id) + " (" + e.vulnerability +
                                            ") on " + h->repository +
                                            "; another approver must approve heal " +
                                            std::to_string(id));
  return {};
}

Result<HealRecord> Engine::approve(std::int64_t id, const std::string& by,
                                   const std::string& actor) {
  if (auto st = check_approvable(id, by); !st && st.error().code == Errc::conflict &&
                                          st.error().message.rfind("separation of duties", 0) == 0)
    return st.error();
  return promoter_.approve(id, by, actor);
}

Result<HealRecord> Engine::rollback(const std::string& repo, const std::string& tag,
                                    const std::string& by, const std::string& actor) {
  return promoter_.rollback(repo, tag, by, actor);
}

Result<HealRecord> Engine::hold(std::int64_t id, const std::string& by, const std::string& why,
                                const std::string& actor) {
  return promoter_.hold(id, by, why, actor);
}

std::vector<HealRecord> Engine::list() {
  // Without the build logs: the API, metrics and listings never show them, and every status
  // request lists every heal. get() reads one heal whole.
  return store_.read([](sqlite::Connection& c) { return HealRepository::list(c); });
}

std::optional<HealRecord> Engine::get(std::int64_t id) {
  return store_.read([&](sqlite::Connection& c) { return HealRepository::get(c, id); });
}

std::vector<json> Engine::events(std::int64_t id) {
  return store_.read([&](sqlite::Connection& c) { return HealRepository::events(c, id); });
}

}  // namespace airheal::heal
