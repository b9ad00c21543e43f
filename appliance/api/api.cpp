#include "api/api.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <cmath>
#include <fstream>
#include <regex>

#include "audit/checkpoint.hpp"
#include "audit/journal.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "evidence/evidence.hpp"
#include "evidence/needs.hpp"
#include "heal/heal_repository.hpp"
#include "heal/webhooks.hpp"
#include "scan/inventory_repository.hpp"
#include "scan/sbom.hpp"
#include "scan/vex.hpp"
#include "scan/vex_repository.hpp"
#include "snapshot/snapshot_repository.hpp"
#include "store/catalog.hpp"

namespace airheal::api {

namespace {

// API request bodies: small JSON objects (1 MiB is the documented bound, enforced by the server
// too).
constexpr JsonLimits kBodyLimits{1u << 20, 16, false};

std::atomic<unsigned> evidence_requests{0};  // distinct temporary file names for concurrent exports
}  // namespace
namespace http = registry::http;
using nlohmann::json;
using registry::Prepared;
using registry::Response;

namespace {

Response json_response(http::status s, const json& body) {
  Response r;
  r.status = s;
  r.body = body.dump(2) + "\n";
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response problem(http::status s, const std::string& message) {
  return json_response(s, {{"error", message}});
}

Prepared now(Response r) {
  Prepared p;
  p.response = std::move(r);
  return p;
}

// A small JSON body, collected then handed to the handler.
class Collect : public registry::BodyConsumer {
 public:
  Collect(std::function<Response(const std::string&)> done, std::size_t limit)
      : done_(std::move(done)), limit_(limit) {}
  std::optional<Response> write(const char* data, std::size_t size) override {
    if (size > limit_ - body_.size()) {
      auto r = problem(http::status::payload_too_large,
                       "the request body is larger than " + std::to_string(limit_) + " bytes");
      r.close = true;
      return r;
    }
    body_.append(data, size);
    return std::nullopt;
  }
  Response finish() override { return done_(body_); }

 private:
  std::function<Response(const std::string&)> done_;
  std::size_t limit_;
  std::string body_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

constexpr double kTimeToHealBuckets[] = {60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};
constexpr double kBuildBuckets[] = {5, 15, 30, 60, 120, 300, 600, 1800};

}  // namespace

json status_document(store::Store& store, const std::vector<heal::HealRecord>& heals,
                     std::int64_t now) {
  json images = json::array();
  json severity = {{"critical", 0}, {"high", 0},       {"medium", 0},
                   {"low", 0},      {"negligible", 0}, {"unknown", 0}};
  json snapshots = json::array();
  json exceptions = json::array();
  std::size_t open_exceptions = 0;
  std::vector<double> builds;
  store.read([&](sqlite::Connection& c) {
    for (const auto& t : store::served_tags(c)) {
      scan::FindingsQuery q;
      q.manifests = {t.digest};
      auto fs = scan::list_findings(c, q, now);
      json sev = json::object();
      for (const auto& f : fs) {
        auto s = f.value("severity", "unknown");
        sev[s] = sev.value(s, 0) + 1;
        severity[s] = severity.value(s, 0) + 1;
      }
      images.push_back({{"image", t.repository + ":" + t.tag},
                        {"repository", t.repository},
                        {"tag", t.tag},
                        {"digest", t.digest},
                        {"scanned", scan::InventoryRepository::scanned_at(c, t.digest).has_value()},
                        {"findings", fs.size()},
                        {"severity", sev}});
    }
    for (const auto& ch : snapshot::SnapshotRepository::channels(c))
      snapshots.push_back({{"channel", ch.channel},
                           {"sequence", ch.sequence},
                           {"imported", scan::rfc3339(ch.imported_at)},
                           {"age_seconds", now - ch.imported_at},
                           {"expires", scan::rfc3339(ch.expires_at)},
                           {"expires_in_seconds", ch.expires_at - now}});
    // Build durations: from a heal entering "building" to its next state (verifying, failed, held).
    builds = heal::HealRepository::build_durations(c);
    for (const auto& e : scan::list_exceptions(c, false, now)) {
      ++open_exceptions;
      auto j = scan::to_json(e, now);
      j["expires_in_seconds"] = e.expires_at - now;
      exceptions.push_back(std::move(j));
    }
  });
  std::sort(exceptions.begin(), exceptions.end(), [](const json& a, const json& b) {
    return a["expires_in_seconds"].get<std::int64_t>() <
           b["expires_in_seconds"].get<std::int64_t>();
  });
  json states = json::object();
  for (auto s : heal::kHealStates) states[heal::to_string(s)] = 0;
  std::vector<double> tts, from_publication, from_fix;
  std::size_t rollbacks = 0, promotions = 0;
  json recent = json::array();
  for (const auto& h : heals) {
    states[heal::to_string(h.state)] = states.value(heal::to_string(h.state), 0) + 1;
    auto j = h.to_json();
    if (j.contains("time_to_stage_seconds"))
      tts.push_back(j["time_to_stage_seconds"].get<double>());
    if (h.state == heal::HealState::promoted && j.contains("time_to_promote_seconds"))
      from_fix.push_back(j["time_to_promote_seconds"].get<double>());
    if (h.state == heal::HealState::promoted && j.contains("time_from_publication_seconds"))
      from_publication.push_back(j["time_from_publication_seconds"].get<double>());
    if (h.state == heal::HealState::rolled_back) ++rollbacks;
    if (h.state == heal::HealState::promoted || h.state == heal::HealState::rolled_back)
      ++promotions;
    if (recent.size() < 50)
      recent.push_back({{"id", h.id},
                        {"image", h.repository + ":" + h.tag},
                        {"state", heal::to_string(h.state)},
                        {"strategy", h.strategy},
                        {"mode", h.mode},
                        {"reason", h.reason},
                        {"failure", h.failure},
                        {"staged_tag", h.staged_tag},
                        {"updated", scan::rfc3339(h.updated_at)},
                        {"time_to_stage_seconds", j.value("time_to_stage_seconds", json())}});
  }
  json histogram = json::array();
  for (std::size_t i = 0; i <= std::size(kTimeToHealBuckets); ++i) {
    double lo = i ? kTimeToHealBuckets[i - 1] : 0,
           hi = i < std::size(kTimeToHealBuckets) ? kTimeToHealBuckets[i] : -1;
    std::size_t n = 0;
    for (double t : tts)
      if (t > lo && (hi < 0 || t <= hi)) ++n;
    if (i == 0)
      for (double t : tts)
        if (t <= 0) ++n;
    histogram.push_back({{"le", hi < 0 ? json("+Inf") : json(hi)}, {"count", n}});
  }
  return {{"time", scan::rfc3339(now)},
          {"images", images},
          {"watched_images", images.size()},
          {"findings_by_severity", severity},
          {"heals_by_state", states},
          {"heals", recent},
          {"time_to_stage",
           {{"count", tts.size()},
            {"median_seconds", tts.empty() ? json() : json(percentile(tts, 0.5))},
            {"p95_seconds", tts.empty() ? json() : json(percentile(tts, 0.95))},
            {"histogram", histogram}}},
          // Time to heal to production, over promoted heals: from the publication of the oldest
          // vulnerability a heal removes (where its advisory gives a date), and from the import
          // of the fix.
          {"time_to_heal",
           {{"from_publication",
             {{"count", from_publication.size()},
              {"median_seconds",
               from_publication.empty() ? json() : json(percentile(from_publication, 0.5))},
              {"p95_seconds",
               from_publication.empty() ? json() : json(percentile(from_publication, 0.95))}}},
            {"from_fix_import",
             {{"count", from_fix.size()},
              {"median_seconds", from_fix.empty() ? json() : json(percentile(from_fix, 0.5))},
              {"p95_seconds", from_fix.empty() ? json() : json(percentile(from_fix, 0.95))}}}}},
          {"builds",
           {{"count", builds.size()},
            {"median_seconds", builds.empty() ? json() : json(percentile(builds, 0.5))},
            {"p95_seconds", builds.empty() ? json() : json(percentile(builds, 0.95))},
            {"seconds", builds}}},
          {"rollbacks", rollbacks},
          {"rollback_rate",
           promotions ? static_cast<double>(rollbacks) / static_cast<double>(promotions) : 0.0},
          {"snapshots", snapshots},
          {"open_exceptions", open_exceptions},
          {"exceptions", exceptions}};
}

std::string metrics_text(const json& s, const std::vector<heal::HealRecord>& heals,
                         const registry::RequestStats* http_stats) {
  std::string m;
  m += "# HELP airheal_watched_images Tagged images the appliance serves and watches.\n# TYPE "
       "airheal_watched_images gauge\n";
  m += "airheal_watched_images " + std::to_string(s["watched_images"].get<std::size_t>()) + "\n";
  m += "# HELP airheal_findings Open findings (VEX and exceptions applied) in served images, by "
       "severity.\n# TYPE airheal_findings gauge\n";
  for (auto it = s["findings_by_severity"].begin(); it != s["findings_by_severity"].end(); ++it)
    m += "airheal_findings{severity=\"" + label(it.key()) + "\"} " + it.value().dump() + "\n";
  m += "# HELP airheal_heals Heals by state.\n# TYPE airheal_heals gauge\n";
  for (auto it = s["heals_by_state"].begin(); it != s["heals_by_state"].end(); ++it)
    m += "airheal_heals{state=\"" + label(it.key()) + "\"} " + it.value().dump() + "\n";
  m += "# HELP airheal_rollbacks Heals rolled back (by hand or by a failed canary).\n# TYPE "
       "airheal_rollbacks gauge\n";
  m += "airheal_rollbacks " + s["rollbacks"].dump() + "\n";
  // Time to heal: from the import of the fix to staging, as a histogram over every heal.
  std::vector<double> tts, builds;
  for (const auto& h : heals) {
    auto j = h.to_json();
    if (j.contains("time_to_stage_seconds"))
      tts.push_back(j["time_to_stage_seconds"].get<double>());
  }
  auto histogram = [&](const std::string& name, const std::string& help,
                       const std::vector<double>& v, const double* b, std::size_t nb) {
    m += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
    double sum = 0;
    for (double x : v) sum += x;
    for (std::size_t i = 0; i < nb; ++i) {
      std::size_t n = 0;
      for (double x : v) n += x <= b[i];
      char le[32];
      std::snprintf(le, sizeof le, "%g", b[i]);
      m += name + "_bucket{le=\"" + le + "\"} " + std::to_string(n) + "\n";
    }
    m += name + "_bucket{le=\"+Inf\"} " + std::to_string(v.size()) + "\n";
    char sb[64];
    std::snprintf(sb, sizeof sb, "%.3f", sum);
    m += name + "_sum " + sb + "\n" + name + "_count " + std::to_string(v.size()) + "\n";
  };
  histogram("airheal_time_to_stage_seconds",
            "Seconds from the import of a fix to the healed image staged.", tts, kTimeToHealBuckets,
            std::size(kTimeToHealBuckets));
  for (const auto& b : s["builds"]["seconds"]) builds.push_back(b.get<double>());
  histogram("airheal_build_duration_seconds",
            "Seconds each heal spent building (buildah, no network) before verification.", builds,
            kBuildBuckets, std::size(kBuildBuckets));
  m += "# HELP airheal_snapshot_age_seconds Seconds since the newest snapshot of each channel was "
       "imported.\n"
       "# TYPE airheal_snapshot_age_seconds gauge\n";
  for (const auto& c : s["snapshots"])
    m += "airheal_snapshot_age_seconds{channel=\"" + label(c["channel"].get<std::string>()) +
         "\"} " + c["age_seconds"].dump() + "\n";
  m += "# HELP airheal_snapshot_expires_in_seconds Seconds until the newest snapshot of each "
       "channel expires.\n"
       "# TYPE airheal_snapshot_expires_in_seconds gauge\n";
  for (const auto& c : s["snapshots"])
    m += "airheal_snapshot_expires_in_seconds{channel=\"" + label(c["channel"].get<std::string>()) +
         "\"} " + c["expires_in_seconds"].dump() + "\n";
  m += "# HELP airheal_open_exceptions Risk exceptions in force.\n# TYPE airheal_open_exceptions "
       "gauge\n";
  m += "airheal_open_exceptions " + s["open_exceptions"].dump() + "\n";
  if (http_stats) {
    m += "# HELP airheal_http_requests_total HTTP requests answered (registry, API, metrics), by "
         "method and status class.\n"
         "# TYPE airheal_http_requests_total counter\n";
    const char* classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (std::size_t i = 0; i < 7; ++i)
      for (std::size_t c = 0; c < 5; ++c)
        if (auto n = http_stats->by_method_class[i][c].load())
          m += std::string("airheal_http_requests_total{method=\"") +
               registry::RequestStats::kMethods[i] + "\",code=\"" + classes[c] + "\"} " +
               std::to_string(n) + "\n";
    m += "# HELP airheal_http_request_duration_seconds Time to answer a request.\n# TYPE "
         "airheal_http_request_duration_seconds histogram\n";
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < 10; ++i) {
      cum += http_stats->latency[i].load();
      char le[32];
      std::snprintf(le, sizeof le, "%g", registry::RequestStats::kBuckets[i]);
      m += std::string("airheal_http_request_duration_seconds_bucket{le=\"") + le + "\"} " +
           std::to_string(cum) + "\n";
    }
    cum += http_stats->latency[10].load();
    m += "airheal_http_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.6f",
                  static_cast<double>(http_stats->latency_sum_us.load()) / 1e6);
    m += std::string("airheal_http_request_duration_seconds_sum ") + sum + "\n";
    m += "airheal_http_request_duration_seconds_count " + std::to_string(cum) + "\n";
  }
  return m;
}

Api::Api(store::Store& store, heal::Engine* engine, std::filesystem::path state_dir,
         std::vector<std::string> server_names)
    : store_(store), engine_(engine), state_dir_(std::move(state_dir)) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  for (auto& n : server_names) server_names_.push_back(lower(n));
  server_names_.push_back("localhost");
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0]) {
    server_names_.push_back(lower(host));
    std::string h(host);
    if (auto dot = h.find('.'); dot != std::string::npos)
      server_names_.push_back(lower(h.substr(0, dot)));
  }
  unsigned char raw[16];
  std::ifstream("/dev/urandom", std::ios::binary).read(reinterpret_cast<char*>(raw), sizeof raw);
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : raw) {
    csrf_token_ += hex[c >> 4];
    csrf_token_ += hex[c & 15];
  }
}

// The host part of a Host header or an Origin's authority, lower case, without port or brackets.
static std::string host_of(std::string_view v) {
  if (auto p = v.find("://"); p != std::string_view::npos) v = v.substr(p + 3);
  if (auto slash = v.find('/'); slash != std::string_view::npos) v = v.substr(0, slash);
  std::string h;
  if (!v.empty() && v.front() == '[') {
    auto end = v.find(']');
    h = std::string(v.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
  } else {
    h = std::string(v.substr(0, v.find(':')));
  }
  std::transform(h.begin(), h.end(), h.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return h;
}

Api::~Api() {
  stopping_ = true;
  std::lock_guard lock(mu_);
  for (auto& t : jobs_)
    if (t.joinable()) t.join();
}

void Api::background(std::function<void()> job) {
  std::lock_guard lock(mu_);
  jobs_.emplace_back([job = std::move(job)] {
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("api job: {}", e.what());
    }
  });
}

bool Api::handles(std::string_view path) const {
  return path == "/metrics" || path == "/dashboard" || path == "/dashboard/" ||
         path.rfind("/api/", 0) == 0;
}

Prepared Api::prepare(const http::request_header<>& head, const std::string& path,
                      const std::multimap<std::string, std::string>& query,
                      const registry::ApiAccess& access) {
  auto method = head.method();
  bool write = method != http::verb::get && method != http::verb::head;
  auto refuse = [&](const std::string& why) {
    auto r = problem(http::status::unauthorized, why);
    if (access.challenge) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"airheal\"");
    return now(std::move(r));
  };
  auto field = [&](auto f) {
    auto v = head[f];
    return std::string(v.data(), v.size());
  };
  // DNS rebinding: a page whose name resolves to this appliance sends its own name as Host.
  {
    auto host = host_of(field(http::field::host));
    boost::system::error_code aec;
    boost::asio::ip::make_address(host, aec);
    bool known =
        !aec || std::find(server_names_.begin(), server_names_.end(), host) != server_names_.end();
    if (!known)
      return now(problem(http::status::misdirected_request,
                         "this appliance does not answer to the host name '" + host.substr(0, 100) +
                             "' (add it to http.server_names in the configuration)"));
  }
  if (write) {
    // Cross-site requests: a browser sends Origin with every write. It must be this appliance's
    // own origin, and the request must carry the token only the dashboard page has.
    auto origin = field(http::field::origin);
    if (!origin.empty()) {
      auto lower = [](std::string v) {
        std::transform(v.begin(), v.end(), v.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return v;
      };
      auto scheme_end = origin.find("://");
      auto authority =
          scheme_end == std::string::npos ? std::string() : lower(origin.substr(scheme_end + 3));
      if (origin == "null" || authority.empty() || authority != lower(field(http::field::host)))
        return now(problem(http::status::forbidden,
                           "cross-origin request from " + origin.substr(0, 100) + " refused"));
      if (field("X-Airheal-CSRF") != csrf_token_)
        return now(problem(
            http::status::forbidden,
            "a browser's change needs the dashboard's X-Airheal-CSRF token; reload the dashboard"));
    }
    // application/json is not a type an HTML form or a "simple" cross-origin request can send.
    auto ct = field(http::field::content_type);
    auto media = ct.substr(0, ct.find(';'));
    while (!media.empty() && media.back() == ' ') media.pop_back();
    std::transform(media.begin(), media.end(), media.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (media != "application/json")
      return now(problem(http::status::unsupported_media_type,
                         "changes need Content-Type: application/json"));
  }
  if (!access.read) return refuse("authentication required");
  if (write && !access.write && !access.write_denied.empty())
    return now(problem(http::status::forbidden, access.write_denied));
  if (write && !access.write)
    return refuse(access.challenge
                      ? "changes need a registry user's credentials (HTTP Basic over TLS)"
                      : "changes are accepted from loopback only until registry users exist "
                        "(airhealctl user add)");
  // A request body is untrusted: a wrong type anywhere is a 400, never a dropped connection.
  auto guarded = [this, method, path, query, access](const std::string& body) {
    try {
      return handle(method, path, query, body, access);
    } catch (const json::exception& e) {
      return problem(http::status::bad_request,
                     std::string("the request does not have the expected form: ") + e.what());
    } catch (const std::exception& e) {
      spdlog::error("api {}: {}", path, e.what());
      return problem(http::status::internal_server_error, "internal error; see the daemon's log");
    }
  };
  if (!write) return now(guarded(""));
  Prepared p;
  p.body_limit = kBodyLimits.max_bytes;
  p.consumer = std::make_unique<Collect>(guarded, kBodyLimits.max_bytes);
  return p;
}

namespace {}  // namespace

// One API request as the route handlers see it.
struct Api::Call {
  http::verb method;
  const std::string& path;
  std::smatch match;  // the route's pattern against the path: match[1] is the first group
  const std::multimap<std::string, std::string>& query;
  const std::string& body;
  const registry::ApiAccess& access;
  std::int64_t now;
  std::string who;  // "api:USER", the audit actor
  std::string q(const std::string& k) const {
    auto it = query.find(k);
    return it == query.end() ? "" : it->second;
  }
  bool flag(const std::string& k) const { return q(k) == "1" || q(k) == "true"; }
};

namespace {
enum class Methods { read, post, remove, any };  // read: GET and HEAD

bool allows(Methods m, http::verb v) {
  switch (m) {
    case Methods::read:
      return v == http::verb::get || v == http::verb::head;
    case Methods::post:
      return v == http::verb::post;
    case Methods::remove:
      return v == http::verb::delete_;
    case Methods::any:
      return true;
  }
  return false;
}

json body_object(const std::string& body, const char* what, bool empty_is_object,
                 std::optional<Response>& refusal) {
  auto parsed = parse_json(body.empty() && empty_is_object ? std::string("{}") : body, kBodyLimits,
                           "the body");
  if (!parsed) {
    refusal = problem(http::status::bad_request, parsed.error().message);
    return {};
  }
  if (!parsed->is_object())
    refusal = problem(http::status::bad_request, std::string("the body must be ") + what);
  return std::move(*parsed);
}

Response no_engine() {
  return problem(http::status::not_found, "healing is disabled on this appliance");
}

// A change needs the role; the refusal names who lacks what.
std::optional<Response> need_role(const registry::ApiAccess& access, const char* role) {
  if (access.has_role(role)) return std::nullopt;
  return problem(http::status::forbidden, "user " + access.user + " does not have the " +
                                              std::string(role) + " role (airhealctl user add " +
                                              access.user + " ... --role " + role + ")");
}
}  // namespace

struct Api::Route {
  Methods methods;
  std::regex pattern;
  std::vector<std::string> shown;  // in the /api/v1 index
  Response (Api::*run)(Call&);
};

// The API is a table of routes: the methods a route answers, the pattern its path must match
// (whole), how /api/v1 lists it, and its handler. A path no route matches is a 404 naming it.
const std::vector<Api::Route>& Api::routes() {
  static const std::vector<Route> table = {
      {Methods::read, std::regex("/api/v1/status"), {"/api/v1/status"}, &Api::route_status},
      {Methods::read, std::regex("/api/v1/images"), {"/api/v1/images"}, &Api::route_images},
      {Methods::read,
       std::regex("/api/v1/findings"),
       {"/api/v1/findings?image=REPO:TAG"},
       &Api::route_findings},
      {Methods::read, std::regex("/api/v1/heals"), {"/api/v1/heals"}, &Api::route_heals},
      {Methods::read,
       std::regex("/api/v1/heals/([0-9]{1,18})"),
       {"/api/v1/heals/ID"},
       &Api::route_heal},
      {Methods::post,
       std::regex("/api/v1/heals/([0-9]{1,18})/(approve|rollback|hold)"),
       {"POST /api/v1/heals/ID/approve", "POST /api/v1/heals/ID/rollback",
        "POST /api/v1/heals/ID/hold"},
       &Api::route_heal_action},
      {Methods::read,
       std::regex("/api/v1/snapshots"),
       {"/api/v1/snapshots"},
       &Api::route_snapshots},
      {Methods::read,
       std::regex("/api/v1/exceptions"),
       {"/api/v1/exceptions"},
       &Api::route_exceptions},
      {Methods::post,
       std::regex("/api/v1/exceptions"),
       {"POST /api/v1/exceptions"},
       &Api::route_add_exception},
      {Methods::remove,
       std::regex("/api/v1/exceptions/([0-9]{1,18})"),
       {"DELETE /api/v1/exceptions/ID"},
       &Api::route_revoke_exception},
      {Methods::read, std::regex("/api/v1/vex"), {"/api/v1/vex"}, &Api::route_vex},
      {Methods::post, std::regex("/api/v1/vex"), {"POST /api/v1/vex"}, &Api::route_add_vex},
      {Methods::remove,
       std::regex("/api/v1/vex/([0-9]{1,18})"),
       {"DELETE /api/v1/vex/ID"},
       &Api::route_withdraw_vex},
      {Methods::read, std::regex("/api/v1/audit"), {"/api/v1/audit"}, &Api::route_audit},
      {Methods::post,
       std::regex("/api/v1/evidence"),
       {"POST /api/v1/evidence?from=DATE&to=DATE"},
       &Api::route_evidence},
      {Methods::read,
       std::regex("/api/v1/promotions"),
       {"/api/v1/promotions"},
       &Api::route_promotions},
      {Methods::read, std::regex("/api/v1/needs"), {"/api/v1/needs?redact=1"}, &Api::route_needs},
      {Methods::read, std::regex("/metrics"), {"/metrics"}, &Api::route_metrics},
      {Methods::read, std::regex("/dashboard/?"), {"/dashboard"}, &Api::route_dashboard},
      {Methods::any, std::regex("/api/v1/?"), {}, &Api::route_index},
  };
  return table;
}

Response Api::handle(http::verb method, const std::string& path,
                     const std::multimap<std::string, std::string>& query, const std::string& body,
                     const registry::ApiAccess& access) {
  // The audit actor: "airhealctl:USER" on the local socket, "api:USER" otherwise.
  Call c{method,
         path,
         {},
         query,
         body,
         access,
         store_.now_seconds(),
         (access.local ? "airhealctl:" : "api:") + access.user};
  for (const auto& r : routes())
    if (allows(r.methods, method) && std::regex_match(path, c.match, r.pattern))
      return (this->*r.run)(c);
  return problem(
      http::status::not_found,
      std::string(method == http::verb::get ? "no such resource: " : "no such operation: ") + path);
}

std::vector<heal::HealRecord> Api::all_heals() {
  return engine_ ? engine_->list() : std::vector<heal::HealRecord>{};
}

void Api::journalled(const Call& c, json rec) {
  rec["actor"] = c.who;
  audit::Journal journal(audit::journal_path(state_dir_));
  if (auto st = journal.append(std::move(rec)); !st)
    spdlog::warn("journal: {}", st.error().message);
}

Response Api::route_status(Call& c) {
  auto doc = status_document(store_, all_heals(), c.now);
  doc["users"] = users_ ? users_() : json::array();
  return json_response(http::status::ok, doc);
}

Response Api::route_images(Call& c) {
  return json_response(http::status::ok, status_document(store_, all_heals(), c.now)["images"]);
}

Response Api::route_findings(Call& c) {
  auto image = c.q("image");
  auto colon = image.rfind(':');
  if (image.empty() || colon == std::string::npos)
    return problem(http::status::bad_request, "give ?image=REPOSITORY:TAG");
  auto m = store_.get_manifest(image.substr(0, colon), image.substr(colon + 1));
  if (!m) return problem(http::status::not_found, image + " is not in this registry");
  json fs;
  store_.read([&](sqlite::Connection& conn) {
    scan::FindingsQuery fq;
    fq.manifests = {m->digest.str()};
    fq.include_suppressed = c.flag("all");
    fs = scan::list_findings(conn, fq, c.now);
  });
  return json_response(http::status::ok, fs);
}

Response Api::route_heals(Call& c) {
  json a = json::array();
  for (const auto& h : all_heals())
    if (c.q("state").empty() || c.q("state") == heal::to_string(h.state)) a.push_back(h.to_json());
  return json_response(http::status::ok, a);
}

Response Api::route_heal(Call& c) {
  if (!engine_) return no_engine();
  auto h = engine_->get(std::stoll(c.match[1]));
  if (!h) return problem(http::status::not_found, "no heal " + std::string(c.match[1]));
  auto j = h->to_json();
  j["events"] = engine_->events(h->id);
  return json_response(http::status::ok, j);
}

Response Api::route_heal_action(Call& c) {
  if (!engine_) return no_engine();
  auto id = std::stoll(c.match[1]);
  auto action = std::string(c.match[2]);
  auto h = engine_->get(id);
  if (!h) return problem(http::status::not_found, "no heal " + std::to_string(id));
  if (action == "approve")  // refused here, before the background promotion, when it cannot succeed
    if (auto ok = engine_->check_approvable(id, c.access.user); !ok)
      return problem(
          ok.error().code == Errc::conflict ? http::status::conflict : http::status::not_found,
          ok.error().message);
  if (action == "rollback" && h->state != heal::HealState::promoted)
    return problem(http::status::conflict, "heal " + std::to_string(id) + " is " +
                                               heal::to_string(h->state) + ", not promoted");
  // Who acts is the authenticated user (credentials, or the local socket's Unix user), with the
  // role the action needs; a body cannot name anyone.
  if (auto no = need_role(c.access, action == "approve" ? "approver" : "operator")) return *no;
  std::optional<Response> refused;
  auto j = body_object(c.body, "a JSON object ({\"reason\"}) or empty", true, refused);
  if (refused) return *refused;
  auto by = c.access.user, actor = c.who;
  if (action == "hold") {  // quick and final: done here, not in the background
    auto r = engine_->hold(id, by, j.value("reason", ""), actor);
    if (!r)
      return problem(
          r.error().code == Errc::conflict ? http::status::conflict : http::status::bad_request,
          r.error().message);
    return json_response(http::status::ok, r->to_json());
  }
  // Promotion runs the canary and rollback rewrites a tag: off the I/O threads.
  auto repo = h->repository, tag = h->tag;
  auto* engine = engine_;
  background([engine, action, id, repo, tag, by, actor] {
    auto r = action == "approve" ? engine->approve(id, by, actor)
                                 : engine->rollback(repo, tag, by, actor);
    if (!r) spdlog::warn("api: {} of heal {}: {}", action, id, r.error().message);
  });
  return json_response(http::status::accepted, {{"heal", id},
                                                {"action", action},
                                                {"by", by},
                                                {"status", "/api/v1/heals/" + std::to_string(id)}});
}

Response Api::route_snapshots(Call&) {
  json a = json::array();
  snapshot::SnapshotQuery q;
  q.newest_first = true;
  for (const auto& r : snapshot::SnapshotRepository(store_).list(q))
    a.push_back(snapshot::to_json(r));
  return json_response(http::status::ok, a);
}

Response Api::route_exceptions(Call& c) {
  json a = json::array();
  store_.read([&](sqlite::Connection& conn) {
    for (const auto& e : scan::list_exceptions(conn, c.flag("all"), c.now))
      a.push_back(scan::to_json(e, c.now));
  });
  return json_response(http::status::ok, a);
}

Response Api::route_add_exception(Call& c) {
  if (auto no = need_role(c.access, "security-admin")) return *no;
  std::optional<Response> refused;
  auto j = body_object(c.body, "a JSON object", false, refused);
  if (refused) return *refused;
  scan::Exception e;
  e.vulnerability = j.value("vulnerability", "");
  e.product = j.value("product", "");
  e.subcomponent = j.value("subcomponent", "");
  e.reason = j.value("reason", "");
  e.created_by = c.access.user;
  // How long: expires_in_days, or an absolute "expires" (RFC 3339), at most ten years ahead.
  auto days = j.value("expires_in_days", 0);
  std::optional<std::int64_t> until;
  if (j.contains("expires") && j["expires"].is_string())
    until = parse_time(j["expires"].get<std::string>());
  else if (days > 0 && days <= 3650)
    until = c.now + static_cast<std::int64_t>(days) * 86400;
  if (e.vulnerability.empty() || e.product.empty() || e.reason.empty() || !until ||
      *until <= c.now || *until > c.now + 3650ll * 86400)
    return problem(http::status::bad_request,
                   "vulnerability, product, reason and expires_in_days (1..3650) or expires (an "
                   "RFC 3339 time within ten years) are required");
  e.expires_at = *until;
  auto made = store_.transaction(
      [&](sqlite::Connection& conn) { return scan::add_exception(conn, e, c.now); });
  if (!made) return problem(http::status::bad_request, made.error().message);
  auto out = scan::to_json(*made, c.now);
  journalled(c, {{"type", "exception.added"}, {"exception", out}});
  return json_response(http::status::created, out);
}

Response Api::route_revoke_exception(Call& c) {
  if (auto no = need_role(c.access, "security-admin")) return *no;
  auto id = std::stoll(c.match[1]);
  auto st = store_.transaction([&](sqlite::Connection& conn) {
    return scan::revoke_exception(conn, id, c.access.user, c.now);
  });
  if (!st)
    return problem(
        st.error().code == Errc::not_found ? http::status::not_found : http::status::bad_request,
        st.error().message);
  journalled(c, {{"type", "exception.revoked"}, {"id", id}, {"by", c.access.user}});
  return json_response(http::status::ok, {{"revoked", id}});
}

Response Api::route_vex(Call& c) {
  json a = json::array();
  store_.read([&](sqlite::Connection& conn) {
    for (const auto& v : scan::list_vex(conn, c.flag("all"))) a.push_back(scan::to_json(v));
  });
  return json_response(http::status::ok, a);
}

Response Api::route_add_vex(Call& c) {
  if (auto no = need_role(c.access, "security-admin")) return *no;
  std::optional<Response> refused;
  auto j = body_object(c.body, "a JSON object", false, refused);
  if (refused) return *refused;
  scan::VexStatement v;
  v.vulnerability = j.value("vulnerability", "");
  v.product = j.value("product", "");
  v.subcomponent = j.value("subcomponent", "");
  v.status = j.value("status", "");
  v.justification = j.value("justification", "");
  v.impact_statement = j.value("impact_statement", "");
  v.action_statement = j.value("action_statement", "");
  v.author = c.access.user;
  auto made =
      store_.transaction([&](sqlite::Connection& conn) { return scan::add_vex(conn, v, c.now); });
  if (!made) return problem(http::status::bad_request, made.error().message);
  journalled(c, {{"type", "vex.added"}, {"statement", scan::to_json(*made)}});
  return json_response(http::status::created, scan::to_json(*made));
}

Response Api::route_withdraw_vex(Call& c) {
  if (auto no = need_role(c.access, "security-admin")) return *no;
  auto id = std::stoll(c.match[1]);
  auto st = store_.transaction(
      [&](sqlite::Connection& conn) { return scan::withdraw_vex(conn, id, c.now); });
  if (!st)
    return problem(
        st.error().code == Errc::not_found ? http::status::not_found : http::status::bad_request,
        st.error().message);
  journalled(c, {{"type", "vex.withdrawn"}, {"id", id}});
  return json_response(http::status::ok, {{"withdrawn", id}});
}

Response Api::route_audit(Call&) {
  // Signatures are checked by `airhealctl audit verify`; this answers per request.
  audit::Journal journal(audit::journal_path(state_dir_));
  auto r = audit::verify_journal(state_dir_, journal, &store_, false);
  json j = {{"records", r.records},
            {"intact", r.intact()},
            {"problem", r.problems.empty() ? "" : r.problems.front()},
            {"problems", r.problems},
            {"checkpoints", r.checkpoints.size()},
            {"uncovered_records", r.uncovered}};
  if (!r.checkpoints.empty()) {
    j["last_checkpoint"] = r.checkpoints.back().seq;
    j["last_checkpoint_time"] = scan::rfc3339(r.checkpoints.back().time);
  }
  return json_response(http::status::ok, j);
}

// A signed evidence bundle for a period, as the response body (the same bundle as
// `airhealctl evidence export`): POST /api/v1/evidence?from=DATE&to=DATE[&image=GLOB].
Response Api::route_evidence(Call& c) {
  if (auto no = need_role(c.access, "operator")) return *no;
  if (!engine_)
    return problem(http::status::not_found,
                   "healing is disabled on this appliance; export with airhealctl evidence export");
  auto from = evidence::period_bound(c.q("from"), false),
       to = evidence::period_bound(c.q("to"), true);
  if (!from || !to || *from > *to)
    return problem(http::status::bad_request,
                   "give ?from=DATE&to=DATE (2026-11-01 or RFC 3339), from <= to");
  evidence::EvidenceOptions o;
  o.from = *from;
  o.to = *to;
  o.images = c.q("image");
  if (!server_names_.empty() && server_names_.front() != "localhost")
    o.registry_host = server_names_.front();
  o.sla_days = sla_days_;
  auto dir = state_dir_ / "tmp";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  o.out = dir / ("evidence-api-" + std::to_string(::getpid()) + "-" + std::to_string(c.now) + "-" +
                 std::to_string(++evidence_requests) + ".tar");
  auto r = evidence::export_evidence(store_, *engine_, state_dir_, o);
  if (!r) return problem(http::status::conflict, "no bundle written: " + r.error().message);
  auto bytes = fs::read_file(o.out, std::uint64_t(4) << 30);
  std::filesystem::remove(o.out, ec);
  if (!bytes) return problem(http::status::internal_server_error, bytes.error().message);
  journalled(c, {{"type", "evidence.requested"},
                 {"from", scan::rfc3339(*from)},
                 {"to", scan::rfc3339(*to)},
                 {"image", o.images},
                 {"key", r->key},
                 {"bytes", r->bytes}});
  Response res;
  res.status = http::status::ok;
  res.body = std::move(*bytes);
  res.headers.emplace_back("Content-Type", "application/x-tar");
  res.headers.emplace_back("Content-Disposition", "attachment; filename=\"airheal-evidence-" +
                                                      c.q("from") + "-" + c.q("to") + ".tar\"");
  res.headers.emplace_back("X-Airheal-Evidence-Key", r->key);
  return res;
}

Response Api::route_promotions(Call&) {
  return json_response(http::status::ok, heal::promoted_images(store_));
}

// What the connected side must collect, signed with the appliance key (a DSSE envelope): the
// same document as `airhealctl needs export`, journalled the same way since it leaves the box.
Response Api::route_needs(Call& c) {
  auto key = heal::ApplianceKey::open(state_dir_);
  if (!key) return problem(http::status::internal_server_error, key.error().message);
  evidence::NeedsOptions o;
  o.redact = c.flag("redact");
  auto signed_doc = evidence::signed_needs(store_, *key, c.now, o);
  if (!signed_doc) return problem(http::status::internal_server_error, signed_doc.error().message);
  auto r = json_response(http::status::ok, signed_doc->envelope);
  journalled(c, {{"event", "needs.exported"},
                 {"file_sha256", Sha256::of(r.body).hex()},
                 {"redacted", o.redact},
                 {"summary", signed_doc->document["summary"]}});
  return r;
}

Response Api::route_metrics(Call& c) {
  auto heals = all_heals();
  Response r;
  r.body = metrics_text(status_document(store_, heals, c.now), heals, http_stats_);
  r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  return r;
}

Response Api::route_dashboard(Call&) {
  Response r;
  r.body = kDashboardHtml;
  if (auto at = r.body.find("__AIRHEAL_CSRF__"); at != std::string::npos)
    r.body.replace(at, 16, csrf_token_);
  r.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  r.headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
      "connect-src 'self'; img-src 'self' data:");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// The index lists every route above, from the table itself.
Response Api::route_index(Call&) {
  json endpoints = json::array();
  for (const auto& r : routes())
    for (const auto& s : r.shown) endpoints.push_back(s);
  return json_response(http::status::ok, {{"version", "v1"}, {"endpoints", endpoints}});
}

}  // namespace airheal::api
