// What an adversarial review of the HTTP surface found (issue 18), each on the real daemon:
// HEAD answers without a body on a kept-alive connection, reads by an impossible reference find
// nothing, the API's body bound, Host/Origin/Content-Type checks against cross-site requests and
// DNS rebinding (a hostile page in headless Chromium), and IPv4 loopback on an IPv6 listener.
#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "support/chromium.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace asio = boost::asio;
namespace fsys = std::filesystem;

namespace {

// A raw HTTP/1.1 connection: exactly the bytes the server sent, nothing parsed away.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Reads until the end of one header block; returns it. Anything after stays buffered.
  std::string read_header() {
    boost::system::error_code ec;
    asio::read_until(socket_, buf_, "\r\n\r\n", ec);
    REQUIRE_FALSE(ec);
    auto data = std::string(asio::buffers_begin(buf_.data()), asio::buffers_end(buf_.data()));
    auto end = data.find("\r\n\r\n") + 4;
    buf_.consume(end);
    return data.substr(0, end);
  }
  void skip(std::size_t n) {
    if (buf_.size() < n) {
      boost::system::error_code ec;
      asio::read(socket_, buf_, asio::transfer_exactly(n - buf_.size()), ec);
      REQUIRE_FALSE(ec);
    }
    buf_.consume(n);
  }
  std::size_t buffered() const { return buf_.size(); }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  asio::streambuf buf_;
};

std::size_t content_length(const std::string& header) {
  std::smatch m;
  static const std::regex re("\r\n[Cc]ontent-[Ll]ength: *([0-9]+)");
  return std::regex_search(header, m, re) ? std::stoul(m[1]) : 0;
}

std::string status_line(const std::string& header) { return header.substr(0, header.find("\r\n")); }

}  // namespace

TEST_CASE("HEAD never carries a body, on every route, on one kept-alive connection",
          "[integration][http][hostile]") {
  Daemon daemon;
  HttpClient http("127.0.0.1", daemon.port());
  // One image to have real routes with content too.
  const std::string config = "{}";
  REQUIRE(http.request("POST", "/v2/r/blobs/uploads/?digest=" + sha256_digest(config), {}, config)
              .status == 201);
  json manifest{{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                {"config",
                 {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                  {"digest", sha256_digest(config)},
                  {"size", 2}}},
                {"layers", json::array()}};
  REQUIRE(http.request("PUT", "/v2/r/manifests/v1",
                       {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}},
                       manifest.dump())
              .status == 201);
  const std::string missing = "sha256:" + std::string(64, '0');
  const std::vector<std::string> routes = {"/v2/",
                                           "/v2/_catalog",
                                           "/v2/r/tags/list",
                                           "/v2/r/referrers/" + missing,
                                           "/v2/r/manifests/v1",
                                           "/v2/r/manifests/nope",
                                           "/v2/r/manifests/" + missing,
                                           "/v2/r/manifests/..",
                                           "/v2/r/blobs/" + missing,
                                           "/v2/r/blobs/" + sha256_digest(config),
                                           "/v2/nothere/tags/list",
                                           "/v2/UPPER/manifests/x",
                                           "/api/v1",
                                           "/api/v1/status",
                                           "/api/v1/heals/999",
                                           "/api/v1/nothing",
                                           "/metrics",
                                           "/dashboard",
                                           "/nowhere"};
  RawConnection c(daemon.port());
  const std::string host = "Host: 127.0.0.1:" + std::to_string(daemon.port()) + "\r\n";
  for (const auto& route : routes) {
    INFO(route);
    // HEAD and, pipelined behind it, a GET of the same route: the GET's status line must be the
    // very next bytes, and its Content-Length must be what HEAD announced.
    // (The status document and the metrics count seconds, so the pair may straddle a second
    // whose number gains a digit, 9 -> 10; a pair that differs is asked again, up to 3 times: a
    // HEAD that misstates the length differs every time.)
    std::string head, get;
    for (int attempt = 0; attempt < 3; ++attempt) {
      c.send("HEAD " + route + " HTTP/1.1\r\n" + host + "\r\nGET " + route + " HTTP/1.1\r\n" +
             host + "\r\n");
      head = c.read_header();
      get = c.read_header();
      c.skip(content_length(get));
      if (get.find(" 200 ") == std::string::npos || content_length(head) == content_length(get))
        break;
    }
    CHECK(get.rfind("HTTP/1.1 ", 0) == 0);
    CHECK(status_line(head) == status_line(get));
    if (get.find(" 200 ") != std::string::npos) CHECK(content_length(head) == content_length(get));
  }
  CHECK(c.buffered() == 0);
}

TEST_CASE("a read by a reference that cannot exist is 404 MANIFEST_UNKNOWN, a write by it is 400",
          "[integration][http]") {
  Daemon daemon;
  HttpClient http("127.0.0.1", daemon.port());
  for (const std::string ref : {std::string(".."), std::string("-x"), std::string("sha256:zz"),
                                std::string("sha512:00"), std::string(200, 'a')}) {
    INFO(ref);
    auto r = http.get("/v2/r/manifests/" + ref);
    CHECK(r.status == 404);
    CHECK(oci_error_code(r.body) == "MANIFEST_UNKNOWN");
    CHECK(http.request("HEAD", "/v2/r/manifests/" + ref).status == 404);
  }
  CHECK(http.request("PUT", "/v2/r/manifests/..",
                     {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, "{}")
            .status == 400);
}

TEST_CASE("the API refuses bodies over 1 MiB before reading them, and wrong Host, type and origin",
          "[integration][http][api][hostile]") {
  Daemon daemon;
  HttpClient http("127.0.0.1", daemon.port());
  const json vex{{"vulnerability", "CVE-2024-0001"},
                 {"product", "apps/app"},
                 {"status", "not_affected"},
                 {"justification", "component_not_present"}};
  // Over the bound: 413, whether the length is announced (nothing of the body is read) or not.
  RawConnection big(daemon.port());
  big.send(
      "POST /api/v1/vex HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nContent-Length: 268435456\r\n\r\n{");
  CHECK(status_line(big.read_header()) == "HTTP/1.1 413 Payload Too Large");
  RawConnection chunked(daemon.port());
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", std::size_t{(1u << 20) + 10});
  chunked.send(
      "POST /api/v1/vex HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
      std::string(size) + std::string((1u << 20) + 10, ' ') + "\r\n0\r\n\r\n");
  CHECK(status_line(chunked.read_header()) == "HTTP/1.1 413 Payload Too Large");
  HttpClient fresh("127.0.0.1", daemon.port());
  CHECK(fresh.request("POST", "/api/v1/vex", {}, std::string((1u << 20) + 1, ' ')).status == 413);
  CHECK(fresh
            .request("POST", "/api/v1/vex", {},
                     "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}")
            .status == 400);

  // DNS rebinding: a name the appliance does not answer to.
  auto rebound = fresh.request("GET", "/api/v1/status",
                               {{"Host", "attacker.example:" + std::to_string(daemon.port())}});
  CHECK(rebound.status == 421);
  CHECK_THAT(rebound.body, Catch::Contains("http.server_names"));
  CHECK(fresh
            .request("GET", "/api/v1/status",
                     {{"Host", "localhost:" + std::to_string(daemon.port())}})
            .status == 200);
  CHECK(fresh.request("GET", "/api/v1/status", {{"Host", "[::1]:" + std::to_string(daemon.port())}})
            .status == 200);
  // A form or a "simple" cross-origin request cannot send application/json.
  CHECK(fresh.request("POST", "/api/v1/vex", {{"Content-Type", "text/plain"}}, vex.dump()).status ==
        415);
  CHECK(fresh
            .request("POST", "/api/v1/vex", {{"Content-Type", "application/x-www-form-urlencoded"}},
                     "a=b")
            .status == 415);
  // A browser's write: Origin must be the appliance's own, and the dashboard's token must come
  // along.
  const std::string self = "http://127.0.0.1:" + std::to_string(daemon.port());
  CHECK(
      fresh.request("POST", "/api/v1/vex", {{"Origin", "http://127.0.0.1:1"}}, vex.dump()).status ==
      403);
  CHECK(fresh.request("POST", "/api/v1/vex", {{"Origin", "null"}}, vex.dump()).status == 403);
  CHECK(fresh.request("POST", "/api/v1/vex", {{"Origin", self}}, vex.dump()).status == 403);
  auto page = fresh.get("/dashboard").body;
  std::smatch m;
  REQUIRE(std::regex_search(page, m, std::regex("const CSRF=\"([0-9a-f]{32})\"")));
  // A token one character off (changed to a different hex digit, whatever the token starts with).
  const std::string off = std::string(1, m[1].str()[0] == '0' ? '1' : '0') + m[1].str().substr(1);
  CHECK(
      fresh.request("POST", "/api/v1/vex", {{"Origin", self}, {"X-Airheal-CSRF", off}}, vex.dump())
          .status == 403);
  CHECK(fresh
            .request("POST", "/api/v1/vex", {{"Origin", self}, {"X-Airheal-CSRF", m[1].str()}},
                     vex.dump())
            .status == 201);
  // Non-browser clients (airhealctl, curl) send no Origin and need no token.
  CHECK(fresh.request("POST", "/api/v1/vex", {}, vex.dump()).status == 201);
  CHECK(json::parse(fresh.get("/api/v1/vex").body).size() == 2);
}

TEST_CASE("a hostile page in Chromium cannot change anything through the API",
          "[integration][http][api][hostile]") {
  if (!have_program("chromium") || !have_program("python3"))
    FAIL("chromium and python3 are needed (scripts/setup.sh installs them)");
  TempDir tmp;
  Daemon daemon;
  const std::string target = "http://127.0.0.1:" + std::to_string(daemon.port());
  // The attacker's page, served from another loopback origin, tries every way a page can write.
  fsys::create_directories(tmp / "site");
  std::ofstream(tmp / "site" / "form.html") << R"(<!DOCTYPE html><html><body>
<form id="f" method="POST" enctype="text/plain" action=")"
                                            << target << R"(/api/v1/vex">
<input name='{"vulnerability":"CVE-2024-0003","product":"apps/app","status":"not_affected","justification":"component_not_present","x":"' value='"}'></form>
<script>document.getElementById("f").submit();</script></body></html>)";
  std::ofstream(tmp / "site" / "fetch.html")
      << R"(<!DOCTYPE html><html><body><script>
const body = JSON.stringify({vulnerability: "CVE-2024-0001", product: "apps/app", status: "not_affected", justification: "component_not_present"});
Promise.allSettled([
  fetch(")"
      << target
      << R"(/api/v1/vex", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body}),
  fetch(")"
      << target
      << R"(/api/v1/vex", {method: "POST", headers: {"Content-Type": "application/json"}, body: body.replace("0001", "0002")}),
  fetch(")"
      << target << R"(/api/v1/heals/1/approve", {method: "POST", mode: "no-cors"}),
]).then(r => { document.title = "done " + r.map(x => x.status).join(","); });
</script></body></html>)";
  auto port_file = tmp / "port";
  auto stop_file = tmp / "stop";
  std::thread server([&] {
    run({"python3", "-c",
         "import http.server,functools,sys,os,threading,time;"
         "h=functools.partial(http.server.SimpleHTTPRequestHandler,directory=sys.argv[1]);"
         "s=http.server.ThreadingHTTPServer(('127.0.0.1',0),h);s.daemon_threads=True;"
         "threading.Thread(target=s.serve_forever,daemon=True).start();open(sys.argv[2],'w').write("
         "str(s.server_port))\n"
         "while not os.path.exists(sys.argv[3]): time.sleep(0.2)",
         (tmp / "site").string(), port_file.string(), stop_file.string()},
        std::chrono::seconds(300));
  });
  struct Stop {
    fsys::path file;
    std::thread& t;
    ~Stop() {
      std::ofstream(file) << "stop";
      t.join();
    }
  } stop{stop_file, server};
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream(port_file) >> port;
  }
  REQUIRE_FALSE(port.empty());
  std::string doms;
  for (auto page : {"fetch.html", "form.html"}) {
    auto chrome = headless_chromium(tmp / "chromium", {"--virtual-time-budget=8000", "--dump-dom",
                                                       "http://127.0.0.1:" + port + "/" + page});
    doms += run_ok(chrome, std::chrono::seconds(120)).out;
  }
  INFO(doms.substr(0, 4000));
  INFO(daemon.log().substr(0, 20000));
  CHECK(doms.find("done fulfilled,rejected,fulfilled") !=
        std::string::npos);  // the page ran; the no-cors requests were sent
  CHECK(doms.find("cross-origin request from http://127.0.0.1:" + port + " refused") !=
        std::string::npos);  // the form's answer
  HttpClient http("127.0.0.1", daemon.port());
  CHECK(json::parse(http.get("/api/v1/vex?all=1").body).empty());
  // The requests did arrive and were refused (the log names each refusal).
  auto log = daemon.log();
  CHECK(log.find("POST /api/v1/vex -> 403") != std::string::npos);
  CHECK(log.find("OPTIONS /api/v1/vex -> 403") != std::string::npos);
  CHECK(log.find("POST /api/v1/heals/1/approve -> 403") != std::string::npos);
}

TEST_CASE("an IPv4 loopback client of a [::] listener is a loopback client",
          "[integration][http]") {
  Daemon::Options o;
  o.listen = "[::]:0";
  Daemon daemon(o);
  HttpClient http("127.0.0.1", daemon.port());
  // Loopback writes need no credentials while the appliance has no users; a remote one would get
  // 401.
  auto r = http.request("POST", "/api/v1/exceptions", {},
                        json{{"vulnerability", "CVE-2024-0001"},
                             {"product", "apps/app"},
                             {"reason", "test"},
                             {"expires_in_days", 1}}
                            .dump());
  INFO(r.body);
  CHECK(r.status == 201);
}

TEST_CASE("a flood of idle connections does not lock other clients out",
          "[integration][http][hostile]") {
  // Defaults: 1,024 connections in all, 128 per client address. The attacker holds 1,100 idle
  // connections, first from one address (127.0.0.2), then spread over fifty (127.0.2.1-50); the
  // registry's clients connect from 127.0.0.1 and must be served every time.
  Daemon daemon;
  asio::io_context io;
  auto flood = [&](const std::vector<std::string>& sources, std::size_t n) {
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> held;
    for (std::size_t i = 0; i < n; ++i) {
      auto s = std::make_unique<asio::ip::tcp::socket>(io);
      s->open(asio::ip::tcp::v4());
      s->bind({asio::ip::make_address(sources[i % sources.size()]), 0});
      boost::system::error_code ec;
      s->connect({asio::ip::make_address("127.0.0.1"), daemon.port()}, ec);
      REQUIRE_FALSE(ec);
      held.push_back(std::move(s));
    }
    return held;
  };
  auto normal_gets = [&](const std::string& what) {
    int ok = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) {  // a new connection for each
      HttpClient fresh(daemon.host(), daemon.port());
      ok += fresh.get("/v2/").status == 200;
    }
    HttpClient kept(daemon.host(), daemon.port());
    for (int i = 0; i < 50; ++i) ok += kept.get("/v2/").status == 200;
    auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    // A figure for the record, not an assertion on time.
    std::cout << "flood (" << what << "): " << ok << "/100 normal GETs succeeded in " << ms
              << " ms\n";
    return ok;
  };
  std::vector<std::string> spread;
  for (int i = 1; i <= 50; ++i) spread.push_back("127.0.2." + std::to_string(i));
  {
    auto held = flood({"127.0.0.2"}, 1100);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(normal_gets("1,100 idle from one address") == 100);
  }
  {
    auto held = flood(spread, 1100);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(normal_gets("1,100 idle from fifty addresses") == 100);
  }
  auto log = daemon.log();
  CHECK(log.find("connection limits reached") ==
        std::string::npos);  // idle ones made room every time
}
