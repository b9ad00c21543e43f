// apk v2 packages rebuilt from the official Alpine 3.10.9 minirootfs (real files, real database
// records): what airheal reads back from them must be exactly what apk-tools recorded when it
// installed the originals.
#include "core/apk.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/fs.hpp"
#include "support/apk_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
namespace fsys = std::filesystem;

namespace {

std::string slurp_apk(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A record without the lines that depend on the package file itself (C: identity, S: size).
std::string without_file_fields(const std::string& record) {
  std::istringstream in(record);
  std::string line, out;
  while (std::getline(in, line))
    if (!line.starts_with("C:") && !line.starts_with("S:")) out += line + "\n";
  return out;
}

struct AlpineRoot {
  test::TempDir tmp;
  fsys::path root = test::unpack_alpine_minirootfs("3.10.9", tmp / "root");
  std::string db = slurp_apk(root / "lib/apk/db/installed");
  std::string record_of(const std::string& name) const {
    auto recs = apk::parse_database(db);
    if (!recs) return {};
    for (const auto& r : *recs)
      if (r.name == name) return r.text;
    return {};
  }
};

}  // namespace

TEST_CASE("A rebuilt apk reads back as the record apk-tools wrote for it", "[core][apk]") {
  AlpineRoot a;
  for (const auto* name : {"libcrypto1.1", "libssl1.1", "busybox", "musl"}) {
    INFO(name);
    auto file = test::write_apk_from_root(a.root, name, a.tmp / "pkgs");
    auto p = apk::read_package(file, true);
    REQUIRE(p);
    CHECK(p->info.name == name);
    CHECK(p->signatures.empty());
    CHECK(p->identity.starts_with("Q1"));
    CHECK(p->identity.size() == 30);
    CHECK(p->size == fsys::file_size(file));
    auto original = a.record_of(name);
    REQUIRE_FALSE(original.empty());
    CHECK(without_file_fields(apk::installed_record(*p)) == without_file_fields(original));
    auto index = apk::index_record(*p);
    CHECK(index.starts_with("C:" + p->identity + "\nP:" + name + "\n"));
    CHECK(index.find("\nF:") == std::string::npos);
  }
  auto ssl = apk::read_package(a.tmp / "pkgs/libssl1.1-1.1.1k-r0.apk");
  REQUIRE(ssl);
  CHECK(ssl->info.origin == "openssl");
  CHECK(ssl->info.depends ==
        std::vector<std::string>{"so:libc.musl-x86_64.so.1", "so:libcrypto.so.1.1"});
  CHECK(ssl->info.provides == std::vector<std::string>{"so:libssl.so.1.1=1.1"});
  CHECK(ssl->info.replaces == std::vector<std::string>{"libressl"});
  CHECK(ssl->data.empty());  // read without data
}

TEST_CASE("apk signatures verify with the signer's key and no other", "[core][apk]") {
  AlpineRoot a;
  auto key = test::make_apk_signing_key(a.tmp / "keys", "test-signer");
  auto other = test::make_apk_signing_key(a.tmp / "keys", "someone-else");
  auto file = test::write_apk_from_root(a.root, "libssl1.1", a.tmp / "signed", key);
  auto p = apk::read_package(file, true);
  REQUIRE(p);
  REQUIRE(p->signatures.size() == 1);
  CHECK(p->signatures[0].algorithm == "RSA");
  CHECK(p->signatures[0].key_name == "test-signer.pub");
  auto pem = slurp_apk(a.tmp / "keys" / "test-signer.pub");
  CHECK(apk::verify_signature(*p, p->signatures[0], pem));
  auto wrong =
      apk::verify_signature(*p, p->signatures[0], slurp_apk(a.tmp / "keys" / "someone-else.pub"));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message.find("does not verify") != std::string::npos);
  // The same package unsigned has the same identity: the signature covers the control stream.
  auto unsigned_file = test::write_apk_from_root(a.root, "libssl1.1", a.tmp / "unsigned");
  CHECK(apk::read_package(unsigned_file)->identity == p->identity);
}

TEST_CASE("Broken apk files are refused with the reason", "[core][apk]") {
  AlpineRoot a;
  auto file = test::write_apk_from_root(a.root, "libssl1.1", a.tmp / "pkgs");
  auto bytes = slurp_apk(file);
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  std::vector<Case> cases = {
      {"truncated in the data stream", bytes.substr(0, bytes.size() - 100), "truncated"},
      {"empty", "", "empty file"},
      {"not gzip", "!<arch>\ndebian-binary   ", "not a gzip stream"},
      {"only the control stream", bytes.substr(0, 300), "truncated"},
      {"four members", bytes + bytes, "gzip members"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto f = a.tmp / "broken.apk";
    std::ofstream(f, std::ios::binary) << c.bytes;
    auto r = apk::read_package(f, true);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(c.message) != std::string::npos);
  }
}

TEST_CASE("apk dependency tokens", "[core][apk]") {
  struct Case {
    const char* token;
    const char* name;
    const char* op;
    const char* version;
    bool conflict;
  };
  for (const auto& c :
       std::vector<Case>{{"so:libc.musl-x86_64.so.1", "so:libc.musl-x86_64.so.1", "", "", false},
                         {"busybox=1.30.1-r5", "busybox", "=", "1.30.1-r5", false},
                         {"musl>=1.1.22", "musl", ">=", "1.1.22", false},
                         {"!libressl", "libressl", "", "", true},
                         {"so:libcrypto.so.1.1=1.1", "so:libcrypto.so.1.1", "=", "1.1", false},
                         {"zlib~1.2", "zlib", "~", "1.2", false}}) {
    INFO(c.token);
    auto d = apk::parse_dependency(c.token);
    REQUIRE(d);
    CHECK(d->name == c.name);
    CHECK(d->op == c.op);
    CHECK(d->version == c.version);
    CHECK(d->conflict == c.conflict);
  }
  CHECK_FALSE(apk::parse_dependency("musl>="));
  CHECK_FALSE(apk::parse_dependency(">=1"));
  CHECK_FALSE(apk::parse_dependency("musl<>1"));
}

TEST_CASE("An apk database record is replaced and the others kept byte for byte", "[core][apk]") {
  AlpineRoot a;
  auto recs = apk::parse_database(a.db);
  REQUIRE(recs);
  CHECK(recs->size() == 14);
  auto replaced = apk::replace_record(a.db, "libssl1.1", "P:libssl1.1\nV:9-r0\n");
  REQUIRE(replaced);
  auto after = apk::parse_database(*replaced);
  REQUIRE(after);
  REQUIRE(after->size() == 14);
  for (std::size_t i = 0; i < 14; ++i) {
    if ((*recs)[i].name == "libssl1.1")
      CHECK((*after)[i].version == "9-r0");
    else
      CHECK((*after)[i].text == (*recs)[i].text);
  }
  CHECK(apk::replace_record(a.db, "new-package", "P:new-package\nV:1-r0\n")
            ->ends_with("\nP:new-package\nV:1-r0\n\n"));
  // Without its blank-line ending and with a stray line, the database is refused.
  CHECK_FALSE(apk::parse_database("P:x\nV:1\nnot a field\n"));
  CHECK_FALSE(apk::parse_database("V:1\n"));
  CHECK(*apk::replace_record(a.db, "zzz", "P:zzz\nV:1\n") != a.db);
}

TEST_CASE("A repository index is read with its signature, and a package's data against datahash",
          "[apk]") {
  REQUIRE_FALSE(test::alpine_minirootfs("3.10.9").empty());
  test::TempDir dir;
  auto root = test::unpack_alpine_minirootfs("3.10.9", dir / "root");
  auto key = test::make_apk_signing_key(dir / "keys", "test.rsa");
  auto file = test::write_apk_from_root(root, "libssl1.1", dir / "repo", key);
  auto pkg = apk::read_package(file);
  REQUIRE(pkg);
  CHECK(apk::check_datahash(file, *pkg));
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(pkg->size - 500));
    f.put('\x7f');
  }
  auto changed = apk::check_datahash(file, *pkg);
  REQUIRE_FALSE(changed);
  CHECK(changed.error().message.find("datahash says") != std::string::npos);

  // An index as abuild-sign writes it (made up here from the rebuilt package's record): the
  // signature member, then the index member.
  auto unsigned_file = dir / "APKINDEX.unsigned.tar.gz";
  std::string index_text = apk::index_record(*pkg) + "\n";
  {
    // DESCRIPTION and APKINDEX in one gzip'd tar, as write_apkindex (heal) makes it.
    auto r = test::run({"/bin/sh", "-c",
                        "cd \"$1\" && printf 'test' > DESCRIPTION && cat > APKINDEX && "
                        "tar --format=ustar -czf \"$2\" DESCRIPTION APKINDEX",
                        "sh", dir.path().string(), unsigned_file.string()},
                       std::chrono::seconds(60), index_text);
    REQUIRE(r.exit_code == 0);
  }
  auto bytes = *fs::read_file(unsigned_file, 1 << 20);
  auto signed_file = dir / "APKINDEX.tar.gz";
  std::ofstream(signed_file, std::ios::binary) << test::apk_signature_member(bytes, key) + bytes;
  auto idx = apk::read_index(signed_file);
  REQUIRE(idx);
  REQUIRE(idx->signatures.size() == 1);
  CHECK(idx->signatures[0].key_name == "test.rsa.pub");
  CHECK(idx->signed_member == bytes);
  CHECK(idx->apkindex == index_text);
  CHECK(idx->description == "test");
  auto pub = *fs::read_file(key.private_pem.string() + ".pub", 1 << 16);
  CHECK(apk::verify_signature(idx->signed_member, idx->signatures[0], pub));
  CHECK_FALSE(apk::verify_signature(idx->signed_member + " ", idx->signatures[0], pub));
  auto plain = apk::read_index(unsigned_file);
  REQUIRE(plain);
  CHECK(plain->signatures.empty());
  std::ofstream(dir / "three.tar.gz", std::ios::binary) << bytes + bytes + bytes;
  CHECK_FALSE(apk::read_index(dir / "three.tar.gz"));
}
