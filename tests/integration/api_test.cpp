// The operations surface on a real daemon: the REST API driven by a real HTTP client, /metrics
// parsed as Prometheus text, and the dashboard rendered by headless Chromium (its DOM after the
// scripts ran, a screenshot read back by OCR), every number checked against the API.
#include <catch2/catch.hpp>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "core/fs.hpp"
#include "support/chromium.hpp"
#include "support/scan_fixtures.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {
// One Prometheus sample's value ("name{labels} value" lines), or -1.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}
}  // namespace

TEST_CASE("REST API, metrics and dashboard agree on a real heal, and approve from the API works",
          "[integration][api]") {
  TempDir tmp;
  Daemon daemon(Daemon::Options{tmp / "state", "scan:\n  poll_interval: 1s\n", {}});
  auto state = daemon.state_dir();
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    return run_ok(args);
  };
  Signer signer(tmp / "gpg", "Go mirror");
  import_greeter_gold(tmp.path(), daemon.address(), state, {"apps/greeter:1", "apps/other:1"},
                      signer, false);

  HttpClient http("127.0.0.1", daemon.port());
  auto get = [&](const std::string& target) {
    auto r = http.get(target);
    INFO(target << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  };
  json heals;
  for (int i = 0; i < 300; ++i) {
    heals = get("/api/v1/heals?state=staged");
    if (heals.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  INFO(daemon.log().substr(0, 20000));
  REQUIRE(heals.size() == 2);
  auto status = get("/api/v1/status");
  CHECK(status["watched_images"] == 2);
  CHECK(status["heals_by_state"]["staged"] == 2);
  CHECK(status["findings_by_severity"]["high"] == 2);
  CHECK(status["snapshots"][0]["channel"] == "go");
  CHECK(get("/api/v1/findings?image=apps/greeter:1")[0]["advisory"] == "GO-2026-9001");
  CHECK(get("/api/v1/snapshots")[0]["signers"][0] == signer.fingerprint());
  CHECK(get("/api/v1/audit")["intact"] == true);
  CHECK(http.get("/api/v1/heals/999999").status == 404);
  CHECK(http.get("/api/v1/nothing").status == 404);

  // Writes: an exception made and revoked through the API (journalled), a heal approved.
  auto made = http.request(
      "POST", "/api/v1/exceptions", {{"Content-Type", "application/json"}},
      R"({"vulnerability": "GO-2026-9001", "product": "apps/other", "reason": "reviewed", "expires_in_days": 5, "by": "carol"})");
  INFO(made.body);
  REQUIRE(made.status == 201);
  // A body cannot name who acts: the record says who the request came from.
  CHECK(json::parse(made.body)["created_by"] == "loopback");
  CHECK(http.request("POST", "/api/v1/exceptions", {{"Content-Type", "application/json"}},
                     "{\"vulnerability\": 1}")
            .status == 400);
  std::int64_t greeter = 0;
  for (const auto& h : heals)
    if (h["repository"] == "apps/greeter") greeter = h["id"];
  auto approved = http.request("POST", "/api/v1/heals/" + std::to_string(greeter) + "/approve");
  CHECK(approved.status == 202);
  json h;
  for (int i = 0; i < 120; ++i) {
    h = get("/api/v1/heals/" + std::to_string(greeter));
    if (h["state"] == "promoted") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  CHECK(h["state"] == "promoted");
  CHECK(http.request("POST", "/api/v1/heals/" + std::to_string(greeter) + "/approve").status ==
        409);
  auto promoted = get("/api/v1/promotions");
  REQUIRE(promoted.size() == 1);
  CHECK(promoted[0]["pinned"] == "apps/greeter@" + h["staged"].get<std::string>());
  auto journal = ctl({"--json", "journal"}).out;
  CHECK(journal.find("\"actor\":\"api:loopback\"") != std::string::npos);

  // Metrics agree with the API.
  status = get("/api/v1/status");
  auto mr = http.get("/metrics");
  REQUIRE(mr.status == 200);
  auto& m = mr.body;
  INFO(m);
  CHECK(sample(m, "airheal_watched_images") == 2);
  CHECK(sample(m, "airheal_heals{state=\"promoted\"}") ==
        status["heals_by_state"]["promoted"].get<double>());
  CHECK(sample(m, "airheal_heals{state=\"staged\"}") ==
        status["heals_by_state"]["staged"].get<double>());
  CHECK(sample(m, "airheal_findings{severity=\"high\"}") ==
        status["findings_by_severity"]["high"].get<double>());
  CHECK(sample(m, "airheal_time_to_stage_seconds_count") == 2);
  CHECK(sample(m, "airheal_open_exceptions") == status["open_exceptions"].get<double>());
  CHECK(sample(m, "airheal_snapshot_age_seconds{channel=\"go\"}") >= 0);
  CHECK(sample(m, "airheal_http_requests_total{method=\"GET\",code=\"2xx\"}") > 5);
  CHECK(sample(m, "airheal_http_request_duration_seconds_count") > 5);
  // Build durations: one per heal built, in the API and as a histogram in the metrics.
  CHECK(status["builds"]["count"] == 2);
  CHECK(sample(m, "airheal_build_duration_seconds_count") == 2);
  CHECK(sample(m, "airheal_build_duration_seconds_bucket{le=\"+Inf\"}") == 2);

  // The dashboard: rendered by Chromium from the daemon alone; its numbers are the API's.
  if (!have_program("chromium") || !have_program("tesseract"))
    FAIL("chromium and tesseract-ocr are needed (scripts/setup.sh installs them)");
  auto page = http.get("/dashboard");
  REQUIRE(page.status == 200);
  CHECK(page.body.find("http://") == std::string::npos);
  CHECK(page.body.find("https://") == std::string::npos);
  auto url = "http://" + daemon.address() + "/dashboard";
  auto chrome = headless_chromium(tmp / "chromium",
                                  {"--window-size=1400,1500", "--virtual-time-budget=8000"});
  auto dom_args = chrome;
  dom_args.insert(dom_args.end(), {"--dump-dom", url});
  auto dom = run_ok(dom_args, std::chrono::seconds(120)).out;
  status = get("/api/v1/status");
  auto value = [&](const std::string& id) {
    std::smatch mm;
    std::regex re("id=\"" + id + "\">([^<]*)<");
    return std::regex_search(dom, mm, re) ? mm[1].str() : std::string("(absent)");
  };
  INFO(dom.substr(0, 6000));
  CHECK(dom.find("data-loaded=\"1\"") != std::string::npos);
  CHECK(value("watched") == std::to_string(status["watched_images"].get<int>()));
  CHECK(value("sev-high") == std::to_string(status["findings_by_severity"]["high"].get<int>()));
  CHECK(value("heals-staged") == std::to_string(status["heals_by_state"]["staged"].get<int>()));
  CHECK(value("heals-promoted") == std::to_string(status["heals_by_state"]["promoted"].get<int>()));
  CHECK(value("rollbacks") == std::to_string(status["rollbacks"].get<int>()));
  CHECK(dom.find("apps/greeter:1") != std::string::npos);
  CHECK(dom.find(">Approve</button>") != std::string::npos);
  CHECK(dom.find(">Roll back</button>") != std::string::npos);
  auto shot_args = chrome;
  shot_args.insert(shot_args.end(), {"--screenshot=" + (tmp / "dashboard.png").string(), url});
  run_ok(shot_args, std::chrono::seconds(120));
  if (const char* keep = std::getenv("AIRHEAL_KEEP_DASHBOARD"))
    fsys::copy_file(tmp / "dashboard.png", keep, fsys::copy_options::overwrite_existing);
  auto ocr = run_ok({"tesseract", (tmp / "dashboard.png").string(), "-"}).out;
  INFO(ocr);
  for (auto word :
       {"airheal appliance", "watched images", "promoted", "apps/greeter:1", "Snapshots"})
    CHECK(ocr.find(word) != std::string::npos);
  // airhealctl goes through the API while the daemon serves plain HTTP: a hold, with its reason.
  std::string other;
  for (const auto& hh : heals)
    if (hh["repository"] == "apps/other") other = std::to_string(hh["id"].get<std::int64_t>());
  auto held = run({airhealctl_path().string(), "--state-dir", state.string(), "heal", "hold", other,
                   "--reason", "waiting for the change window"});
  INFO(held.out << held.err);
  CHECK(held.exit_code == 0);
  // Over the daemon's local socket: the kernel names the caller (root, mapped to airheal's root).
  CHECK(held.err.find("hold of heal " + other + " sent to airheald at " +
                      (state / "airheald.sock").string()) != std::string::npos);
  auto hh = get("/api/v1/heals/" + other);
  CHECK(hh["state"] == "held");
  CHECK(hh["reason"] == "held by root: waiting for the change window");
  CHECK(http.request("POST", "/api/v1/heals/" + other + "/hold").status == 409);

  // Evidence over the API: the signed bundle is the response body; the auditor's tool verifies it.
  char today[16];
  auto tnow = std::time(nullptr);
  std::strftime(today, sizeof today, "%Y-%m-%d", std::gmtime(&tnow));
  auto ev = http.request("POST", std::string("/api/v1/evidence?from=") + today + "&to=" + today);
  REQUIRE(ev.status == 200);
  CHECK(ev.header("content-type") == "application/x-tar");
  REQUIRE(fs::write_file_atomic(tmp / "api-evidence.tar", ev.body));
  auto verified =
      run({airheal_evidence_path().string(), "verify", (tmp / "api-evidence.tar").string(), "--key",
           ev.header("x-airheal-evidence-key")});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  CHECK(http.request("POST", "/api/v1/evidence?from=someday&to=2026-01-01").status == 400);
  daemon.stop();
  run({"gpgconf", "--homedir", (state / "trust" / "gnupg").string(), "--kill", "all"});
  run({"gpgconf", "--homedir", (state / "keys" / "gnupg").string(), "--kill", "all"});
}
