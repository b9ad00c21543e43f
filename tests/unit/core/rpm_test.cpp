// core/rpm against packages the host's rpmbuild writes and signs (made-up packages: no rpm
// distribution repository is reachable here) and databases the host's rpm writes.
#include "core/rpm.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/fs.hpp"
#include "support/rpm_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
namespace fsys = std::filesystem;

namespace {

test::RpmSpec greet_spec(const std::string& version) {
  test::RpmSpec s;
  s.name = "libgreet";
  s.version = version;
  s.release = "2.el9";
  s.requires_ = {"greet-base >= 1.0", "/bin/sh", "rpmlib(CompressedFileNames) <= 3.0.4-1"};
  s.provides = {"libgreet.so.1()(64bit)"};
  s.files = {{"/usr/share/greet/message", "hello " + version + "\n"},
             {"/etc/greet.conf", "greeting=hello\n"}};
  s.programs = {{"/usr/bin/greet", "#!/bin/sh\ncat /usr/share/greet/message\n"}};
  s.post = "echo installed > /dev/null";
  return s;
}

}  // namespace

TEST_CASE("rpm packages as rpmbuild writes them: header, dependencies, files, scriptlets",
          "[core][rpm]") {
  if (!test::have_program("rpmbuild")) FAIL("rpmbuild is required: scripts/setup.sh installs rpm");
  test::TempDir dir;
  auto file = test::build_rpm(greet_spec("1.1"), dir.path() / "top");
  auto p = rpm::read_package(file);
  REQUIRE(p);
  const auto& h = p->header;
  CHECK(h.name == "libgreet");
  CHECK(h.evr() == "1.1-2.el9");
  CHECK(h.nevra() == "libgreet-1.1-2.el9.noarch");
  CHECK(h.arch == "noarch");
  CHECK(h.license == "MIT");
  CHECK(h.source_name() == "libgreet");
  CHECK(h.sourcerpm == "libgreet-1.1-2.el9.src.rpm");
  CHECK(h.files ==
        std::vector<std::string>{"etc/greet.conf", "usr/bin/greet", "usr/share/greet/message"});
  REQUIRE(h.file_modes.size() == 3);
  CHECK((h.file_modes[1] & 0777) == 0755);
  CHECK(h.scripts == std::vector<std::string>{"%post (/bin/sh)"});
  std::vector<std::string> reqs;
  for (const auto& r : h.requires_) reqs.push_back(r.text());
  CHECK(std::find(reqs.begin(), reqs.end(), "greet-base >= 1.0") != reqs.end());
  CHECK(std::find(reqs.begin(), reqs.end(), "/bin/sh") != reqs.end());
  bool rpmlib = false;
  for (const auto& r : h.requires_) rpmlib = rpmlib || r.rpmlib();
  CHECK(rpmlib);
  std::vector<std::string> provs;
  for (const auto& r : h.provides) provs.push_back(r.text());
  CHECK(std::find(provs.begin(), provs.end(), "libgreet = 1.1-2.el9") != provs.end());
  CHECK(std::find(provs.begin(), provs.end(), "libgreet.so.1()(64bit)") != provs.end());
  CHECK(h.payload_compressor == "xz");
  CHECK(p->header_sha256.size() == 64);  // checked against the signature header's digest
  CHECK_FALSE(p->signed_());

  SECTION("a signature by rpmsign names the signing key") {
    auto key = test::make_rpm_signing_key(dir.path() / "key", "airheal rpm test <rpm@test>");
    auto signed_file = test::build_rpm(greet_spec("1.2"), dir.path() / "top2", key);
    auto s = rpm::read_package(signed_file);
    REQUIRE(s);
    REQUIRE(s->signed_());
    auto listed = test::run(
        {"gpg", "--homedir", key.gnupg_home.string(), "--batch", "--with-colons", "--list-keys"});
    REQUIRE(listed.exit_code == 0);
    auto at = listed.out.find("\npub:");
    REQUIRE(at != std::string::npos);
    // pub:u:3072:1:<KEYID>:...
    std::string fields = listed.out.substr(at + 1);
    std::vector<std::string> f;
    std::string cur;
    for (char c : fields.substr(0, fields.find('\n'))) {
      if (c == ':') {
        f.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    REQUIRE(f.size() > 4);
    std::string id = f[4];
    for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(s->signer_key_ids == std::vector<std::string>{id});
  }

  SECTION("a changed header is refused: its SHA-256 no longer matches") {
    auto bytes = fs::read_file(file, 64 << 20);
    REQUIRE(bytes);
    auto at = bytes->find("hello 1.1");
    auto name = bytes->find("libgreet", 200);
    REQUIRE(name != std::string::npos);
    auto broken = *bytes;
    broken[name] = 'L';
    std::ofstream(dir.path() / "broken.rpm", std::ios::binary) << broken;
    auto r = rpm::read_package(dir.path() / "broken.rpm");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("SHA-256"));
    (void)at;
  }

  SECTION("truncated and foreign bytes are refused with a reason") {
    auto bytes = fs::read_file(file, 64 << 20);
    REQUIRE(bytes);
    for (std::size_t keep :
         {std::size_t{10}, std::size_t{100}, std::size_t{400}, bytes->size() / 2}) {
      std::ofstream(dir.path() / "cut.rpm", std::ios::binary) << bytes->substr(0, keep);
      INFO(keep);
      if (keep < bytes->size() / 2) CHECK_FALSE(rpm::read_package(dir.path() / "cut.rpm"));
    }
    std::ofstream(dir.path() / "not.rpm", std::ios::binary) << "!<arch>\ndebian-binary   ";
    auto r = rpm::read_package(dir.path() / "not.rpm");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("not an rpm package"));
  }
}

TEST_CASE("rpmdb.sqlite as rpm writes it, with an imported key", "[core][rpm]") {
  if (!test::have_program("rpmbuild")) FAIL("rpmbuild is required: scripts/setup.sh installs rpm");
  test::TempDir dir;
  auto file = test::build_rpm(greet_spec("1.0"), dir.path() / "top");
  auto key = test::make_rpm_signing_key(dir.path() / "key", "airheal rpm test <rpm@test>");
  auto root = dir.path() / "root";
  fsys::create_directories(root);
  test::rpm_in_root(root, {"--initdb"});
  test::rpm_in_root(root, {"--import", key.public_key.string()});
  test::rpm_in_root(root, {"-i", "--justdb", "--nodeps", "--noscripts", file.string()});
  auto bytes = fs::read_file(root / "var/lib/rpm/rpmdb.sqlite", 64 << 20);
  REQUIRE(bytes);
  auto headers = rpm::read_database_sqlite(*bytes);
  REQUIRE(headers);
  REQUIRE(headers->size() == 2);
  std::map<std::string, rpm::Header> by_name;
  for (const auto& h : *headers) by_name[h.name] = h;
  REQUIRE(by_name.count("gpg-pubkey"));
  CHECK(by_name["gpg-pubkey"].gpg_pubkey());
  CHECK(by_name["gpg-pubkey"].version.size() == 8);  // the key id's last 8 hex digits
  REQUIRE(by_name.count("libgreet"));
  CHECK(by_name["libgreet"].files.size() == 3);
  CHECK(by_name["libgreet"].evr() == "1.0-2.el9");
  CHECK_FALSE(rpm::read_database_sqlite("not a database"));
}

TEST_CASE("rpm header limits", "[core][rpm]") {
  using namespace std::string_literals;
  // more index entries than airheal reads
  CHECK_FALSE(rpm::parse_header("\x00\x01\x00\x01\x00\x00\x00\x10"s));
  // sizes past the end
  CHECK_FALSE(rpm::parse_header("\x00\x00\x00\x02\x00\x00\x00\x10"s));
  // no NAME
  auto r = rpm::parse_header(
      "\x00\x00\x00\x01\x00\x00\x00\x04"
      "\x00\x00\x03\xe9\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x01"
      "1.0\x00"s);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("without NAME"));
  CHECK_FALSE(rpm::signature_key_id(""));
  CHECK_FALSE(rpm::signature_key_id("\x88\x05\x03\x00"s));
}
