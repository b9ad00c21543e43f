// airheald as a process: start-up checks, graceful SIGTERM, crash safety, airhealctl.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;

TEST_CASE("port 0 picks a free port and the daemon says which", "[integration][daemon]") {
  Daemon d;
  CHECK(d.port() != 0);
  CHECK_THAT(d.log(), Catch::Contains("listening on http://127.0.0.1:" + std::to_string(d.port())));
  std::ifstream addr(d.state_dir() / "airheald.addr");
  std::string line;
  std::getline(addr, line);
  CHECK(line == "http://127.0.0.1:" + std::to_string(d.port()));
}

TEST_CASE("SIGTERM stops the daemon gracefully", "[integration][daemon]") {
  Daemon d;
  HttpClient c(d.host(), d.port());
  CHECK(c.get("/v2/").status == 200);  // leaves an idle keep-alive connection open
  CHECK(d.stop(SIGTERM) == 0);
  CHECK_THAT(d.log(), Catch::Contains("airheald stopped"));
}

TEST_CASE("an unusable state directory is refused with a precise message",
          "[integration][daemon]") {
  TempDir dir;
  std::ofstream(dir / "not-a-dir") << "x";
  auto r = run({airheald_path().string(), "--state-dir", (dir / "not-a-dir").string(), "--listen",
                "127.0.0.1:0"},
               std::chrono::seconds(20));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("cannot use state directory") && Catch::Contains("not-a-dir"));

  Daemon first;
  auto second = run({airheald_path().string(), "--state-dir", first.state_dir().string(),
                     "--listen", "127.0.0.1:0"},
                    std::chrono::seconds(20));
  CHECK(second.exit_code == 2);
  CHECK_THAT(second.err, Catch::Contains("another airheald already holds"));

  std::ofstream(dir / "bad.yaml") << "registry:\n  delete: yes\n";
  auto bad = run({airheald_path().string(), "--config", (dir / "bad.yaml").string()},
                 std::chrono::seconds(20));
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("bad.yaml:2") && Catch::Contains("registry.delete"));
}

TEST_CASE("a killed daemon loses nothing that was acknowledged", "[integration][daemon]") {
  TempDir state;
  std::string digest;
  {
    Daemon d(Daemon::Options{.state_dir = state / "s", .config_yaml = {}, .extra_args = {}});
    HttpClient c(d.host(), d.port());
    auto data = random_bytes(1 << 20, 2);
    REQUIRE(
        c.request("POST", "/v2/r/blobs/uploads/?digest=" + sha256_digest(data), {}, data).status ==
        201);
    digest = sha256_digest(data);
    auto loc = c.request("POST", "/v2/r/blobs/uploads/").header("location");
    REQUIRE(c.request("PATCH", loc, {{"Content-Range", "0-4"}}, "12345").status == 202);
    // Kill it in the middle of another upload.
    std::string raw = "PATCH " + loc + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" +
                      std::string(1000, 'z');
    send_raw_and_close(d.host(), d.port(), raw);
    d.stop(SIGKILL);
  }
  Daemon d(Daemon::Options{.state_dir = state / "s", .config_yaml = {}, .extra_args = {}});
  HttpClient c(d.host(), d.port());
  CHECK(c.get("/v2/r/blobs/" + digest).body == random_bytes(1 << 20, 2));
  auto check =
      run({airhealctl_path().string(), "--state-dir", (state / "s").string(), "store", "check"});
  INFO(check.out);
  CHECK(check.exit_code == 0);
}

TEST_CASE("airhealctl works with and without the daemon", "[integration][daemon][cli]") {
  TempDir state;
  auto ctl = [&](std::vector<std::string> args, std::optional<std::string> input = std::nullopt) {
    std::vector<std::string> argv = {airhealctl_path().string(), "--state-dir",
                                     (state / "s").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, std::chrono::seconds(60), input);
  };
  CHECK(ctl({"status"}).exit_code == 2);  // nothing there yet
  {
    Daemon d(Daemon::Options{.state_dir = state / "s", .config_yaml = {}, .extra_args = {}});
    HttpClient c(d.host(), d.port());
    REQUIRE(c.request("POST", "/v2/kept/blobs/uploads/?digest=" + sha256_digest("{}"), {}, "{}")
                .status == 201);
    json m = {{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
              {"config",
               {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                {"digest", sha256_digest("{}")},
                {"size", 2}}},
              {"layers", json::array()}};
    REQUIRE(c.request("PUT", "/v2/kept/manifests/v1",
                      {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, m.dump())
                .status == 201);
    REQUIRE(c.request("POST", "/v2/junk/blobs/uploads/?digest=" + sha256_digest("junk"), {}, "junk")
                .status == 201);
    auto st = ctl({"status"});
    CHECK(st.exit_code == 0);
    CHECK_THAT(st.out, Catch::Contains("serving on http://127.0.0.1:" + std::to_string(d.port())) &&
                           Catch::Contains("kept (v1)"));
    // gc while serving: dry run first, then for real (grace 0 so the fresh junk qualifies).
    auto dry = ctl({"registry", "gc", "--grace", "0"});
    CHECK_THAT(dry.out, Catch::Contains("would remove blob " + sha256_digest("junk")) &&
                            Catch::Contains("dry run"));
    CHECK(c.get("/v2/junk/blobs/" + sha256_digest("junk")).status == 200);
    auto real = ctl({"--json", "registry", "gc", "--grace", "0", "--apply"});
    CHECK(json::parse(real.out)["blobs_removed"] == json({sha256_digest("junk")}));
    CHECK(c.get("/v2/junk/blobs/" + sha256_digest("junk")).status == 404);
    CHECK(c.get("/v2/kept/manifests/v1").status == 200);
    CHECK(d.stop(SIGTERM) == 0);
  }
  auto st = ctl({"status"});
  CHECK_THAT(st.out, Catch::Contains("not running"));
  CHECK(ctl({"store", "check"}).exit_code == 0);
  // --json (and the other global options) may follow the subcommand, as users type them; the
  // output is the same as with --json first.
  auto before = ctl({"--json", "store", "check"});
  auto after = ctl({"store", "check", "--json"});
  REQUIRE(after.exit_code == 0);
  CHECK(json::parse(after.out) == json::parse(before.out));
  CHECK(json::parse(after.out)["ok"] == true);
  CHECK(ctl({"registry", "gc", "--json"}).out.front() == '{');
  CHECK(ctl({"user", "add", "ci"}, std::string("short\n")).exit_code == 2);
  CHECK(ctl({"user", "add", "ci"}, std::string("long-enough-password\n")).exit_code == 0);
  CHECK(ctl({"user", "list"}).out ==
        "ci  pull=*;push=;delete=;roles=viewer\n");  // pull-only unless given more
}
