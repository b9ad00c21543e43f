#include "audit/journal.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <regex>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("the journal chains records and detects edits and removals", "[audit]") {
  test::TempDir dir;
  audit::Journal j(dir / "audit" / "journal.jsonl");
  for (int i = 0; i < 3; ++i) REQUIRE(j.append({{"type", "test"}, {"n", i}}));
  CHECK(j.verify().empty());
  auto recs = j.read_all();
  REQUIRE(recs);
  REQUIRE(recs->size() == 3);
  CHECK((*recs)[2]["seq"] == 3);

  auto text = *fs::read_file(j.file(), 1 << 20);
  auto edited = text;
  edited.replace(edited.find("\"n\":1"), 5, "\"n\":7");
  REQUIRE(fs::write_file_atomic(j.file(), edited));
  CHECK(j.verify().find("record 3") != std::string::npos);

  auto first_end = text.find('\n');
  REQUIRE(fs::write_file_atomic(j.file(), text.substr(first_end + 1)));  // the first record removed
  CHECK_FALSE(j.verify().empty());
}

TEST_CASE("a torn final line from a crash is dropped on the next append", "[audit]") {
  test::TempDir dir;
  audit::Journal j(dir / "j.jsonl");
  REQUIRE(j.append({{"type", "a"}}));
  {
    std::ofstream out(j.file(), std::ios::app);
    out << "{\"type\":\"half";
  }
  REQUIRE(j.append({{"type", "b"}}));
  CHECK(j.verify().empty());
  CHECK(j.read_all()->size() == 2);
}

TEST_CASE("Every appended record also leaves as one RFC 5424 message on the syslog socket",
          "[audit][journal][syslog]") {
  test::TempDir t;
  auto sock_path = t / "log.sock";
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  audit::Journal::forward_syslog(sock_path);
  audit::Journal j(t / "audit" / "journal.jsonl");
  REQUIRE(j.append({{"type", "heal.promoted"}, {"by", "alice"}, {"heal", 7}}));
  // A type with spaces and quotes stays inside the MSGID's grammar.
  REQUIRE(j.append({{"type", "odd \"type\" ]"}, {"note", "x"}}));
  audit::Journal::forward_syslog({});
  REQUIRE(j.append({{"type", "not.forwarded"}}));
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    char buf[65536];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    got.emplace_back(buf, static_cast<std::size_t>(n));
  }
  char extra[16];
  timeval short_tv{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &short_tv, sizeof short_tv);
  CHECK(::recv(fd, extra, sizeof extra, 0) < 0);  // nothing after forwarding was switched off
  ::close(fd);
  // RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG.
  std::regex form(
      R"re(^<109>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [!-~]{1,255} airheal \d+ ([!-~]{1,32}) )re"
      R"re(\[airheal@32473 seq="(\d+)" prev="([0-9a-f]{64})"\] ([\s\S]{3})(\{.*\})$)re");
  auto lines = *j.lines();
  for (int i = 0; i < 2; ++i) {
    std::smatch m;
    INFO(got[i]);
    REQUIRE(std::regex_match(got[i], m, form));
    CHECK(m[2] == std::to_string(i + 1));
    CHECK(m[4].str() == "\xEF\xBB\xBF");  // the BOM: the message is UTF-8
    // The message is the record exactly as the journal holds it.
    CHECK(m[5].str() == lines[i]);
  }
  std::smatch m;
  REQUIRE(std::regex_match(got[0], m, form));
  CHECK(m[1] == "heal.promoted");
  REQUIRE(std::regex_match(got[1], m, form));
  CHECK(m[1] == "odd\"type\"]");
}
