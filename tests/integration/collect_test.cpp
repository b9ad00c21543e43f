// airheal-snapshot collect against real servers on loopback: a real apt repository built from
// bookworm-security's own .debs (fetched by apt at test time) with apt-ftparchive and signed with
// a test key, served by a static HTTP server; an airheald as the upstream OCI registry; advisory
// files beside them. What a hostile or broken upstream serves is refused with the reason and never
// reaches the output; a cut download resumes; the second run takes what it has from its cache.
// Then the whole round trip: appliance -> needs export -> collect -> create -> sign -> import ->
// heal staged, with no manual step.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/apk.hpp"
#include "core/fs.hpp"
#include "heal/apk/apk_family.hpp"
#include "heal/pins.hpp"
#include "scan/pkgdb.hpp"
#include "support/apk_fixtures.hpp"
#include "support/app_fixtures.hpp"
#include "support/collect_fixtures.hpp"
#include "support/heal_fixtures.hpp"
#include "support/rpm_fixtures.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

std::string collect_yaml(const fsys::path& cache, const std::string& url, const fsys::path& keyring,
                         const std::string& extra = "",
                         const std::string& packages = "[libssl3, openssl]") {
  return "cache: " + cache.string() + "\napt:\n  - name: mirror\n    url: " + url +
         "\n    suite: bookworm-security\n    keyring: " + keyring.string() +
         "\n    packages: " + packages + "\n" + extra;
}

ProcessResult collect_run(const fsys::path& dir, const std::string& yaml, const fsys::path& out,
                          std::vector<std::string> more = {}) {
  auto cfg = dir / ("collect-" + out.filename().string() + ".yaml");
  std::ofstream(cfg) << yaml;
  return run(concat({airheal_snapshot_path().string(), "collect", "--config", cfg.string(), "--out",
                     out.string()},
                    more));
}

std::vector<std::string> debs_in(const fsys::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fsys::directory_iterator(dir, ec))
    if (e.path().extension() == ".deb") out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

void flip_byte(const fsys::path& file, std::uint64_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5a));
}

}  // namespace

TEST_CASE(
    "collect takes only what the upstream signature chain vouches for and resumes a cut download",
    "[integration][collect]") {
  TempDir tmp;
  Signer archive(tmp / "archive-gpg", "Test archive");
  Signer stranger(tmp / "stranger-gpg", "Someone else");
  auto keyring = archive.write_public_key(tmp.path());
  const std::vector<fsys::path> debs = {security_deb("libssl3"), security_deb("openssl")};
  for (const auto& d : debs) REQUIRE_FALSE(d.empty());

  SECTION("a good repository: fetched, checked, resumed after a cut, then taken from the cache") {
    auto repo = tmp / "repo";
    build_apt_repository(repo, debs, &archive);
    // The libssl3 download is cut after 100,000 bytes the first time.
    StaticServer server(repo, {{"/pool/main/" + debs[0].filename().string(), 100000}});
    auto yaml = collect_yaml(tmp / "cache", server.url(), keyring);

    auto dry = collect_run(tmp.path(), yaml, tmp / "dry", {"--dry-run"});
    INFO(dry.out << dry.err);
    REQUIRE(dry.exit_code == 0);
    CHECK(dry.out.find("would fetch deb libssl3 ") != std::string::npos);
    CHECK(dry.out.find("would fetch deb openssl ") != std::string::npos);
    CHECK_FALSE(fsys::exists(tmp / "dry"));

    auto cut = collect_run(tmp.path(), yaml, tmp / "out1");
    INFO(cut.out << cut.err);
    CHECK(cut.exit_code == 1);
    CHECK(cut.err.find("run again to resume") != std::string::npos);
    CHECK(debs_in(tmp / "out1" / "packages").size() <= 1);  // what verified before the cut

    auto again = collect_run(tmp.path(), yaml, tmp / "out2");
    INFO(again.out << again.err);
    REQUIRE(again.exit_code == 0);
    auto got = debs_in(tmp / "out2" / "packages");
    REQUIRE(got.size() == 2);
    for (const auto& d : debs)
      CHECK(sha256_hex(*fs::read_file(d, 64 << 20)) ==
            sha256_hex(*fs::read_file(tmp / "out2" / "packages" / d.filename(), 64 << 20)));
    auto log = *fs::read_file(tmp / "out2" / "artifacts" / "collect.log", 1 << 20);
    CHECK(log.find("\"resumed\":true") != std::string::npos);
    CHECK(log.find("\"signed_by\":\"" + archive.fingerprint() + "\"") != std::string::npos);
    CHECK(log.find("InRelease") != std::string::npos);
    auto collected = json::parse(*fs::read_file(tmp / "out2" / "collected.json", 1 << 20));
    CHECK(collected["format"] == "airheal-collect/v1");

    // The second run of the week: the index and both packages from the cache.
    auto third = collect_run(tmp.path(), yaml, tmp / "out3");
    INFO(third.out << third.err);
    REQUIRE(third.exit_code == 0);
    CHECK(third.out.find("2 package(s) (2 from the cache)") != std::string::npos);
    CHECK(third.out.find(" 0 B fetched") != std::string::npos);

    // create --collected makes a snapshot of it: both packages and the collect log.
    auto snap = tmp / "collected.tar";
    run_ok({airheal_snapshot_path().string(), "create", "--collected", (tmp / "out2").string(),
            "--channel", "mirror", "--sequence", "1", "--out", snap.string()});
    auto inspect = json::parse(
        run_ok({airheal_snapshot_path().string(), "inspect", snap.string(), "--json"}).out);
    CHECK(inspect["packages"].size() == 2);
    CHECK(inspect.dump().find("collect.log") != std::string::npos);
  }

  SECTION("a hostile or broken repository is refused, naming what failed, and nothing is kept") {
    struct Case {
      const char* name;
      std::function<void(const fsys::path&)> build;
      const char* reason;
    };
    auto dists = [](const fsys::path& repo) { return repo / "dists" / "bookworm-security"; };
    std::vector<Case> cases = {
        {"a .deb changed after it was indexed",
         [&](const fsys::path& repo) {
           build_apt_repository(repo, debs, &archive);
           flip_byte(repo / "pool" / "main" / debs[0].filename(), 5000);
         },
         "is not the file the signed index names"},
        {"every Packages index changed after the Release was signed",
         [&](const fsys::path& repo) {
           build_apt_repository(repo, debs, &archive);
           auto bin = dists(repo) / "main" / "binary-amd64";
           auto text = *fs::read_file(bin / "Packages", 1 << 20);
           text += "\n";
           (void)fs::write_file_atomic(bin / "Packages", text);
           run_ok({"xz", "-k", "-f", (bin / "Packages").string()});
           run_ok({"gzip", "-k", "-f", "-n", (bin / "Packages").string()});
         },
         "does not match the signed Release file"},
        {"an unsigned Release",
         [&](const fsys::path& repo) { build_apt_repository(repo, debs, nullptr); },
         "is not signed"},
        {"a Release signed by a key outside the keyring",
         [&](const fsys::path& repo) { build_apt_repository(repo, debs, &stranger); },
         "no good signature"},
        {"an InRelease altered after signing",
         [&](const fsys::path& repo) {
           build_apt_repository(repo, debs, &archive);
           auto in = *fs::read_file(dists(repo) / "InRelease", 1 << 20);
           auto p = in.find("Suite: bookworm-security");
           REQUIRE(p != std::string::npos);
           in.replace(p, 24, "Suite: bookworm-securitx");
           (void)fs::write_file_atomic(dists(repo) / "InRelease", in);
         },
         "BAD signature"},
        {"a Release past its Valid-Until (a replayed mirror)",
         [&](const fsys::path& repo) {
           AptRepoOptions o;
           o.valid_until = "Sat, 01 Jan 2000 00:00:00 UTC";
           build_apt_repository(repo, debs, &archive, o);
         },
         "expired at its Valid-Until"},
    };
    int n = 0;
    for (const auto& c : cases) {
      INFO(c.name);
      auto repo = tmp / ("hostile" + std::to_string(++n));
      c.build(repo);
      StaticServer server(repo);
      auto out = tmp / ("hostile-out" + std::to_string(n));
      auto r = collect_run(tmp.path(),
                           collect_yaml(tmp / ("cache" + std::to_string(n)), server.url(), keyring),
                           out);
      INFO(r.out << r.err);
      CHECK(r.exit_code == 1);
      // One line says it (progress lines come before it).
      auto last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
      CHECK(last.rfind("airheal-snapshot: REFUSED: ", 0) == 0);
      CHECK(last.find(c.reason) != std::string::npos);
      CHECK(debs_in(out / "packages").empty());
      CHECK_FALSE(fsys::exists(out / "collected.json"));
    }
  }

  SECTION("advisory feeds: a signature or a pinned hash proves them; plain http alone does not") {
    auto site = tmp / "site";
    fsys::create_directories(site);
    auto advisory = source_dir() / "tests/data/osv-go/GO-2024-2916.json";
    fsys::copy_file(advisory, site / "GO-2024-2916.json");
    (void)fs::write_file_atomic(site / "GO-2024-2916.json.asc",
                                archive.sign(*fs::read_file(advisory, 1 << 20)));
    StaticServer server(site);
    auto feed = server.url() + "/GO-2024-2916.json";
    auto base = "cache: " + (tmp / "feed-cache").string() + "\n";
    auto ok = collect_run(tmp.path(),
                          base + "advisories:\n  - url: " + feed + "\n    signature_url: " + feed +
                              ".asc\n    keyring: " + keyring.string() + "\n",
                          tmp / "feeds-ok");
    INFO(ok.out << ok.err);
    REQUIRE(ok.exit_code == 0);
    CHECK(fsys::exists(tmp / "feeds-ok" / "advisories" / "GO-2024-2916.json"));
    CHECK(fs::read_file(tmp / "feeds-ok" / "artifacts" / "collect.log", 1 << 20)
              ->find("OpenPGP signature by " + archive.fingerprint()) != std::string::npos);

    auto pinned_wrong = collect_run(
        tmp.path(),
        base + "advisories:\n  - url: " + feed + "\n    sha256: " + std::string(64, '0') + "\n",
        tmp / "feeds-pinned");
    INFO(pinned_wrong.err);
    CHECK(pinned_wrong.exit_code == 1);
    CHECK(pinned_wrong.err.find("collect.yaml pins") != std::string::npos);
    CHECK_FALSE(fsys::exists(tmp / "feeds-pinned" / "advisories" / "GO-2024-2916.json"));

    auto unproven =
        collect_run(tmp.path(), base + "advisories:\n  - url: " + feed + "\n", tmp / "feeds-plain");
    INFO(unproven.err);
    CHECK(unproven.exit_code == 1);
    CHECK(unproven.err.find("nothing proves it") != std::string::npos);

    // An OSV archive as osv.dev publishes one per ecosystem (ECOSYSTEM/all.zip): here the real
    // Go entries of tests/data zipped, pinned by hash; its documents land in a folder of their own
    // and create packs them.
    {
      std::vector<std::string> argv = {"zip", "-q", "-j", (site / "all.zip").string()};
      int n = 0;
      for (const auto& e : fsys::directory_iterator(source_dir() / "tests/data/osv-go"))
        if (e.path().extension() == ".json" && n++ < 50) argv.push_back(e.path().string());
      run_ok(argv);
      auto pin = sha256_hex(*fs::read_file(site / "all.zip", 1 << 24));
      auto zipped = collect_run(tmp.path(),
                                base + "advisories:\n  - url: " + server.url() +
                                    "/all.zip\n    name: osv-go.zip\n    sha256: " + pin + "\n",
                                tmp / "feeds-zip");
      INFO(zipped.out << zipped.err);
      REQUIRE(zipped.exit_code == 0);
      std::size_t docs = 0;
      for (const auto& e : fsys::directory_iterator(tmp / "feeds-zip" / "advisories" / "osv-go"))
        docs += e.path().extension() == ".json";
      CHECK(docs == 50);
      run_ok({airheal_snapshot_path().string(), "create", "--collected",
              (tmp / "feeds-zip").string(), "--channel", "osv", "--sequence", "1", "--out",
              (tmp / "osv.tar").string()});
      std::ofstream(site / "bad.zip") << "PK\x03\x04 not really a zip";
      auto bad_zip =
          collect_run(tmp.path(),
                      base + "advisories:\n  - url: " + server.url() + "/bad.zip\n    sha256: " +
                          sha256_hex(*fs::read_file(site / "bad.zip", 1 << 20)) + "\n",
                      tmp / "feeds-badzip");
      INFO(bad_zip.err);
      CHECK(bad_zip.exit_code == 1);
    }

    auto stranger_signed = tmp / "site2";
    fsys::create_directories(stranger_signed);
    fsys::copy_file(advisory, stranger_signed / "GO-2024-2916.json");
    (void)fs::write_file_atomic(stranger_signed / "GO-2024-2916.json.asc",
                                stranger.sign(*fs::read_file(advisory, 1 << 20)));
    StaticServer server2(stranger_signed);
    auto feed2 = server2.url() + "/GO-2024-2916.json";
    auto wrong_key =
        collect_run(tmp.path(),
                    base + "advisories:\n  - url: " + feed2 + "\n    signature_url: " + feed2 +
                        ".asc\n    keyring: " + keyring.string() + "\n",
                    tmp / "feeds-stranger");
    INFO(wrong_key.err);
    CHECK(wrong_key.exit_code == 1);
    CHECK(wrong_key.err.find("no good signature") != std::string::npos);
  }

  SECTION("npm packages from a registry: the lowest fixed release, checked against its integrity") {
    // A registry on loopback laid out as registry.npmjs.org answers: the packument at /NAME (its
    // versions as the real registry lists them for minimist, the integrity computed here from the
    // real tarballs npm fetched), the tarballs under /NAME/-/.
    auto reg = tmp / "npm-registry";
    fsys::create_directories(reg / "minimist" / "-");
    json versions = json::object();
    for (auto v : {"1.2.5", "1.2.6", "1.2.8"}) {
      auto tgz = npm_tarball("minimist", v);
      fsys::copy_file(tgz, reg / "minimist" / "-" / tgz.filename());
      versions[v] = {{"name", "minimist"},
                     {"version", v},
                     {"dist",
                      {{"tarball", "TARBALL_BASE/minimist/-/" + tgz.filename().string()},
                       {"integrity", heal::sri_sha512(*fs::read_file(tgz, 1 << 24))}}}};
    }
    StaticServer server(reg);
    auto packument = json{{"name", "minimist"}, {"versions", versions}}.dump();
    for (auto p = packument.find("TARBALL_BASE"); p != std::string::npos;
         p = packument.find("TARBALL_BASE"))
      packument.replace(p, 12, server.url());
    (void)fs::write_file_atomic(reg / "minimist" / "index.json", packument);
    auto yaml = "cache: " + (tmp / "npm-cache").string() + "\nnpm:\n  registry: " + server.url() +
                "\n  packages: [\"minimist@1.2.6\", \"no-such-package@1.0.0\"]\n";
    auto ok = collect_run(tmp.path(), yaml, tmp / "npm-ok");
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 3);  // no-such-package is not there
    CHECK(ok.out.find("not found: npm no-such-package >= 1.0.0: GET ") != std::string::npos);
    REQUIRE(fsys::exists(tmp / "npm-ok" / "artifacts" / "minimist-1.2.6.tgz"));
    CHECK_FALSE(fsys::exists(tmp / "npm-ok" / "artifacts" / "minimist-1.2.8.tgz"));
    // create reads the tarball for what it is.
    auto snap = tmp / "npm.tar";
    run_ok({airheal_snapshot_path().string(), "create", "--collected", (tmp / "npm-ok").string(),
            "--channel", "npm", "--sequence", "1", "--out", snap.string()});
    auto inspect =
        run_ok({airheal_snapshot_path().string(), "inspect", snap.string(), "--json"}).out;
    CHECK(inspect.find("minimist-1.2.6.tgz") != std::string::npos);

    // The registry now serves other bytes under the tarball's name.
    flip_byte(reg / "minimist" / "-" / "minimist-1.2.6.tgz", 100);
    auto bad = collect_run(tmp.path(),
                           "cache: " + (tmp / "npm-cache2").string() + "\nnpm:\n  registry: " +
                               server.url() + "\n  packages: [\"minimist@1.2.6\"]\n",
                           tmp / "npm-bad");
    INFO(bad.out << bad.err);
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("does not match the registry's dist.integrity") != std::string::npos);
    CHECK_FALSE(fsys::exists(tmp / "npm-bad" / "artifacts" / "minimist-1.2.6.tgz"));
  }

  SECTION("an RPM repository: repomd.xml signed, primary metadata and packages against it") {
    if (!have_program("rpmbuild") || !have_program("createrepo_c"))
      FAIL("rpmbuild and createrepo_c are needed (scripts/setup.sh installs them)");
    // The made-up greet packages (tests/support/rpm_fixtures), indexed by createrepo_c, with
    // repomd.xml signed by the archive key as a distribution signs it for repo_gpgcheck.
    auto greet = build_greet_rpms(tmp / "rpmbuild");
    auto build_repo = [&](const fsys::path& repo, const Signer* by) {
      fsys::create_directories(repo / "Packages");
      for (const auto& p :
           {greet.base, greet.libgreet_old, greet.libgreet_new, greet.data, greet.app})
        fsys::copy_file(p, repo / "Packages" / p.filename(),
                        fsys::copy_options::overwrite_existing);
      create_rpm_repo(repo);
      if (by)
        run_ok({"gpg", "--homedir", by->home().string(), "--batch", "--yes", "--local-user",
                by->fingerprint(), "--armor", "--detach-sign", "--output",
                (repo / "repodata" / "repomd.xml.asc").string(),
                (repo / "repodata" / "repomd.xml").string()});
    };
    auto yaml_for = [&](const std::string& url, const std::string& cache_name) {
      return "cache: " + (tmp / cache_name).string() + "\nrpm:\n  - name: el\n    url: " + url +
             "\n    release: \"9\"\n    keyring: " + keyring.string() +
             "\n    packages: [libgreet, greet-data, no-such-rpm]\n";
    };
    build_repo(tmp / "el9", &archive);
    StaticServer server(tmp / "el9");
    auto ok = collect_run(tmp.path(), yaml_for(server.url(), "rpm-cache"), tmp / "rpm-ok");
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 3);
    CHECK(ok.out.find("not found: el: no-such-rpm: not in this repository") != std::string::npos);
    auto got = debs_in(tmp / "rpm-ok" / "packages");  // (no .debs here)
    CHECK(got.empty());
    // The newest libgreet (1.1), not 1.0; named as rpmbuild names them.
    CHECK(fsys::exists(tmp / "rpm-ok" / "packages" / greet.libgreet_new.filename()));
    CHECK(fsys::exists(tmp / "rpm-ok" / "packages" / greet.data.filename()));
    CHECK_FALSE(fsys::exists(tmp / "rpm-ok" / "packages" / greet.libgreet_old.filename()));
    CHECK(fs::read_file(tmp / "rpm-ok" / "artifacts" / "collect.log", 1 << 20)
              ->find("\"signed_by\":\"" + archive.fingerprint() + "\"") != std::string::npos);

    struct Case {
      const char* name;
      std::function<void(const fsys::path&)> build;
      const char* reason;
    };
    std::vector<Case> cases = {
        {"a package changed after it was indexed",
         [&](const fsys::path& repo) {
           build_repo(repo, &archive);
           flip_byte(repo / "Packages" / greet.libgreet_new.filename(), 2000);
         },
         "is not the package the signed metadata names"},
        {"repomd.xml changed after it was signed",
         [&](const fsys::path& repo) {
           build_repo(repo, &archive);
           auto x = *fs::read_file(repo / "repodata" / "repomd.xml", 1 << 20);
           x.insert(x.find("<data"), "<!-- changed -->");
           (void)fs::write_file_atomic(repo / "repodata" / "repomd.xml", x);
         },
         "BAD signature on repomd.xml"},
        {"an unsigned repomd.xml", [&](const fsys::path& repo) { build_repo(repo, nullptr); },
         "repomd.xml is not signed"},
        {"repomd.xml signed by a key outside the keyring",
         [&](const fsys::path& repo) { build_repo(repo, &stranger); }, "no good signature"},
    };
    int n = 0;
    for (const auto& c : cases) {
      INFO(c.name);
      auto repo = tmp / ("rpm-hostile" + std::to_string(++n));
      c.build(repo);
      StaticServer bad(repo);
      auto out = tmp / ("rpm-hostile-out" + std::to_string(n));
      auto r = collect_run(tmp.path(), yaml_for(bad.url(), "rpm-cache" + std::to_string(n)), out);
      INFO(r.out << r.err);
      CHECK(r.exit_code == 1);
      auto last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
      CHECK(last.find(c.reason) != std::string::npos);
      CHECK_FALSE(fsys::exists(out / "collected.json"));
      CHECK_FALSE(fsys::exists(out / "packages" / greet.libgreet_new.filename()));
    }
  }

  SECTION("images from an upstream registry (an airheald), and a blob that does not match") {
    if (!have_program("skopeo")) FAIL("skopeo is needed (scripts/setup.sh installs it)");
    Daemon upstream;
    auto img = make_oci_image(tmp / "layout", "1", 2, 50000, 7);
    run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
            "oci:" + img.layout.string() + ":1",
            "docker://" + upstream.address() + "/library/base:1"});
    auto yaml = "cache: " + (tmp / "img-cache").string() + "\nimages:\n  - source: docker://" +
                upstream.address() +
                "/library/base:1\n    as: library/base:1\n    tls_verify: false\n";
    auto ok = collect_run(tmp.path(), yaml, tmp / "img-ok");
    INFO(ok.out << ok.err);
    REQUIRE(ok.exit_code == 0);
    CHECK(ok.out.find("1 image(s)") != std::string::npos);
    auto collected = json::parse(*fs::read_file(tmp / "img-ok" / "collected.json", 1 << 20));
    REQUIRE(collected["images"].size() == 1);
    CHECK(collected["images"][0]["as"] == "library/base:1");
    auto snap = tmp / "img.tar";
    run_ok({airheal_snapshot_path().string(), "create", "--collected", (tmp / "img-ok").string(),
            "--channel", "images", "--sequence", "1", "--out", snap.string()});

    // A two-platform index upstream (made up: two small images as linux/amd64 and linux/arm64):
    // kept whole, cut down to the platforms configured, or one platform taken alone.
    {
      auto amd = make_oci_image(tmp / "amd", "1", 1, 20000, 11);
      auto arm = make_oci_image(tmp / "arm", "1", 1, 20000, 12);
      auto multi = tmp / "multi";
      fsys::create_directories(multi / "blobs" / "sha256");
      for (const auto& l : {amd.layout, arm.layout})
        for (const auto& b : fsys::directory_iterator(l / "blobs" / "sha256"))
          fsys::copy_file(b.path(), multi / "blobs" / "sha256" / b.path().filename(),
                          fsys::copy_options::skip_existing);
      auto manifest_desc = [&](const OciImage& img, const std::string& arch) {
        auto hex = img.manifest_digest.substr(7);
        return json{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                    {"digest", img.manifest_digest},
                    {"size", fsys::file_size(img.layout / "blobs" / "sha256" / hex)},
                    {"platform", {{"os", "linux"}, {"architecture", arch}}}};
      };
      auto index = json{{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.index.v1+json"},
                        {"manifests",
                         json::array({manifest_desc(amd, "amd64"), manifest_desc(arm, "arm64")})}}
                       .dump();
      auto index_digest = sha256_digest(index);
      std::ofstream(multi / "blobs" / "sha256" / index_digest.substr(7)) << index;
      std::ofstream(multi / "oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
      std::ofstream(multi / "index.json")
          << json{{"schemaVersion", 2},
                  {"manifests",
                   json::array({{{"mediaType", "application/vnd.oci.image.index.v1+json"},
                                 {"digest", index_digest},
                                 {"size", index.size()},
                                 {"annotations", {{"org.opencontainers.image.ref.name", "1"}}}}})}}
                 .dump();
      run_ok({"skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false",
              "oci:" + multi.string() + ":1", "docker://" + upstream.address() + "/multi/app:1"});
      auto platforms_of = [&](const fsys::path& out) {
        // The platforms of the image the collect folder holds: an index's, or one image's.
        auto top = json::parse(*fs::read_file(out / "images" / "0" / "index.json", 1 << 20));
        auto d = top["manifests"][0]["digest"].get<std::string>().substr(7);
        auto inner =
            json::parse(*fs::read_file(out / "images" / "0" / "blobs" / "sha256" / d, 1 << 20));
        std::set<std::string> p;
        if (inner.contains("manifests"))
          for (const auto& m : inner["manifests"])
            p.insert(m["platform"]["architecture"].get<std::string>());
        else
          p.insert("single image");
        return p;
      };
      auto with = [&](const std::string& platforms, const std::string& name) {
        auto y = "cache: " + (tmp / "img-cache").string() + "\nimages:\n  - source: docker://" +
                 upstream.address() + "/multi/app:1\n    as: multi/app:1\n    tls_verify: false\n" +
                 (platforms.empty() ? "" : "    platforms: [" + platforms + "]\n");
        auto r = collect_run(tmp.path(), y, tmp / name);
        INFO(r.out << r.err);
        REQUIRE(r.exit_code == 0);
        return platforms_of(tmp / name);
      };
      CHECK(with("", "multi-all") == std::set<std::string>{"amd64", "arm64"});
      CHECK(with("linux/arm64, linux/s390x", "multi-cut") == std::set<std::string>{"arm64"});
      CHECK(with("linux/amd64", "multi-one") == std::set<std::string>{"single image"});
    }

    // The upstream's copy of a layer is altered on its disk: the registry now serves bytes that
    // do not hash to the digest its manifest names.
    auto hex = img.layer_digests[1].substr(7);
    auto blob = upstream.state_dir() / "blobs" / "sha256" / hex.substr(0, 2) / hex;
    REQUIRE(fsys::exists(blob));
    flip_byte(blob, 1000);
    // The cache already holds that layer as it was verified: the second run of the week takes it
    // from there and fetches only what changed (nothing).
    auto cached = collect_run(tmp.path(), yaml, tmp / "img-cached");
    INFO(cached.out << cached.err);
    CHECK(cached.exit_code == 0);
    CHECK(sha256_hex(*fs::read_file(tmp / "img-cached" / "images" / "0" / "blobs" / "sha256" / hex,
                                    1 << 24)) == hex);
    // A first fetch (an empty cache) gets the altered bytes and refuses them.
    auto fresh = yaml;
    fresh.replace(fresh.find("img-cache"), 9, "img-cache-fresh");
    auto bad = collect_run(tmp.path(), fresh, tmp / "img-bad");
    INFO(bad.out << bad.err);
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("digest") != std::string::npos);
    CHECK_FALSE(fsys::exists(tmp / "img-bad" / "images" / "0" / "index.json"));
    CHECK_FALSE(fsys::exists(tmp / "img-bad" / "collected.json"));
  }
}

TEST_CASE("The sneakernet round trip heals an image with what its needs file asked for",
          "[integration][collect][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  TempDir tmp;
  Daemon daemon(Daemon::Options{{}, "scan:\n  poll_interval: 1s\n", {}});
  Ctl ctl{daemon.state_dir()};
  auto reg = daemon.address();
  // Inside: a real bookworm image from main (behind bookworm-security), and the advisories for it.
  make_oci_image_from_tars(tmp / "layout", "main", {debian_minbase_tar()});
  run_ok({"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
          "oci:" + (tmp / "layout").string() + ":main",
          "docker://" + reg + "/debian:bookworm-main"});
  Signer feed(tmp / "feed-gpg", "Advisory feed");
  fsys::create_directories(tmp / "adv");
  fsys::copy_file(debian_security_tracker(), tmp / "adv" / "tracker.json");
  auto adv = tmp / "adv.tar";
  run_ok({airheal_snapshot_path().string(), "create", "--channel", "advisories", "--sequence", "1",
          "--out", adv.string(), "--advisories", (tmp / "adv").string()});
  run_ok({airheal_snapshot_path().string(), "sign", adv.string(), "--key", feed.fingerprint(),
          "--gpg-home", feed.home().string()});
  ctl({"trust", "add", feed.write_public_key(tmp.path()).string(), "--channel", "advisories"});
  REQUIRE(ctl({"import", adv.string()}).exit_code == 0);
  json findings;
  for (int i = 0; i < 120; ++i) {
    findings = ctl.json_of({"findings", "--image", "debian:bookworm-main"});
    if (!findings.empty()) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  REQUIRE_FALSE(findings.empty());

  // The appliance says what it needs: signed with its key, as a file and over the API.
  auto needs = tmp / "needs.json";
  auto key = tmp / "appliance.asc";
  auto exported = ctl({"needs", "export", "--out", needs.string()});
  INFO(exported.out << exported.err);
  REQUIRE(exported.exit_code == 0);
  ctl({"audit", "key", "--export", key.string()});
  auto env = json::parse(*fs::read_file(needs, 16 << 20));
  CHECK(env["payloadType"] == "application/vnd.airheal.needs.v1+json");
  HttpClient api(daemon.host(), daemon.port());
  auto over_api = api.get("/api/v1/needs?redact=1");
  REQUIRE(over_api.status == 200);
  CHECK(json::parse(over_api.body)["payloadType"] == env["payloadType"]);
  CHECK(over_api.body.find("debian:bookworm-main") == std::string::npos);  // redacted
  CHECK(ctl({"audit", "verify"}).exit_code == 0);
  CHECK(
      run_ok({"grep", "-c", "needs.exported", (daemon.state_dir() / "audit").string(), "-r"}).out !=
      "0\n");
  // The payload passes its published schema.
  {
    auto doc = run_ok({"/usr/bin/python3", "-c",
                       "import base64,json,sys; e=json.load(open(sys.argv[1])); "
                       "sys.stdout.write(base64.b64decode(e['payload']).decode())",
                       needs.string()})
                   .out;
    std::ofstream(tmp / "needs-payload.json") << doc;
    auto v =
        run({"/usr/bin/python3", (source_dir() / "tests/support/validate_json_schema.py").string(),
             (source_dir() / "docs/airgap/needs.schema.json").string(),
             (tmp / "needs-payload.json").string()});
    INFO(v.out << v.err);
    CHECK(v.exit_code == 0);
  }
  auto asked = json::parse(run_ok({"/usr/bin/python3", "-c",
                                   "import base64,json,sys; print(base64.b64decode(json.load(open("
                                   "sys.argv[1]))['payload']).decode())",
                                   needs.string()})
                               .out);
  REQUIRE_FALSE(asked["packages"].empty());

  // The connected side: a loopback copy of bookworm-security holding today's builds of every
  // binary the image has from each source the suite updated, signed by the archive's key.
  auto builds = security_builds(debian_minbase_status(), "bookworm", tmp / "sec-debs");
  REQUIRE_FALSE(builds.versions.empty());
  std::vector<fsys::path> debs;
  for (const auto& e : fsys::directory_iterator(tmp / "sec-debs")) debs.push_back(e.path());
  Signer archive(tmp / "archive-gpg", "Test archive");
  build_apt_repository(tmp / "repo", debs, &archive);
  StaticServer server(tmp / "repo");
  auto yaml =
      collect_yaml(tmp / "cache", server.url(), archive.write_public_key(tmp.path()), "", "[]");

  // A needs file altered on the way out is refused.
  {
    auto forged = env;
    auto other = asked;
    other["packages"] = json::array();
    forged["payload"] =
        run_ok({"/usr/bin/python3", "-c",
                "import base64,sys; print(base64.b64encode(sys.argv[1].encode()).decode(), end='')",
                other.dump(2) + "\n"})
            .out;
    std::ofstream(tmp / "forged.json") << forged.dump();
    auto r = collect_run(tmp.path(), yaml, tmp / "forged-out",
                         {"--needs", (tmp / "forged.json").string(), "--needs-key", key.string()});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("BAD signature") != std::string::npos);
  }

  auto got = collect_run(tmp.path(), yaml, tmp / "collected",
                         {"--needs", needs.string(), "--needs-key", key.string()});
  INFO(got.out << got.err);
  REQUIRE((got.exit_code == 0 || got.exit_code == 3));
  // Every package the needs named whose source bookworm-security updated was collected.
  auto collected = debs_in(tmp / "collected" / "packages");
  for (const auto& p : asked["packages"]) {
    if (!builds.sources.count(p["source"].get<std::string>())) continue;
    for (const auto& b : p["binaries"]) {
      auto name = b["name"].get<std::string>();
      if (!builds.versions.count(name)) continue;
      bool have = std::any_of(collected.begin(), collected.end(),
                              [&](const std::string& f) { return f.rfind(name + "_", 0) == 0; });
      CHECK(have);
    }
  }
  // What could not be found names why.
  std::istringstream lines(got.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("not found: ", 0) == 0) CHECK(line.find(": ", 11) != std::string::npos);

  Signer mirror(tmp / "mirror-gpg", "Mirror operator");
  auto snap = tmp / "fixes.tar";
  run_ok({airheal_snapshot_path().string(), "create", "--collected", (tmp / "collected").string(),
          "--channel", "debian", "--sequence", "1", "--out", snap.string()});
  run_ok({airheal_snapshot_path().string(), "sign", snap.string(), "--key", mirror.fingerprint(),
          "--gpg-home", mirror.home().string()});
  ctl({"trust", "add", mirror.write_public_key(tmp.path()).string(), "--channel", "debian"});
  auto imported = ctl({"import", snap.string()});
  INFO(imported.out << imported.err);
  REQUIRE(imported.exit_code == 0);

  // The daemon heals on its own, offline, and stages the image.
  json heal;
  for (int i = 0; i < 600; ++i) {
    for (const auto& h : ctl.json_of({"heals"}))
      if (h["repository"] == "debian") heal = h;
    if (!heal.empty() && (heal["state"] == "staged" || heal["state"] == "failed" ||
                          heal["state"] == "held" || heal["state"] == "promoted"))
      break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(heal.dump(2) << daemon.log().substr(0, 20000));
  REQUIRE(heal.value("state", "") == "staged");
  // And the next needs file no longer asks for what was brought.
  auto after = ctl.json_of({"needs", "show"});
  CHECK(after["packages"].size() < asked["packages"].size());
}

TEST_CASE("An Alpine image is healed from a signed Alpine repository collect read for its needs",
          "[integration][collect][apk][slow]") {
  if (!have_program("buildah")) FAIL("buildah is needed (scripts/setup.sh installs it)");
  REQUIRE_FALSE(alpine_minirootfs("3.10.3").empty());
  HealAppliance a;
  // The rebuilt packages are unsigned (Alpine's own signatures cannot be reproduced; the index is
  // what collect verifies, as apk does), so the channel carrying them is one whose policy allows
  // unsigned packages.
  a.daemon = std::make_unique<Daemon>(Daemon::Options{
      a.state(), "scan:\n  poll_interval: 1s\nheal:\n  unsigned_packages: [alpine]\n", {}});
  auto root3 = unpack_alpine_minirootfs("3.10.3", a.tmp / "alpine-3.10.3");
  buildah_image(a.tmp.path(), root3, a.reg() + "/apps/alpine:1", {"/bin/sh"});
  fsys::create_directories(a.tmp / "adv");
  fsys::copy_file(source_dir() / "tests/data/alpine-rootfs/openssl-secfixes-v3.10.yaml",
                  a.tmp / "adv" / "openssl-secfixes-v3.10.yaml");
  a.import("alpine-advisories", {"--advisories", (a.tmp / "adv").string()});
  json findings;
  for (int i = 0; i < 120 && findings.empty(); ++i) {
    findings = a.ctl_json({"findings", "--image", "apps/alpine:1"});
    if (findings.empty()) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  REQUIRE_FALSE(findings.empty());
  auto needs = a.tmp / "needs.json", key = a.tmp / "appliance.asc";
  a.ctl({"needs", "export", "--out", needs.string()});
  a.ctl({"audit", "key", "--export", key.string()});
  auto asked = a.ctl_json({"needs", "show"});
  INFO(asked.dump(2));
  REQUIRE(asked["packages"].size() == 1);
  CHECK(asked["packages"][0]["family"] == "apk");
  CHECK(asked["packages"][0]["release"] == "v3.10");
  CHECK(asked["packages"][0]["source"] == "openssl");

  // The connected side: an Alpine repository laid out as dl-cdn.alpinelinux.org is
  // (v3.10/main/x86_64/), holding every package of the official 3.10.9 root rebuilt from its own
  // files, with an APKINDEX signed by a test key (made up: Alpine's key cannot sign here).
  auto signing = make_apk_signing_key(a.tmp / "apk-keys", "alpine-test.rsa");
  fsys::create_directories(a.tmp / "keys");
  fsys::copy_file(signing.private_pem.string() + ".pub", a.tmp / "keys" / signing.name);
  auto root9 = unpack_alpine_minirootfs("3.10.9", a.tmp / "alpine-3.10.9");
  auto repo_arch = a.tmp / "mirror" / "v3.10" / "main" / "x86_64";
  std::vector<std::string> records;
  auto installed = apk::parse_database(*fs::read_file(root9 / "lib/apk/db/installed", 1 << 24));
  REQUIRE(installed);
  for (const auto& r : *installed) {
    auto file = write_apk_from_root(root9, r.name, repo_arch);
    auto pkg = apk::read_package(file);
    REQUIRE(pkg);
    records.push_back(apk::index_record(*pkg));
  }
  auto write_index = [&](const ApkSigningKey& by) {
    auto unsigned_index = a.tmp / "APKINDEX.unsigned.tar.gz";
    REQUIRE(heal::alpine::write_apkindex(unsigned_index, records, 1700000000));
    auto bytes = *fs::read_file(unsigned_index, 1 << 24);
    std::ofstream(repo_arch / "APKINDEX.tar.gz", std::ios::binary)
        << apk_signature_member(bytes, by) + bytes;
  };
  write_index(signing);
  StaticServer server(a.tmp / "mirror");
  auto yaml = "cache: " + (a.tmp / "cache").string() +
              "\napk:\n  - name: alpine-main\n    url: " + server.url() +
              "/v3.10/main\n    release: v3.10\n    keys: " + (a.tmp / "keys").string() + "\n";
  const std::vector<std::string> with_needs = {"--needs", needs.string(), "--needs-key",
                                               key.string()};

  // Hostile first: an index signed by a key outside the keys folder, then a package that is not
  // the one the signed index names.
  {
    auto stranger = make_apk_signing_key(a.tmp / "stranger-keys", "alpine-test.rsa");
    write_index(stranger);  // same key name, other key
    auto r = collect_run(a.tmp.path(), yaml, a.tmp / "bad-index", with_needs);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("BAD signature on the index") != std::string::npos);
    write_index(signing);
    // A package changed in its data stream (what the identity does not cover directly: the
    // control stream's datahash does), then one changed in its control stream.
    auto libssl = repo_arch / "libssl1.1-1.1.1k-r0.apk";
    auto original = *fs::read_file(libssl, 1 << 24);
    auto pkg = apk::read_package(libssl);
    REQUIRE(pkg);
    for (std::uint64_t offset : {pkg->size - 1000, pkg->data_offset - 100}) {
      INFO("byte changed at " << offset);
      flip_byte(libssl, offset);
      auto out = a.tmp / ("bad-package-" + std::to_string(offset));
      auto r2 = collect_run(a.tmp.path(), yaml, out, with_needs);
      INFO(r2.out << r2.err);
      CHECK(r2.exit_code == 1);
      CHECK(r2.err.find("refused") != std::string::npos);
      CHECK_FALSE(fsys::exists(out / "packages" / "libssl1.1-1.1.1k-r0.apk"));
      std::ofstream(libssl, std::ios::binary) << original;
    }
  }

  auto got = collect_run(a.tmp.path(), yaml, a.tmp / "collected", with_needs);
  INFO(got.out << got.err);
  REQUIRE(got.exit_code == 0);
  auto collected = std::vector<std::string>{};
  for (const auto& e : fsys::directory_iterator(a.tmp / "collected" / "packages"))
    collected.push_back(e.path().filename().string());
  std::sort(collected.begin(), collected.end());
  CHECK(collected ==
        std::vector<std::string>{"libcrypto1.1-1.1.1k-r0.apk", "libssl1.1-1.1.1k-r0.apk"});
  a.import("alpine", {"--collected", (a.tmp / "collected").string()});
  auto heals = a.wait_heals({"apps/alpine"});
  INFO(heals["apps/alpine"].dump(2) << a.daemon->log().substr(0, 20000));
  REQUIRE(heals["apps/alpine"]["state"] == "staged");
  CHECK(a.ctl_json({"findings", "--image",
                    "apps/alpine:" + heals["apps/alpine"]["staged_tag"].get<std::string>()})
            .empty());
}
