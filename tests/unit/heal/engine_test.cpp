// The heal engine's state machine with a fake ImageBuilder in place of buildah: everything else
// is real (a signed snapshot made by airheal-snapshot's code and imported, the scanner, the
// planner, the store, the journal). The fake writes the layer the image's dpkg would have written
// (the status record at the fixed version), so the rescan, staging, approval, hold and rollback
// paths run here in seconds; tests/integration/heal_test.cpp runs the same paths with buildah.
//
// Data: the image's dpkg records are this host's own (dpkg-query -s dpkg libc6 zlib1g) with
// zlib1g set back to 1:1.2.11.dfsg-4 (made up: an earlier Debian version); the advisory is the
// security tracker's record of CVE-2022-37434 for zlib in bookworm (fixed in 1:1.2.11.dfsg-4.1);
// the fixed .deb is zlib1g at the version Debian's archive offers this host, downloaded from it.
#include "heal/engine.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "daemon/services.hpp"
#include "scan/vex_repository.hpp"
#include "snapshot/builder.hpp"
#include "snapshot/trust.hpp"
#include "support/fake_image_builder.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

const std::string kOldZlib = "1:1.2.11.dfsg-4";

std::string replace_version(std::string status, const std::string& package,
                            const std::string& version) {
  auto at = status.find("Package: " + package + "\n");
  REQUIRE(at != std::string::npos);
  auto v = status.find("\nVersion: ", at);
  auto eol = status.find('\n', v + 1);
  return status.substr(0, v) + "\nVersion: " + version + status.substr(eol);
}

struct Scenario {
  TempDir tmp;
  config::Config cfg;
  std::string status, fixed;  // the image's dpkg status; zlib1g's fixed version
  std::shared_ptr<FakeImageBuilder> builder;
  std::optional<Services> sv;
  std::map<std::string, std::string> originals;  // repo -> manifest digest

  explicit Scenario(FakeImageBuilder::CheckFn check = {}, FakeImageBuilder::LayerFn layer = {},
                    bool separation_of_duties = false) {
    cfg.state_dir = tmp / "state";
    cfg.auth.separation_of_duties = separation_of_duties;
    cfg.heal.rules = {{"held/*", "autonomous-staging", {"selftest", "--quick"}, {}},
                      {"cont/*", "continuous", {}, {"canary"}}};
    // The fixed build: zlib1g as Debian's archive offers it to this host (apt's candidate).
    auto shown = run_ok({"apt-cache", "show", "--no-all-versions", "zlib1g"}).out;
    auto at = shown.find("\nVersion: ");
    REQUIRE(at != std::string::npos);
    fixed = shown.substr(at + 10, shown.find('\n', at + 10) - at - 10);
    status = replace_version(run_ok({"dpkg-query", "-s", "dpkg", "libc6", "zlib1g"}).out, "zlib1g",
                             kOldZlib);
    // The fake "runs dpkg -i": the status file with zlib1g at the version the request installs.
    if (!layer)
      layer = [this](const heal::LayerRequest&, heal::LayerWriter& w, heal::Failure&) {
        return w.add_bytes("var/lib/dpkg/status", replace_version(status, "zlib1g", fixed));
      };
    builder = std::make_shared<FakeImageBuilder>(std::move(layer), std::move(check));
    ServiceOptions o;
    o.keyring = true;
    o.engine = true;
    o.builder = builder;
    auto s = make_services(cfg, o);
    REQUIRE(s);
    sv.emplace(std::move(*s));
  }

  // The image, pushed to REPO:1 and scanned.
  void push(const std::string& repo) {
    auto tar = tmp / ("root-" + std::to_string(originals.size()) + ".tar");
    write_tar(tar, {{"etc/os-release", *fs::read_file("/etc/os-release", 1 << 16)},
                    {"var/lib/dpkg/status", status},
                    {"usr/bin/dpkg", "dpkg"}});
    auto img =
        make_oci_image_from_tars(tmp / ("layout-" + std::to_string(originals.size())), "1", {tar});
    for (const auto& e : fsys::directory_iterator(img.layout / "blobs" / "sha256"))
      REQUIRE(sv->store->put_blob(repo, *fs::read_file(e.path(), 64 << 20)));
    auto manifest =
        *fs::read_file(img.layout / "blobs" / "sha256" / img.manifest_digest.substr(7), 1 << 20);
    auto put =
        sv->store->put_manifest(repo, "1", manifest, "application/vnd.oci.image.manifest.v1+json");
    REQUIRE(put);
    originals[repo] = put->digest.str();
    REQUIRE(sv->scanner->scan(put->digest));
  }

  // A signed snapshot with the advisory and the fixed .deb, imported.
  void import_fix() {
    fsys::create_directories(tmp / "adv");
    fsys::create_directories(tmp / "debs");
    json tracker = {{"zlib",
                     {{"CVE-2022-37434",
                       {{"description",
                         "zlib through 1.2.12 has a heap-based buffer over-read or buffer overflow "
                         "in inflate in inflate.c "
                         "via a large gzip header extra field"},
                        {"scope", "remote"},
                        {"releases",
                         {{"bookworm",
                           {{"status", "resolved"},
                            {"repositories", {{"bookworm", fixed}}},
                            {"fixed_version", "1:1.2.11.dfsg-4.1"},
                            {"urgency", "not yet assigned"}}}}}}}}}};
    std::ofstream(tmp / "adv" / "tracker.json") << tracker.dump();
    auto deb = download_deb("zlib1g", fixed);
    fsys::copy_file(deb, tmp / "debs" / deb.filename());
    Signer signer(tmp / "gpg", "Debian mirror team");
    REQUIRE(
        snapshot::trust_add(*sv->store, *sv->keyring, signer.public_key(), "debian", std::nullopt));
    snapshot::CreateOptions c;
    c.channel = "debian";
    c.sequence = 1;
    c.created = sv->store->now_seconds();
    c.expires_in = 30 * 86400;
    c.out = tmp / "s1.tar";
    c.advisories = {tmp / "adv"};
    c.packages = {tmp / "debs"};
    REQUIRE(snapshot::create(c));
    REQUIRE(snapshot::sign(c.out, {signer.fingerprint()}, signer.home(), std::nullopt));
    auto imported = sv->importer->import(c.out);
    INFO((imported ? "" : imported.error().message));
    REQUIRE(imported);
    for (const auto& [repo, digest] : originals)
      REQUIRE(sv->scanner->scan(*Digest::parse(digest), true));
  }

  std::string tag_digest(const std::string& repo) {
    return sv->store->get_manifest(repo, "1")->digest.str();
  }
};

}  // namespace

TEST_CASE(
    "The engine plans, builds through its ImageBuilder, rescans, stages, promotes and rolls back",
    "[heal][engine]") {
  Scenario s;
  s.push("apps/web");
  s.import_fix();
  auto& engine = *s.sv->engine;
  auto plan = engine.plan(s.originals["apps/web"], "apps/web");
  REQUIRE(plan);
  CHECK(plan->strategy == "package-patch");
  CHECK(plan->installer == "dpkg");
  REQUIRE(plan->packages.size() == 1);
  CHECK(plan->packages[0].version == s.fixed);

  auto h = engine.heal("apps/web", "1");
  REQUIRE(h);
  INFO(h->reason << "\n" << h->log);
  REQUIRE(h->state == heal::HealState::staged);
  // The builder got one request: the original's layout, dpkg from the read-only local repository.
  REQUIRE(s.builder->layers.size() == 1);
  const auto& req = s.builder->layers[0];
  CHECK(req.base_layers == 1);
  REQUIRE(req.commands.size() == 1);
  CHECK(req.commands[0][0] == "dpkg");
  CHECK(req.commands[0].back() == "/airheal-heal/zlib1g_" +
                                      std::string(s.fixed).replace(s.fixed.find(':'), 1, "%") +
                                      "_amd64.deb");
  REQUIRE(req.mounts.size() == 1);
  CHECK(req.mounts[0].read_only);
  // No entrypoint and no test command: nothing to check in a container.
  CHECK(s.builder->checks.empty());
  // Staged under its own tag; the image's tag still serves the original until approval.
  CHECK(s.tag_digest("apps/web") == s.originals["apps/web"]);
  auto staged = s.sv->store->get_manifest("apps/web", h->staged_tag);
  REQUIRE(staged);
  CHECK(staged->digest.str() == h->staged);
  CHECK(h->heal_layer_size > 0);

  // The same plan again is not rebuilt.
  auto again = engine.heal("apps/web", "1");
  REQUIRE(again);
  CHECK(again->id == h->id);
  CHECK(s.builder->layers.size() == 1);

  auto promoted = engine.approve(h->id, "alice");
  REQUIRE(promoted);
  CHECK(promoted->state == heal::HealState::promoted);
  CHECK(s.tag_digest("apps/web") == h->staged);
  auto rolled = engine.rollback("apps/web", "1", "bob");
  REQUIRE(rolled);
  CHECK(s.tag_digest("apps/web") == s.originals["apps/web"]);
}

TEST_CASE("Separation of duties: who excepted findings of a repository may not approve its heal",
          "[heal][engine]") {
  Scenario s({}, {}, true);
  s.push("apps/web");
  s.import_fix();
  auto& engine = *s.sv->engine;
  auto h = engine.heal("apps/web", "1");
  REQUIRE(h);
  REQUIRE(h->state == heal::HealState::staged);
  s.sv->store->transaction([&](sqlite::Connection& c) {
    scan::Exception e;
    e.vulnerability = "CVE-2024-0001";
    e.product = "apps/*";
    e.reason = "compensating control";
    e.created_by = "alice";
    e.expires_at = s.sv->store->now_seconds() + 86400;
    REQUIRE(scan::add_exception(c, e, s.sv->store->now_seconds()));
  });
  auto refused = engine.approve(h->id, "alice");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("separation of duties: alice granted exception 1") !=
        std::string::npos);
  CHECK(engine.get(h->id)->state == heal::HealState::staged);  // nothing changed
  CHECK_FALSE(engine.check_approvable(h->id, "alice"));
  auto approved = engine.approve(h->id, "carol");
  REQUIRE(approved);
  CHECK(approved->state == heal::HealState::promoted);
}

TEST_CASE(
    "A build the ImageBuilder fails ends the heal failed with the package manager's words, the tag "
    "is untouched",
    "[heal][engine]") {
  Scenario s({}, [](const heal::LayerRequest&, heal::LayerWriter&, heal::Failure& f) -> Status {
    f = heal::classify_output(
        "dpkg: dependency problems prevent configuration of zlib1g:amd64:\n zlib1g:amd64 depends "
        "on libc6 (>= 2.99); "
        "however:\n  Version of libc6:amd64 on system is 2.36-9.\n");
    return make_error(Errc::io_error, "buildah run failed (exit 1)");
  });
  s.push("apps/api");
  s.import_fix();
  auto h = s.sv->engine->heal("apps/api", "1");
  REQUIRE(h);
  CHECK(h->state == heal::HealState::failed);
  CHECK(h->failure == "dependency-problem");
  CHECK_THAT(h->reason, Catch::Contains("libc6"));
  CHECK(s.tag_digest("apps/api") == s.originals["apps/api"]);
  CHECK(s.builder->layers.size() == 1);
}

TEST_CASE(
    "A failing test command holds the heal, a failing canary rolls a continuous promotion back",
    "[heal][engine]") {
  Scenario s([](const heal::CheckRun& run) {
    if (run.argv == std::vector<std::string>{"selftest", "--quick"})
      return heal::CheckOutcome{false, false, "selftest exited 3"};
    if (run.argv == std::vector<std::string>{"canary"})
      return heal::CheckOutcome{false, false, "canary exited 1"};
    return heal::CheckOutcome{true, false, ""};
  });
  s.push("held/app");
  s.push("cont/app");
  s.import_fix();
  auto held = s.sv->engine->heal("held/app", "1");
  REQUIRE(held);
  CHECK(held->state == heal::HealState::held);
  CHECK_THAT(held->reason, Catch::Contains("the test command failed (selftest exited 3"));
  CHECK(held->failure == "test-failed");
  CHECK(s.tag_digest("held/app") == s.originals["held/app"]);
  // The test ran in the healed image under the memory bound.
  REQUIRE_FALSE(s.builder->checks.empty());
  CHECK(s.builder->checks[0].memory == s.cfg.heal.smoke_memory_bytes);

  auto cont = s.sv->engine->heal("cont/app", "1");
  REQUIRE(cont);
  // Continuous: promoted on every gate, then the canary failed and the promotion was rolled back.
  CHECK(s.tag_digest("cont/app") == s.originals["cont/app"]);
  bool rolled_back = false;
  for (const auto& e : s.sv->engine->events(cont->id))
    if (e.dump().find("canary") != std::string::npos) rolled_back = true;
  CHECK(rolled_back);
}
