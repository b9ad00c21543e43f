// Heal layers written without running anything: .deb members read with libarchive (real .debs
// built by dpkg-deb, and hostile ones built by hand), dpkg stanzas replaced in place, whiteouts.
#include "heal/heal_layer.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <catch2/catch.hpp>
#include <clocale>
#include <fstream>
#include <map>

#include "core/archive_path.hpp"
#include "core/fs.hpp"
#include "scan/layer.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
namespace fsys = std::filesystem;

namespace {

// A real .deb made by dpkg-deb from a tree.
fsys::path build_deb(const fsys::path& dir, const std::string& name, const std::string& version,
                     const std::map<std::string, std::string>& files) {
  auto root = dir / (name + "-" + version);
  fsys::create_directories(root / "DEBIAN");
  std::ofstream(root / "DEBIAN" / "control")
      << "Package: " << name << "\nVersion: " << version
      << "\nArchitecture: amd64\nMaintainer: t <t@example.org>\nSource: src\n"
         "Description: test package\n";
  std::string sums;
  for (const auto& [path, content] : files) {
    fsys::create_directories((root / path).parent_path());
    std::ofstream(root / path) << content;
    sums += sha256_hex(content).substr(0, 32) + "  " + path + "\n";
  }
  std::ofstream(root / "DEBIAN" / "md5sums") << sums;
  auto out = dir / (name + "_" + version + "_amd64.deb");
  run_ok({"dpkg-deb", "--root-owner-group", "-Zxz", "--build", root.string(), out.string()});
  return out;
}

void add_entry(struct archive* a, const std::string& name, const std::string& content) {
  auto* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
  archive_write_header(a, e);
  archive_write_data(a, content.data(), content.size());
  archive_entry_free(e);
}

// A .deb assembled by hand: an ar archive whose data.tar.gz holds ENTRIES as given.
fsys::path hostile_deb(const fsys::path& dir,
                       const std::vector<std::pair<std::string, std::string>>& entries) {
  auto tar_of = [](const std::vector<std::pair<std::string, std::string>>& es) {
    std::string out;
    auto* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    std::vector<char> buf(1 << 20);
    size_t used = 0;
    archive_write_open_memory(a, buf.data(), buf.size(), &used);
    for (const auto& [path, content] : es) add_entry(a, path, content);
    archive_write_close(a);
    archive_write_free(a);
    return std::string(buf.data(), used);
  };
  auto control = tar_of({{"./control", "Package: evil\nVersion: 1\nArchitecture: amd64\n"}});
  auto data = tar_of(entries);
  auto out = dir / "evil.deb";
  auto* a = archive_write_new();
  archive_write_set_format_ar_svr4(a);
  archive_write_open_filename(a, out.c_str());
  for (auto [name, content] : {std::pair<std::string, std::string>{"debian-binary", "2.0\n"},
                               {"control.tar.gz", control},
                               {"data.tar.gz", data}})
    add_entry(a, name, content);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

}  // namespace

TEST_CASE("read_deb_control reads the control file and md5sums of a real .deb", "[heal]") {
  TempDir t;
  auto deb =
      build_deb(t.path(), "libdemo1", "1.2-3+deb12u1", {{"usr/lib/libdemo.so.1", "new code"}});
  auto c = heal::read_deb_control(deb);
  REQUIRE(c);
  CHECK(c->field("Package") == "libdemo1");
  CHECK(c->field("Version") == "1.2-3+deb12u1");
  CHECK(c->field("Source") == "src");
  CHECK(c->md5sums.find("usr/lib/libdemo.so.1") != std::string::npos);
  CHECK(c->control.back() == '\n');
  fsys::path junk = t / "junk.deb";
  std::ofstream(junk) << "not an ar archive";
  CHECK_FALSE(heal::read_deb_control(junk));
}

TEST_CASE("replace_stanza swaps one package's record and keeps the others byte for byte",
          "[heal]") {
  std::string file =
      "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13\n\nPackage: "
      "libpcre2-8-0\nVersion: 10.42-1\n";
  auto r = heal::replace_stanza(file, "zlib1g", "Package: zlib1g\nVersion: 1:1.2.13.dfsg-2\n");
  REQUIRE(r);
  CHECK(*r ==
        "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-2\n\nPackage: "
        "libpcre2-8-0\nVersion: 10.42-1\n");
  CHECK_FALSE(heal::replace_stanza(file, "perl", "Package: perl\n"));
  // Single-stanza files without a Status line stay without one.
  auto single = heal::replace_stanza("Package: a\nVersion: 1\n", "a", "Package: a\nVersion: 2\n");
  REQUIRE(single);
  CHECK(*single == "Package: a\nVersion: 2\n");
}

TEST_CASE("LayerWriter writes package files, records, artefacts and whiteouts into one gzip layer",
          "[heal]") {
  TempDir t;
  auto deb =
      build_deb(t.path(), "libdemo1", "2",
                {{"usr/lib/libdemo.so.1", "fixed"}, {"usr/share/doc/libdemo1/README", "doc"}});
  std::ofstream(t / "gold") << "gold binary";
  heal::LayerWriter w(t / "layer");
  std::set<std::string> paths;
  REQUIRE(w.add_deb_data(deb, &paths));
  CHECK(paths.count("usr/lib/libdemo.so.1"));
  REQUIRE(w.add_bytes("var/lib/dpkg/status.d/libdemo1", "Package: libdemo1\nVersion: 2\n"));
  REQUIRE(w.add_file("/app", t / "gold", 0755));
  REQUIRE(w.add_whiteout("usr/lib/libdemo-old.so.0"));
  CHECK_FALSE(w.add_bytes("../escape", "x"));
  auto blob = w.finish();
  REQUIRE(blob);
  CHECK(blob->digest == *Sha256::of_file(blob->file));
  // The scanner reads it like any layer: files, the whiteout, the status.d record.
  auto inv = scan::read_layer(blob->file);
  REQUIRE(inv);
  std::set<std::string> files;
  for (const auto& f : inv->files) files.insert(f.path);
  CHECK(files.count("usr/lib/libdemo.so.1"));
  CHECK(files.count("app"));
  CHECK(inv->whiteouts == std::vector<std::string>{"usr/lib/libdemo-old.so.0"});
  CHECK(inv->records.count("var/lib/dpkg/status.d/libdemo1"));
  CHECK(*scan::read_layer_file(blob->file, "app", 1 << 20) == "gold binary");
  CHECK(*scan::read_layer_file(blob->file, "usr/lib/libdemo.so.1", 1 << 20) == "fixed");
  CHECK(scan::read_layer_file(blob->file, "nope", 1 << 20).error().code == Errc::not_found);
  CHECK(scan::read_layer_file(blob->file, "app", 3).error().code == Errc::too_large);
  // The same inputs give the same bytes (no timestamps from the clock).
  heal::LayerWriter w2(t / "layer2");
  REQUIRE(w2.add_deb_data(deb));
  REQUIRE(w2.add_bytes("var/lib/dpkg/status.d/libdemo1", "Package: libdemo1\nVersion: 2\n"));
  REQUIRE(w2.add_file("/app", t / "gold", 0755));
  REQUIRE(w2.add_whiteout("usr/lib/libdemo-old.so.0"));
  CHECK(w2.finish()->digest == blob->digest);
}

TEST_CASE("a .deb whose data escapes the image root is refused", "[heal][hostile]") {
  TempDir t;
  for (auto bad : {"../../etc/cron.d/evil", "./usr/../../../root/.ssh/authorized_keys"}) {
    INFO(bad);
    auto deb = hostile_deb(t.path(), {{"./usr/bin/ok", "ok"}, {bad, "pwned"}});
    heal::LayerWriter w(t / "layer");
    auto st = w.add_deb_data(deb);
    REQUIRE_FALSE(st);
    CHECK(st.error().message.find("escapes the root") != std::string::npos);
  }
  // A truncated .deb is an error, not a partial layer.
  auto good = build_deb(t.path(), "libdemo1", "3",
                        {{"usr/lib/big", std::string(200000, 'x') + random_bytes(100000, 7)}});
  auto bytes = *fs::read_file(good, 1 << 24);
  std::ofstream(t / "cut.deb", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  heal::LayerWriter w(t / "layer3");
  CHECK_FALSE(w.add_deb_data(t / "cut.deb"));
}

TEST_CASE("slim_layer leaves out files identical to the layers below and keeps everything else",
          "[heal]") {
  TempDir t;
  // Bottom: a, b, gone, same-but-mode; middle: whites out "gone" and makes "dir" opaque.
  heal::LayerWriter l1(t / "l1");
  REQUIRE(l1.add_bytes("usr/a", "same"));
  REQUIRE(l1.add_bytes("usr/b", "old"));
  REQUIRE(l1.add_bytes("usr/gone", "same"));
  REQUIRE(l1.add_bytes("usr/mode", "same", 0644));
  REQUIRE(l1.add_bytes("dir/hidden", "same"));
  auto b1 = l1.finish();
  REQUIRE(b1);
  heal::LayerWriter l2(t / "l2");
  REQUIRE(l2.add_whiteout("usr/gone"));
  REQUIRE(l2.add_bytes("dir/.wh..wh..opq", ""));
  REQUIRE(l2.add_bytes("usr/upper", "same"));
  auto b2 = l2.finish();
  REQUIRE(b2);
  // The heal layer (as dpkg would leave it): every file rewritten.
  heal::LayerWriter h(t / "h");
  for (auto p : {"usr/a", "usr/gone", "dir/hidden", "usr/upper", "usr/new"})
    REQUIRE(h.add_bytes(p, "same"));
  REQUIRE(h.add_bytes("usr/b", "new"));
  REQUIRE(h.add_bytes("usr/mode", "same", 0755));
  auto hb = h.finish();
  REQUIRE(hb);
  heal::SlimReport report;
  auto slim = heal::slim_layer(hb->file, {b1->file, b2->file}, t / "slim", report);
  REQUIRE(slim);
  CHECK(report.dropped == 2);  // usr/a and usr/upper
  CHECK(report.dropped_bytes == 8);
  auto inv = scan::read_layer(slim->file);
  REQUIRE(inv);
  std::set<std::string> kept;
  for (const auto& f : inv->files) kept.insert(f.path);
  CHECK(kept == std::set<std::string>{"usr/b", "usr/gone", "usr/mode", "dir/hidden", "usr/new"});
  CHECK(*scan::read_layer_file(slim->file, "usr/b", 1 << 20) == "new");
  CHECK(slim->diff_id != hb->diff_id);
  // A corrupt heal layer is an error, not an empty layer.
  std::ofstream(t / "bad.tar.gz") << "not a layer at all";
  CHECK_FALSE(heal::slim_layer(t / "bad.tar.gz", {b1->file}, t / "slim2", report));
}

TEST_CASE(
    "slim_layer and the scanner read non-ASCII file names in any locale, build mount points are "
    "left out",
    "[heal]") {
  // Debian's ca-certificates ships names like this one; pax headers carry them as UTF-8, and
  // libarchive could not convert them in the C locale (a realistic image's heal failed so).
  const std::string name =
      "etc/ssl/certs/NetLock_Arany_=Class_Gold=_F\xc5\x91tan\xc3\xbas\xc3\xadtv\xc3\xa1ny.pem";
  TempDir t;
  heal::LayerWriter l1(t / "l1");
  REQUIRE(l1.add_bytes(name, "cert"));
  REQUIRE(l1.add_bytes("usr/a", "old"));
  auto b1 = l1.finish();
  REQUIRE(b1);
  heal::LayerWriter h(t / "h");
  REQUIRE(h.add_bytes(name, "cert"));
  REQUIRE(h.add_bytes("usr/a", "new"));
  REQUIRE(h.add_bytes("airheal-heal/.keep", ""));  // what a build's mount point leaves behind
  auto hb = h.finish();
  REQUIRE(hb);
  for (const char* locale : {"C", "C.UTF-8"}) {
    INFO("LC_CTYPE=" << locale);
    std::setlocale(LC_CTYPE, locale);
    auto inv = scan::read_layer(b1->file);
    REQUIRE(inv);
    std::set<std::string> seen;
    for (const auto& f : inv->files) seen.insert(f.path);
    CHECK(seen.count(name));
    CHECK(inv->problems.empty());
    heal::SlimReport report;
    auto slim = heal::slim_layer(hb->file, {b1->file}, t / (std::string("slim-") + locale), report,
                                 {"airheal-heal"});
    REQUIRE(slim);
    CHECK(report.dropped == 1);  // the certificate, identical below
    CHECK(report.scratch == 1);
    auto kept = scan::read_layer(slim->file);
    REQUIRE(kept);
    REQUIRE(kept->files.size() == 1);
    CHECK(kept->files[0].path == "usr/a");
  }
  airheal::use_utf8_ctype();
}
