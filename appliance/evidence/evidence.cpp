#include "evidence/evidence.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <memory>
#include <set>

#include "audit/checkpoint.hpp"
#include "audit/journal.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"
#include "evidence/timeline.hpp"
#include "heal/attest.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/sbom.hpp"
#include "scan/scanner.hpp"
#include "scan/vex.hpp"
#include "scan/vex_repository.hpp"
#include "snapshot/format.hpp"
#include "snapshot/snapshot_repository.hpp"
#include "store/catalog.hpp"

namespace airheal::evidence {
using namespace audit;  // the journal and its checkpoints, which a bundle carries a slice of
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

std::string readme(const json& bundle) {
  auto key = bundle.value("appliance_key", "");
  return "# airheal evidence bundle\n\n"
         "Period: " +
         bundle["period"].value("from", "") + " to " + bundle["period"].value("to", "") + "  \n" +
         "Images: " +
         (bundle.value("images", "").empty() ? std::string("all") : bundle.value("images", "")) +
         "  \n" + "Made: " + bundle.value("created", "") +
         " by the appliance whose OpenPGP key is  \n`" + key + "`\n\n" +
         "Open `report.html` in any browser (it loads nothing from the network).\n\n"
         "## Verify it\n\n"
         "With the verifier (package `airheal-evidence`), on the bundle file itself:\n\n"
         "    airheal-evidence verify BUNDLE.tar --key " +
         key +
         "\n\n"
         "Or by hand, in the folder this bundle was unpacked into, with GnuPG and coreutils "
         "only:\n\n"
         "1. Check that the key fingerprint above is the one your appliance operator gave you\n"
         "   (`gpg --show-keys --with-fingerprint keys/appliance.asc`).\n"
         "2. Check the signature over the manifest with that key only:\n\n"
         "       mkdir -m 700 /tmp/evidence-gpg\n"
         "       gpg --homedir /tmp/evidence-gpg --import keys/appliance.asc\n"
         "       gpg --homedir /tmp/evidence-gpg --verify MANIFEST.sha256.asc MANIFEST.sha256\n\n"
         "   It must say \"Good signature\" from that fingerprint.\n"
         "3. Check every file against the manifest, and that no file is missing or extra:\n\n"
         "       sha256sum --strict -c MANIFEST.sha256\n"
         "       find . -type f ! -name 'MANIFEST.sha256*' | sed 's|^\\./||' | sort > "
         "/tmp/present\n"
         "       cut -c67- MANIFEST.sha256 | sort | diff - /tmp/present\n\n"
         "4. Check the audit journal's signed checkpoints (one at each end of the slice):\n\n"
         "       for c in audit/checkpoints/*.json; do gpg --homedir /tmp/evidence-gpg --verify "
         "\"$c.asc\" \"$c\"; done\n\n"
         "5. Check the hash chain: in `audit/journal.jsonl` each record's `prev` is the sha256 of "
         "the line\n"
         "   before it (the bytes of the line without its newline); the first record's `prev` is "
         "the `head`\n"
         "   of the earlier checkpoint (or 64 zeros when the slice starts at record 1), and the "
         "last\n"
         "   record's sha256 is the `head` of the later checkpoint. `airheal-evidence verify` does "
         "this.\n\n"
         "## What is inside\n\n"
         "| path | what |\n|---|---|\n"
         "| bundle.json | period, image filter, appliance key, audit slice bounds |\n"
         "| summary.json | the figures report.html shows |\n"
         "| report.html | the report for people |\n"
         "| audit/journal.jsonl | the audit records of the period (hash-chained JSON lines) |\n"
         "| audit/checkpoints/SEQ.json(.asc) | signed checkpoints that anchor the slice |\n"
         "| snapshots/ | manifests of the snapshots imported in the period, with their signers "
         "(index.json) |\n"
         "| images/REPO/TAG/findings.json, sbom.cdx.json | each image's findings (VEX and "
         "exceptions applied) and CycloneDX SBOM |\n"
         "| heals/ID/ | each heal: record and timeline, findings before and after, signed "
         "attestations (DSSE) |\n"
         "| vex/openvex.json, vex/statements.json | VEX statements (OpenVEX document; all "
         "statements) |\n"
         "| exceptions.json | risk exceptions with expiry, revoked ones included |\n"
         "| keys/appliance.asc | the appliance's public key |\n";
}

bool matches(const std::string& pattern, const std::string& repo, const std::string& tag) {
  if (pattern.empty()) return true;
  return fnmatch(pattern.c_str(), repo.c_str(), 0) == 0 ||
         fnmatch(pattern.c_str(), (repo + ":" + tag).c_str(), 0) == 0;
}

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

std::string manifest_for(const std::map<std::string, std::string>& files) {
  std::string out;
  for (const auto& [path, bytes] : files) out += Sha256::of(bytes).hex() + "  " + path + "\n";
  return out;
}

Status write_bundle(const fsys::path& out, std::map<std::string, std::string> files,
                    const std::function<Result<std::string>(const std::string&)>& sign,
                    std::int64_t mtime) {
  auto manifest = manifest_for(files);
  auto sig = sign(manifest);
  if (!sig) return sig.error();
  files["MANIFEST.sha256"] = manifest;
  files["MANIFEST.sha256.asc"] = *sig;
  auto tmp = out.string() + ".part";
  std::unique_ptr<struct archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                                   &archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK)
    return make_error(Errc::io_error, "cannot write " + tmp + ": " + archive_error_string(a.get()));
  // Directories first, so that tar -x and file managers show a tidy tree.
  std::set<std::string> dirs;
  for (const auto& [path, bytes] : files)
    for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
      dirs.insert(path.substr(0, slash));
  auto header = [&](const std::string& path, bool dir, std::size_t size) {
    std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                           &archive_entry_free);
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e.get(), dir ? 0755 : 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e.get(), mtime, 0);
    archive_entry_set_uname(e.get(), "root");
    archive_entry_set_gname(e.get(), "root");
    return archive_write_header(a.get(), e.get()) == ARCHIVE_OK;
  };
  for (const auto& d : dirs)
    if (!header(d, true, 0))
      return make_error(Errc::io_error,
                        "cannot write " + tmp + ": " + archive_error_string(a.get()));
  for (const auto& [path, bytes] : files) {
    if (!header(path, false, bytes.size()) ||
        archive_write_data(a.get(), bytes.data(), bytes.size()) !=
            static_cast<la_ssize_t>(bytes.size()))
      return make_error(Errc::io_error,
                        "cannot write " + tmp + " (disk full?): " + archive_error_string(a.get()));
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    return make_error(Errc::io_error, "cannot write " + tmp + ": " + archive_error_string(a.get()));
  if (auto st = fs::fsync_path(tmp); !st) return st;
  std::error_code ec;
  fsys::rename(tmp, out, ec);
  if (ec) {
    fsys::remove(tmp, ec);
    return make_error(Errc::io_error, "cannot move the bundle to " + out.string());
  }
  return {};
}

std::optional<std::int64_t> period_bound(const std::string& text, bool end_of_day) {
  if (text.size() == 10) {
    auto d = snapshot::parse_time(text + "T00:00:00Z");
    if (!d) return std::nullopt;
    return *d + (end_of_day ? 86399 : 0);
  }
  return snapshot::parse_time(text);
}

Result<EvidenceReport> export_evidence(store::Store& store, heal::Engine& engine,
                                       const fsys::path& state_dir, const EvidenceOptions& o) {
  auto progress = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  if (o.to < o.from) return make_error(Errc::invalid_argument, "the period ends before it starts");
  EvidenceReport report;
  auto key = heal::ApplianceKey::open(state_dir);
  if (!key)
    return make_error(Errc::io_error, "the appliance key is not usable: " + key.error().message);
  report.key = key->fingerprint();
  auto sign = [&](const std::string& data) { return key->sign(data); };
  std::map<std::string, std::string> files;
  auto now = now_seconds();
  // The state the report describes: at the end of the period (or now, for a period still
  // running): the digests the tags served then, the findings known then.
  auto period_end = std::min(o.to, store.now_seconds());
  auto findings_at = [&](sqlite::Connection& c, const std::string& digest) {
    scan::FindingsQuery q;
    q.manifests = {digest};
    q.include_suppressed = true;
    json out = json::array();
    for (auto& f : scan::list_findings(c, q, period_end)) {
      auto seen = snapshot::parse_time(f.value("first_seen", ""));
      if (!seen || *seen <= period_end) out.push_back(std::move(f));
    }
    return out;
  };
  json summary = {{"period", {{"from", scan::rfc3339(o.from)}, {"to", scan::rfc3339(o.to)}}},
                  {"state_as_of", scan::rfc3339(period_end)},
                  {"created", scan::rfc3339(now)},
                  {"images_filter", o.images},
                  {"appliance_key", report.key}};

  // 1. The audit slice, anchored by signed checkpoints (a fresh one at the current end first).
  progress("audit journal: signing a checkpoint and cutting the period's slice");
  Journal journal(journal_path(state_dir));
  if (auto problem = journal.verify(); !problem.empty())
    return make_error(Errc::invalid_argument, "the audit journal is broken (" + problem +
                                                  "); no evidence is exported from it");
  if (auto c = make_checkpoint(state_dir, journal, report.key, sign, &store);
      !c && c.error().code != Errc::not_found)
    return c.error();
  if (auto jr = verify_journal(state_dir, journal, &store, false); !jr.intact())
    return make_error(Errc::invalid_argument, "the audit journal is not intact (" +
                                                  jr.problems.front() +
                                                  "); no evidence is exported from it");
  auto lines = journal.lines();
  if (!lines) return lines.error();
  auto checkpoints = load_checkpoints(checkpoints_dir(state_dir));
  std::int64_t first = 0, last = 0;  // sequence numbers of the period's records
  std::vector<json> records;
  for (std::size_t i = 0; i < lines->size(); ++i) {
    auto j = json::parse((*lines)[i], nullptr, false);
    records.push_back(j);
    auto t = j.is_object() ? j.value("time", std::int64_t{0}) : 0;
    if (t >= o.from && t <= o.to) {
      if (!first) first = static_cast<std::int64_t>(i) + 1;
      last = static_cast<std::int64_t>(i) + 1;
    }
  }
  json audit = {{"records", 0}};
  if (first) {
    const Checkpoint* start = nullptr;
    const Checkpoint* end = nullptr;
    for (const auto& c : checkpoints) {
      if (c.seq < first) start = &c;
      if (c.seq >= last && !end) end = &c;
    }
    if (!end && !checkpoints.empty())
      end = &checkpoints.back();  // the newest record is that checkpoint's own
    if (!end) return make_error(Errc::io_error, "no checkpoint covers the period's last record");
    auto s = start ? start->seq + 1 : 1;
    auto e = end->seq;
    std::string slice;
    for (auto n = s; n <= e; ++n) slice += (*lines)[static_cast<std::size_t>(n - 1)] + "\n";
    files["audit/journal.jsonl"] = slice;
    for (const auto* c : {start, end}) {
      if (!c) continue;
      files["audit/checkpoints/" + std::to_string(c->seq) + ".json"] = c->bytes;
      files["audit/checkpoints/" + std::to_string(c->seq) + ".json.asc"] = c->signature;
    }
    audit = {{"first_seq", s},
             {"last_seq", e},
             {"records", e - s + 1},
             {"start_checkpoint", start ? start->seq : 0},
             {"end_checkpoint", end->seq},
             {"period_first_seq", first},
             {"period_last_seq", std::min(last, e)}};
    report.records = static_cast<std::size_t>(e - s + 1);
  }
  summary["audit"] = audit;
  // Approvals, rollbacks and other people's actions, from the journal itself.
  json actions = json::array();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (!r.is_object()) continue;
    auto t = r.value("time", std::int64_t{0});
    if (t < o.from || t > o.to) continue;
    auto type = r.value("type", "");
    if (type == "heal.promoted" || type == "heal.rolled_back" || type.rfind("exception.", 0) == 0 ||
        type.rfind("vex.", 0) == 0 || type == "snapshot.refused" || type.rfind("trust.", 0) == 0 ||
        type.rfind("config.", 0) == 0 || type.rfind("key.", 0) == 0) {
      auto actor = r.contains("by") && r["by"].is_string()
                       ? r["by"].get<std::string>()
                       : r.value("actor", std::string("airheal"));
      auto detail = r.contains("detail") && r["detail"].is_string() ? r["detail"].get<std::string>()
                    : r.contains("reason") && r["reason"].is_string()
                        ? r["reason"].get<std::string>()
                        : std::string();
      if (r.contains("exception") &&
          r["exception"].is_object()) {  // who granted what, until when, why
        const auto& e = r["exception"];
        actor = e.value("created_by", actor);
        detail = e.value("vulnerability", "") + " in " + e.value("product", "") + " until " +
                 e.value("expires", "") + ": " + e.value("reason", "");
      } else if (r.contains("statement") && r["statement"].is_object()) {
        const auto& v = r["statement"];
        detail = v.value("vulnerability", "") + " " + v.value("status", "") + " for " +
                 v.value("product", "");
      }
      actions.push_back({{"seq", r.value("seq", std::int64_t{0})},
                         {"time", scan::rfc3339(t)},
                         {"type", type},
                         {"actor", actor},
                         {"heal", r.value("heal", json())},
                         {"image", r.value("image", json())},
                         {"detail", detail}});
    }
  }
  summary["actions"] = actions;

  // 2. Snapshots imported in the period, with their signers.
  progress("snapshots imported in the period");
  json snapshots = json::array();
  snapshot::SnapshotQuery sq;
  sq.imported_from = o.from;
  sq.imported_to = o.to;
  sq.with_manifest = true;
  for (auto& r : snapshot::SnapshotRepository(store).list(sq)) {
    auto name = "snapshots/" + r.channel + "-" + std::to_string(r.sequence) + ".manifest.json";
    files[name] = std::move(r.manifest);
    auto j = snapshot::to_json(r);
    j["manifest"] = name;
    snapshots.push_back(std::move(j));
  }
  files["snapshots/index.json"] = snapshots.dump(2) + "\n";
  summary["snapshots"] = snapshots;
  report.snapshots = snapshots.size();

  // 3. Images in scope: findings (VEX and exceptions applied) and a CycloneDX SBOM each.
  std::vector<std::tuple<std::string, std::string, std::string>> tags;  // repo, tag, digest
  store.read([&](sqlite::Connection& c) {
    for (const auto& t : store::served_tags_at(c, period_end))
      if (matches(o.images, t.repository, t.tag)) tags.emplace_back(t.repository, t.tag, t.digest);
  });
  json images = json::array();
  std::size_t n = 0;
  for (const auto& [repo, tag, digest] : tags) {
    progress("image " + std::to_string(++n) + "/" + std::to_string(tags.size()) + ": " + repo +
             ":" + tag);
    json findings = json::array();
    std::optional<scan::ImageInventory> inv;
    std::int64_t scanned = 0;
    store.read([&](sqlite::Connection& c) {
      findings = findings_at(c, digest);
      inv = scan::InventoryRepository::load(c, digest);
      scanned = scan::InventoryRepository::scanned_at(c, digest).value_or(0);
    });
    auto dir = "images/" + repo + "/" + tag + "/";
    files[dir + "findings.json"] = findings.dump(2) + "\n";
    json sev = json::object();
    std::size_t open = 0;
    for (const auto& f : findings) {
      if (f.contains("suppressed")) continue;
      ++open;
      sev[f.value("severity", "unknown")] = sev.value(f.value("severity", "unknown"), 0) + 1;
    }
    if (inv) {
      scan::SbomSubject s{repo, digest, {tag}, scanned, o.tool_version};
      files[dir + "sbom.cdx.json"] = scan::cyclonedx(*inv, s).dump(2) + "\n";
    }
    images.push_back({{"image", repo + ":" + tag},
                      {"digest", digest},
                      {"scanned", inv.has_value()},
                      {"components", inv ? inv->components.size() : 0},
                      {"findings", findings.size()},
                      {"open", open},
                      {"severity", sev},
                      {"suppressed", findings.size() - open}});
  }
  summary["images"] = images;
  report.images = images.size();
  // Scan coverage: of the images served, how many have an inventory (and so findings).
  std::size_t scanned_images = 0;
  for (const auto& i : images) scanned_images += i.value("scanned", false);
  summary["coverage"] = {{"served", images.size()},
                         {"scanned", scanned_images},
                         {"percent", images.empty() ? 100.0
                                                    : 100.0 * static_cast<double>(scanned_images) /
                                                          static_cast<double>(images.size())}};

  // Advisory data currency: per channel, the newest snapshot imported by the end of the period,
  // when the connected side made it and how old it was then.
  {
    std::map<std::string, snapshot::SnapshotRow> newest;
    snapshot::SnapshotQuery cq;
    cq.imported_to = period_end;
    for (auto& r : snapshot::SnapshotRepository(store).list(cq)) {
      auto it = newest.find(r.channel);
      if (it == newest.end() || r.sequence >= it->second.sequence)
        newest.insert_or_assign(r.channel, std::move(r));
    }
    json currency = json::array();
    for (const auto& [channel, r] : newest)
      currency.push_back(
          {{"channel", channel},
           {"sequence", r.sequence},
           {"created", scan::rfc3339(r.created_at)},
           {"imported", scan::rfc3339(r.imported_at)},
           {"expires", r.expires_at ? json(scan::rfc3339(r.expires_at)) : json()},
           {"age_days", std::max<std::int64_t>(0, (period_end - r.created_at) / 86400)},
           {"expired", r.expires_at && r.expires_at < period_end},
           {"advisories", r.counts.value("advisories", json())}});
    summary["advisory_currency"] = currency;
  }

  // 4. Heals started in the period for images in scope.
  progress("heals, their timelines and signed attestations");
  json heals = json::array();
  for (const auto& h : engine.list()) {
    if (h.created_at < o.from || h.created_at > o.to || !matches(o.images, h.repository, h.tag))
      continue;
    auto dir = "heals/" + std::to_string(h.id) + "/";
    auto rec = h.to_json();
    rec["events"] = engine.events(h.id);
    files[dir + "heal.json"] = rec.dump(2) + "\n";
    json before = json::array(), after = json::array();
    store.read([&](sqlite::Connection& c) {
      scan::FindingsQuery q;
      q.include_suppressed = true;
      q.manifests = {h.original};
      before = scan::list_findings(c, q, store.now_seconds());
      if (!h.staged.empty()) {
        q.manifests = {h.staged};
        after = scan::list_findings(c, q, store.now_seconds());
      }
    });
    files[dir + "findings-before.json"] = before.dump(2) + "\n";
    if (!h.staged.empty()) files[dir + "findings-after.json"] = after.dump(2) + "\n";
    std::size_t k = 0;
    for (const auto& a : h.attestations) {
      auto d = Digest::parse(a.value("digest", ""));
      if (!d) continue;
      auto mb = fs::read_file(store.blob_path(*d), 4 << 20);
      if (!mb) continue;
      auto m = oci::parse_manifest(*mb, oci::media::kOciManifest);
      if (!m || m->layers.empty()) continue;
      auto env = fs::read_file(store.blob_path(m->layers[0].digest), 64 << 20);
      if (!env) continue;
      auto pt = a.value("predicateType", a.value("predicate_type", std::string("attestation")));
      auto slash = pt.find_last_of('/');
      auto shortname = pt.find("slsa") != std::string::npos        ? "provenance"
                       : pt.find("cyclonedx") != std::string::npos ? "sbom"
                       : pt.find("explanation") != std::string::npos
                           ? "explanation"
                           : (slash == std::string::npos ? pt : pt.substr(slash + 1));
      files[dir + "attestations/" + std::to_string(++k) + "-" + shortname + ".dsse.json"] = *env;
    }
    json attestation_digests = json::array();
    for (const auto& a : h.attestations)
      attestation_digests.push_back(
          {{"predicate_type", a.value("predicateType", a.value("predicate_type", std::string()))},
           {"digest", a.value("digest", "")}});
    json approval;
    for (const auto& r : actions)
      if (r.value("type", "") == "heal.promoted" && r["heal"] == h.id) approval = r;
    heals.push_back(
        {{"id", h.id},
         {"image", h.repository + ":" + h.tag},
         {"state", heal::to_string(h.state)},
         {"mode", h.mode},
         {"strategy", h.strategy},
         {"reason", h.reason},
         {"created", scan::rfc3339(h.created_at)},
         {"staged_tag", h.staged_tag},
         {"targeted", h.plan.is_object() ? h.plan.value("targeted", json::array()) : json::array()},
         {"deferred", h.plan.is_object() ? h.plan.value("deferred", json::array()) : json::array()},
         {"explanation",
          h.plan.is_object() ? h.plan.value("explanation", std::string()) : std::string()},
         {"time_to_stage_seconds", rec.value("time_to_stage_seconds", json())},
         {"time_to_promote_seconds", rec.value("time_to_promote_seconds", json())},
         {"promoted_by", approval.is_object() ? approval.value("actor", json()) : json()},
         {"first_published", rec.value("first_published", json())},
         {"time_from_publication_seconds", rec.value("time_from_publication_seconds", json())},
         {"gates", h.gates},
         {"attestation_digests", attestation_digests},
         {"findings_before", before.size()},
         {"findings_after", h.staged.empty() ? json() : json(after.size())},
         {"attestations", k}});
  }
  summary["heals"] = heals;
  report.heals = heals.size();
  // Time to heal to production over the heals promoted by the end of the period: from the
  // publication of the oldest vulnerability removed (where the advisory dates it) and from the
  // import of the fix.
  {
    std::vector<double> from_publication, from_fix;
    for (const auto& x : heals) {
      if (x.value("state", "") != "promoted") continue;
      if (x["time_from_publication_seconds"].is_number())
        from_publication.push_back(x["time_from_publication_seconds"].get<double>());
      if (x["time_to_promote_seconds"].is_number())
        from_fix.push_back(x["time_to_promote_seconds"].get<double>());
    }
    auto stats = [](std::vector<double> v) {
      if (v.empty()) return json{{"count", 0}, {"median_seconds", json()}, {"p95_seconds", json()}};
      std::sort(v.begin(), v.end());
      auto at = [&](double q) {
        return v[std::min(v.size() - 1,
                          static_cast<std::size_t>(q * static_cast<double>(v.size())))];
      };
      return json{{"count", v.size()}, {"median_seconds", at(0.5)}, {"p95_seconds", at(0.95)}};
    };
    summary["time_to_heal"] = {{"from_publication", stats(from_publication)},
                               {"from_fix_import", stats(from_fix)}};
  }

  // 4b. Per vulnerability and image: detected, fix inside the gap, staged, promoted, days open
  // against the SLA; overdue first. Also as CSV for the auditor's spreadsheet.
  progress("the vulnerability timeline against the SLA");
  {
    std::vector<TimelineImage> timeline_images;
    auto all_heals = engine.list();
    for (const auto& [repo, tag, digest] : tags) {
      TimelineImage ti;
      ti.image = repo + ":" + tag;
      store.read([&](sqlite::Connection& c) {
        scan::FindingsQuery q;
        q.include_suppressed = true;
        ti.findings = findings_at(c, digest);
        for (const auto& h : all_heals) {
          if (h.repository != repo || h.tag != tag || h.created_at > o.to) continue;
          TimelineHeal th;
          th.id = h.id;
          th.state = heal::to_string(h.state);
          if (h.plan.is_object())
            for (const auto& t : h.plan.value("targeted", json::array()))
              if (t.is_string()) th.targeted.push_back(t.get<std::string>());
          // As things stood at the end of the period.
          auto by_end = [&](const std::optional<std::int64_t>& t) {
            return t && *t <= period_end ? t : std::nullopt;
          };
          th.fix_imported_at = by_end(h.fix_imported_at);
          th.staged_at = by_end(h.staged_at);
          th.promoted_at = by_end(h.promoted_at);
          if (th.state == "promoted" && !th.promoted_at) th.state = "staged";
          if (th.state == "rolled_back" && th.promoted_at && h.updated_at > period_end)
            th.state = "promoted";
          q.manifests = {h.original};
          th.original_findings = scan::list_findings(c, q, store.now_seconds());
          ti.heals.push_back(std::move(th));
        }
      });
      timeline_images.push_back(std::move(ti));
    }
    SlaDays sla;
    if (!o.sla_days.empty()) sla.days = o.sla_days;
    auto rows = timeline_rows(timeline_images, sla, period_end);
    files["timeline.json"] = rows.dump(2) + "\n";
    files["timeline.csv"] = timeline_csv(rows);
    files["poam.oscal.json"] =
        timeline_poam(rows, "airheal appliance " + key->fingerprint(),
                      "airheal plan of action and milestones, " + scan::rfc3339(o.from) + " to " +
                          scan::rfc3339(o.to),
                      store.now_seconds())
            .dump(2) +
        "\n";
    summary["timeline"] = rows;
    summary["timeline_counts"] = timeline_counts(rows);
    json sla_json = json::object();
    for (const auto& [k, v] : sla.days) sla_json[k] = v;
    summary["sla_days"] = sla_json;
  }

  // 5. VEX statements and exceptions (all of them: an auditor asks what was open when).
  progress("VEX statements and exceptions");
  json exceptions = json::array();
  store.read([&](sqlite::Connection& c) {
    auto vex = scan::list_vex(c, true);
    json all = json::array();
    for (const auto& v : vex) all.push_back(scan::to_json(v));
    files["vex/statements.json"] = all.dump(2) + "\n";
    files["vex/openvex.json"] =
        scan::openvex_document(scan::list_vex(c, false), "airheal appliance " + report.key, now,
                               scan::vex_images(c), o.registry_host)
            .dump(2) +
        "\n";
    for (const auto& e : scan::list_exceptions(c, true, now))
      exceptions.push_back(scan::to_json(e, now));
    summary["vex_statements"] = vex.size();
  });
  files["exceptions.json"] = exceptions.dump(2) + "\n";
  summary["exceptions"] = exceptions;

  auto pub = key->public_key();
  if (!pub) return pub.error();
  files["keys/appliance.asc"] = *pub;
  json bundle = {{"format", kEvidenceFormat},
                 {"created", scan::rfc3339(now)},
                 {"period", {{"from", scan::rfc3339(o.from)}, {"to", scan::rfc3339(o.to)}}},
                 {"images", o.images},
                 {"appliance_key", report.key},
                 {"tool_version", o.tool_version},
                 {"audit", audit}};
  files["bundle.json"] = bundle.dump(2) + "\n";
  files["summary.json"] = summary.dump(2) + "\n";
  files["report.html"] = render_report(summary);
  files["README.md"] = readme(bundle);
  progress("signing and writing " + o.out.string());
  report.files = files.size() + 2;
  if (auto st = write_bundle(o.out, files, sign, now); !st) return st.error();
  std::error_code ec;
  report.bytes = fsys::file_size(o.out, ec);
  return report;
}

}  // namespace airheal::evidence
