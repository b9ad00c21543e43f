// The Alpine package family on real data: the official Alpine 3.10.3 minirootfs's apk database as
// the image, and every package of the 3.10.9 minirootfs rebuilt from that root's own files and
// records as the imported content. Findings are the openssl ones the secfixes name (the scanner
// makes them in the integration test; here they are written as list_findings gives them).
#include "heal/apk/apk_family.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/digest.hpp"
#include "heal/heal_layer.hpp"
#include "support/apk_fixtures.hpp"
#include "support/heal_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

std::string apk_slurp(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct AlpineFixture {
  TempDir tmp;
  fsys::path root3 = unpack_alpine_minirootfs("3.10.3", tmp / "r3");
  fsys::path root9 = unpack_alpine_minirootfs("3.10.9", tmp / "r9");
  std::map<std::string, std::string> image_files;
  std::vector<ImportedContent> imported;
  std::map<std::string, fsys::path> files;  // digest -> package file
  const PackageFamily& family = *package_family("apk");

  AlpineFixture() {
    image_files["lib/apk/db/installed"] = apk_slurp(root3 / "lib/apk/db/installed");
    image_files["etc/apk/arch"] = apk_slurp(root3 / "etc/apk/arch");
    image_files["sbin/apk"] = "(binary)";
    for (const auto& e : fsys::directory_iterator(root3 / "etc/apk/keys"))
      image_files["etc/apk/keys/" + e.path().filename().string()] = apk_slurp(e.path());
  }
  void import_all(const std::string& channel, const std::optional<ApkSigningKey>& key = {}) {
    auto recs = apk::parse_database(apk_slurp(root9 / "lib/apk/db/installed"));
    REQUIRE(recs);
    for (const auto& r : *recs) {
      auto f = write_apk_from_root(root9, r.name, tmp / ("apks-" + channel), key);
      auto d = Sha256::of_file(f)->str();
      files[d] = f;
      imported.push_back(
          {r.name, r.version, d, "sha256:snap", json{{"format", "apk"}}, 1, channel});
    }
  }
  json findings() const {
    json out = json::array();
    for (auto pkg : {"libcrypto1.1", "libssl1.1"})
      for (auto [id, fixed] :
           {std::pair{"CVE-2021-3449", "1.1.1k-r0"}, std::pair{"CVE-2020-1967", "1.1.1g-r0"}})
        out.push_back({{"advisory", id},
                       {"type", "apk"},
                       {"package", pkg},
                       {"source", "openssl"},
                       {"installed", "1.1.1d-r0"},
                       {"fixed", fixed},
                       {"location", "lib/apk/db/installed"}});
    return out;
  }
  FamilyPlan plan(const std::set<std::string>& unsigned_channels) {
    PlanSources io;
    io.image = [this]() -> Result<ImageFiles> { return image_in_memory(image_files); };
    io.package_metadata = [this](const std::string& d) -> Result<std::string> {
      return family.package_metadata(files.at(d));
    };
    FamilyPlanInput in;
    for (const auto& f : findings()) in.findings.push_back(f);
    scan::ImageInventory inv;
    in.inventory = &inv;
    in.imported = &imported;
    in.unsigned_channels = &unsigned_channels;
    return family.plan(in, io);
  }
};

std::set<std::string> names_of(const FamilyPlan& p) {
  std::set<std::string> out;
  for (const auto& x : p.packages) out.insert(x.name + "=" + x.version);
  return out;
}

}  // namespace

TEST_CASE("apk plans take every installed package of the affected origin, and nothing else",
          "[heal][apk]") {
  AlpineFixture f;
  f.import_all("alpine");
  auto p = f.plan({"alpine"});
  CHECK(names_of(p) == std::set<std::string>{"libcrypto1.1=1.1.1k-r0", "libssl1.1=1.1.1k-r0"});
  CHECK(p.installer == "apk");
  CHECK(p.targeted == std::set<std::string>{"CVE-2020-1967", "CVE-2021-3449"});
  CHECK(p.deferred.empty());
  for (const auto& pin : p.packages) {
    CHECK(pin.record.empty());  // the image's apk installs it
    CHECK(pin.fixes == "CVE-2020-1967,CVE-2021-3449");
  }

  SECTION("without apk-tools the files are written") {
    f.image_files.erase("sbin/apk");
    auto q = f.plan({"alpine"});
    CHECK(q.installer == "files");
    for (const auto& pin : q.packages) CHECK(pin.record == "lib/apk/db/installed");
  }
  SECTION("unsigned packages from a channel whose policy does not allow them are deferred") {
    auto q = f.plan({"another-channel"});
    CHECK(q.packages.empty());
    CHECK(q.deferred == std::set<std::string>{"CVE-2020-1967", "CVE-2021-3449"});
    REQUIRE(q.deferrals.size() == 1);
    CHECK(q.deferrals[0]["source"] == "openssl");
    CHECK(q.deferrals[0]["reason"].get<std::string>().find("is unsigned and channel 'alpine'") !=
          std::string::npos);
  }
  SECTION("an origin with a binary package missing from the snapshot is deferred whole") {
    std::erase_if(f.imported, [](const ImportedContent& c) { return c.name == "libssl1.1"; });
    auto q = f.plan({"alpine"});
    CHECK(q.packages.empty());
    REQUIRE(q.missing.size() == 1);
    CHECK(q.missing[0] == "openssl 1.1.1k-r0: libssl1.1 1.1.1k-r0");
  }
}

TEST_CASE("The apk family orders apk versions, knows its database and its files", "[heal][apk]") {
  AlpineFixture f;
  CHECK(f.family.name() == "apk");
  CHECK(package_family_for_component("apk") == &f.family);
  CHECK(*f.family.compare_versions("1.1.1k-r0", "1.1.1d-r0") > 0);
  CHECK(*f.family.compare_versions("1.2_rc1-r0", "1.2-r0") < 0);
  CHECK_FALSE(f.family.compare_versions("not a version", "1.0"));
  CHECK(f.family.database_path("lib/apk/db/installed"));
  CHECK_FALSE(f.family.database_path("lib/apkx/db"));
  auto file = write_apk_from_root(f.root9, "zlib", f.tmp / "one");
  CHECK(package_family_of_file(file) == &f.family);
  auto junk = f.tmp / "junk.apk";
  std::ofstream(junk) << "not a package";
  CHECK(package_family_of_file(junk) == nullptr);
  auto paths = f.family.package_paths(file);
  REQUIRE(paths);
  CHECK(*paths == std::set<std::string>{"lib/libz.so.1", "lib/libz.so.1.2.11"});
  // The pin must name what the file is.
  PackagePin wrong{"zlib", "9.9-r0", "x86_64", "", "", "", ""};
  auto r = f.family.read_package(wrong, file);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "the imported file for zlib 9.9-r0 is zlib 1.2.11-r1");
}

TEST_CASE("Signed apk packages heal only with a key the image trusts", "[heal][apk]") {
  AlpineFixture f;
  auto key = make_apk_signing_key(f.tmp / "keys", "site-builder");
  f.import_all("site", key);
  // The image does not have the key: deferred, naming it.
  auto p = f.plan({});
  CHECK(p.packages.empty());
  REQUIRE(p.deferrals.size() == 1);
  CHECK(p.deferrals[0]["reason"].get<std::string>().find(
            "signed by site-builder.pub, which is not in the image's /etc/apk/keys") !=
        std::string::npos);
  // The image trusts it: planned, though the channel allows no unsigned packages.
  f.image_files["etc/apk/keys/site-builder.pub"] = apk_slurp(f.tmp / "keys/site-builder.pub");
  CHECK(names_of(f.plan({})) ==
        std::set<std::string>{"libcrypto1.1=1.1.1k-r0", "libssl1.1=1.1.1k-r0"});
  // A key of that name with other bytes: the signature does not verify.
  auto other = make_apk_signing_key(f.tmp / "other", "site-builder");
  f.image_files["etc/apk/keys/site-builder.pub"] = apk_slurp(f.tmp / "other/site-builder.pub");
  auto q = f.plan({});
  CHECK(q.packages.empty());
  REQUIRE(q.deferrals.size() == 1);
  CHECK(q.deferrals[0]["reason"].get<std::string>().find("does not verify") != std::string::npos);
}

TEST_CASE("apk tool installs read from a local APKINDEX, and file heals rewrite the database",
          "[heal][apk]") {
  AlpineFixture f;
  f.import_all("alpine");
  auto fp = f.plan({"alpine"});
  Plan plan;
  plan.family = "apk";
  plan.packages = fp.packages;
  plan.installer = "apk";
  std::vector<FixedPackage> packages;
  for (const auto& pin : plan.packages) {
    auto r = f.family.read_package(pin, f.files.at(pin.digest));
    REQUIRE(r);
    packages.push_back(*r);
  }
  auto t = f.family.tool_install(plan, packages, f.tmp / "repo", {}, 1700000000);
  REQUIRE(t);
  CHECK(t->tool == "apk");
  REQUIRE(t->commands.size() == 1);
  CHECK(t->commands[0] == std::vector<std::string>{
                              "apk", "upgrade", "--no-network", "--no-cache", "--repositories-file",
                              "/dev/null", "--repository", "/airheal-heal", "--allow-untrusted"});
  CHECK(fsys::exists(f.tmp / "repo/x86_64/libssl1.1-1.1.1k-r0.apk"));
  // The index holds exactly the plan's packages, each under its identity.
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  REQUIRE(archive_read_open_filename(a, (f.tmp / "repo/x86_64/APKINDEX.tar.gz").c_str(), 10240) ==
          ARCHIVE_OK);
  struct archive_entry* e = nullptr;
  std::string index;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK)
    if (std::string(archive_entry_pathname(e)) == "APKINDEX") {
      index.resize(static_cast<std::size_t>(archive_entry_size(e)));
      archive_read_data(a, index.data(), index.size());
    }
  archive_read_free(a);
  auto recs = apk::parse_database(index);
  REQUIRE(recs);
  REQUIRE(recs->size() == 2);
  for (const auto& r : *recs) CHECK(r.text.starts_with("C:Q1"));

  // Files: the layer holds the packages' files and the rewritten database.
  plan.installer = "files";
  for (auto& pin : plan.packages) pin.record = "lib/apk/db/installed";
  LayerWriter w(f.tmp / "layer");
  REQUIRE(f.family.write_files(plan, packages, image_in_memory(f.image_files), w));
  CHECK(w.written().count("lib/libssl.so.1.1"));
  CHECK(w.written().count("usr/lib/engines-1.1/afalg.so"));
  CHECK(w.written().count("lib/apk/db/installed"));
  CHECK_FALSE(w.written().count(".PKGINFO"));
  auto blob = w.finish();
  REQUIRE(blob);
  auto db = run_ok({"tar", "-xzOf", blob->file.string(), "lib/apk/db/installed"}).out;
  auto after = apk::parse_database(db);
  REQUIRE(after);
  CHECK(after->size() == 14);
  std::map<std::string, std::string> versions;
  for (const auto& r : *after) versions[r.name] = r.version;
  CHECK(versions["libssl1.1"] == "1.1.1k-r0");
  CHECK(versions["libcrypto1.1"] == "1.1.1k-r0");
  CHECK(versions["musl"] == "1.1.22-r3");
}
