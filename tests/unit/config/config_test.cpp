#include "config/config.hpp"

#include <catch2/catch.hpp>

using namespace airheal;

TEST_CASE("the embedded default document parses to the built-in defaults", "[config]") {
  auto c = config::parse_yaml(config::kDefaultConfigYaml, "defaults");
  REQUIRE(c);
  config::Config d;
  CHECK(c->state_dir == d.state_dir);
  CHECK(c->listen_host == d.listen_host);
  CHECK(c->listen_port == d.listen_port);
  CHECK(c->http.read_timeout == d.http.read_timeout);
  CHECK(c->http.idle_timeout == d.http.idle_timeout);
  CHECK(c->http.max_header_bytes == d.http.max_header_bytes);
  CHECK(c->registry.max_manifest_bytes == d.registry.max_manifest_bytes);
  CHECK(c->auth.anonymous_pull == d.auth.anonymous_pull);
  CHECK(c->auth.loopback_push_without_credentials == d.auth.loopback_push_without_credentials);
  CHECK(c->gc.grace_period == d.gc.grace_period);
  CHECK(c->gc.upload_max_age == d.gc.upload_max_age);
}

TEST_CASE("configuration values override defaults", "[config]") {
  auto c = config::parse_yaml(
      "listen: '[::1]:0'\nregistry:\n  read_only: true\ngc:\n  grace_period: 5m\n", "t");
  REQUIRE(c);
  CHECK(c->listen_host == "::1");
  CHECK(c->listen_port == 0);
  CHECK(c->registry.read_only);
  CHECK(c->gc.grace_period == std::chrono::minutes(5));
}

TEST_CASE("configuration mistakes are reported with file and line", "[config]") {
  auto err = [](const char* text) {
    auto c = config::parse_yaml(text, "airheal.yaml");
    REQUIRE_FALSE(c);
    return c.error().message;
  };
  CHECK_THAT(err("listne: 1\n"),
             Catch::Contains("airheal.yaml:1") && Catch::Contains("unknown key"));
  CHECK_THAT(err("http:\n  read_timeout: soon\n"), Catch::Contains("http.read_timeout"));
  CHECK_THAT(err("listen: nowhere\n"), Catch::Contains("HOST:PORT"));
  CHECK_THAT(err("listen: 1.2.3.4:70000\n"), Catch::Contains("0 to 65535"));
  CHECK_THAT(err("tls:\n  certificate: /x.pem\n"), Catch::Contains("set together"));
  CHECK_THAT(err("registry:\n  read_only: maybe\n"), Catch::Contains("wrong type"));
  CHECK_THAT(err("log_level: loud\n"), Catch::Contains("log_level"));
  CHECK_THAT(err("a: [\n"), Catch::Contains("not valid YAML"));
}

TEST_CASE("durations", "[config]") {
  CHECK(*config::parse_duration("90") == std::chrono::seconds(90));
  CHECK(*config::parse_duration("2h") == std::chrono::hours(2));
  CHECK(*config::parse_duration("3d") == std::chrono::hours(72));
  CHECK_FALSE(config::parse_duration("h"));
  CHECK_FALSE(config::parse_duration("5w"));
}

TEST_CASE("heal rules: first match wins, modes are checked, tests are argument vectors",
          "[config][heal]") {
  auto c = config::parse_yaml(R"(heal:
  default_mode: advisory
  rules:
    - {repository: "apps/*", mode: continuous, test: ["/app/selftest", "--quick"]}
    - {repository: "apps/legacy"}
)",
                              "t");
  REQUIRE(c);
  CHECK(c->heal_rule("apps/web").mode == "continuous");
  CHECK(c->heal_rule("apps/web").test == std::vector<std::string>{"/app/selftest", "--quick"});
  CHECK(c->heal_rule("apps/legacy").mode == "continuous");  // the glob matched first
  CHECK(c->heal_rule("other/x").mode == "advisory");
  CHECK(c->heal_rule("other/x").test.empty());
  auto bad = config::parse_yaml("heal:\n  rules:\n    - {repository: \"a/*\", mode: yolo}\n",
                                "airheal.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("airheal.yaml:3") != std::string::npos);
  CHECK(bad.error().message.find("mode") != std::string::npos);
  CHECK_FALSE(config::parse_yaml("heal:\n  rules:\n    - {mode: continuous}\n", "t"));
  CHECK_FALSE(config::parse_yaml("heal:\n  default_mode: sometimes\n", "t"));
  CHECK_FALSE(config::parse_yaml("heal:\n  rules:\n    - {repository: x, shell: true}\n", "t"));
}

TEST_CASE("heal gates, canaries and webhooks are configured and checked", "[config][heal]") {
  auto c = config::parse_yaml(R"(heal:
  concurrency: 2
  smoke_timeout: 10s
  max_size_growth: 0.1
  defer_days: 0
  attest: false
  reuse_layers: false
  webhooks: ["http://10.0.0.9:8080/airheal"]
  rules:
    - {repository: "apps/*", mode: continuous, canary: ["/app/health"]}
)",
                              "airheal.yaml");
  REQUIRE(c);
  CHECK(c->heal.concurrency == 2);
  CHECK(c->heal.smoke_timeout == std::chrono::seconds(10));
  CHECK(c->heal.max_size_growth == Approx(0.1));
  CHECK_FALSE(c->heal.attest);
  CHECK_FALSE(c->heal.reuse_layers);
  CHECK(c->heal.webhooks == std::vector<std::string>{"http://10.0.0.9:8080/airheal"});
  CHECK(c->heal_rule("apps/x").canary == std::vector<std::string>{"/app/health"});
  CHECK(config::parse_yaml("", "t")->heal.concurrency == 1);
  auto https = config::parse_yaml("heal:\n  webhooks: [\"https://x/\"]\n", "airheal.yaml");
  REQUIRE_FALSE(https);
  CHECK(https.error().message.find("must be an http:// URL") != std::string::npos);
  CHECK_FALSE(config::parse_yaml("heal:\n  concurrency: 0\n", "t"));
  CHECK_FALSE(config::parse_yaml("heal:\n  max_size_growth: 0\n", "t"));
  // Only people accept risk: the retired machine exceptions cannot be switched back on.
  auto defer = config::parse_yaml("heal:\n  defer_days: 14\n", "t");
  REQUIRE_FALSE(defer);
  CHECK(defer.error().message.find("only people accept risk") != std::string::npos);
  CHECK(config::parse_yaml("", "t")->heal.unsigned_packages.empty());
  CHECK(config::parse_yaml("heal:\n  unsigned_packages: [alpine, site-builds]\n", "t")
            ->heal.unsigned_packages == std::vector<std::string>{"alpine", "site-builds"});
}
