#include "heal/webhooks.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include "core/fs.hpp"
#include "core/http_client.hpp"
#include "heal/heal_repository.hpp"

namespace airheal::heal {

Result<HttpUrl> parse_http_url(const std::string& url) {
  if (url.rfind("http://", 0) != 0)
    return make_error(Errc::invalid_argument, url + ": only http:// URLs are supported");
  auto rest = url.substr(7);
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  HttpUrl u;
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos)
    return make_error(Errc::invalid_argument, url + ": needs a host (and no credentials)");
  if (authority.front() == '[') {  // [v6]:port
    auto close = authority.find(']');
    if (close == std::string::npos)
      return make_error(Errc::invalid_argument, url + ": bad IPv6 literal");
    u.host = authority.substr(1, close - 1);
    u.port = close + 1 < authority.size() && authority[close + 1] == ':'
                 ? authority.substr(close + 2)
                 : "80";
  } else {
    auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    u.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  }
  if (u.host.empty() || u.port.empty() ||
      u.port.find_first_not_of("0123456789") != std::string::npos)
    return make_error(Errc::invalid_argument, url + ": bad host or port");
  return u;
}

Result<std::string> read_webhook_secret(const std::filesystem::path& file) {
  auto sb = fs::read_file(file, 1 << 16);
  if (!sb)
    return make_error(Errc::invalid_argument, "heal.webhook_secret_file: " + sb.error().message);
  auto secret = *sb;
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < 16)
    return make_error(Errc::invalid_argument,
                      "heal.webhook_secret_file: the key must be at least 16 bytes");
  return secret;
}

std::string webhook_signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

nlohmann::json promoted_images(store::Store& store) {
  auto out = nlohmann::json::array();
  auto rows = store.read([](sqlite::Connection& c) { return HealRepository::serving(c); });
  for (const auto& r : rows)
    out.push_back({{"image", r.repository + ":" + r.tag},
                   {"repository", r.repository},
                   {"tag", r.tag},
                   {"digest", r.staged},
                   {"pinned", r.repository + "@" + r.staged},
                   {"heal", r.id},
                   {"original", r.original},
                   {"promoted_at", r.promoted_at}});
  return out;
}

Status write_promotions(store::Store& store, const std::filesystem::path& dir,
                        const nlohmann::json& event) {
  auto type = event.value("type", "");
  if (type != "heal.promoted" && type != "heal.rolled_back") return {};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  auto current = promoted_images(store);
  auto e = event;
  auto image = event.value("image", "");
  auto colon = image.rfind(':');
  if (colon != std::string::npos)
    if (auto m = store.get_manifest(image.substr(0, colon), image.substr(colon + 1))) {
      e["digest"] = m->digest.str();
      e["pinned"] = image.substr(0, colon) + "@" + m->digest.str();
    }
  auto id = event.contains("heal") && event["heal"].is_number_integer()
                ? std::to_string(event["heal"].get<std::int64_t>())
                : "0";
  if (auto st = fs::write_file_atomic(dir / ("heal-" + id + "-" + type.substr(5) + ".json"),
                                      e.dump(2) + "\n");
      !st)
    return st;
  return fs::write_file_atomic(dir / "current.json", current.dump(2) + "\n");
}

Result<int> http_post_json(const HttpUrl& url, const std::string& body,
                           std::chrono::seconds timeout,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  auto all = headers;
  all.insert(all.begin(),
             {{"User-Agent", "airheal-webhook"}, {"Content-Type", "application/json"}});
  auto r = http_client::request("POST", url.host, url.port, url.target, body, all, timeout);
  if (!r) return r.error();
  return r->status;
}

Webhooks::Webhooks(std::vector<std::string> urls, std::string secret) : secret_(std::move(secret)) {
  for (const auto& u : urls) {
    auto p = parse_http_url(u);
    if (p)
      urls_.push_back(*p);
    else
      spdlog::warn("webhook {} ignored: {}", u, p.error().message);
  }
  if (!urls_.empty()) worker_ = std::thread([this] { run(); });
}

Webhooks::~Webhooks() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Webhooks::post(nlohmann::json event) {
  if (urls_.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= 10000) {
      spdlog::warn("webhooks: queue full, event dropped");
      return;
    }
    queue_.push_back(event.dump());
  }
  cv_.notify_all();
}

void Webhooks::flush(std::chrono::seconds limit) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, limit, [&] { return queue_.empty() && !busy_; });
}

void Webhooks::run() {
  while (true) {
    std::string body;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping with nothing left
      body = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    for (const auto& u : urls_) {
      bool stopping = false;
      std::vector<std::pair<std::string, std::string>> headers;
      if (!secret_.empty())
        headers.emplace_back("X-Airheal-Signature", webhook_signature(secret_, body));
      for (int attempt = 0; attempt < 5; ++attempt) {
        auto r = http_post_json(u, body, std::chrono::seconds(5), headers);
        if (r && *r >= 200 && *r < 300) break;
        {
          std::lock_guard lock(mu_);
          stopping = stopping_;
        }
        if (attempt == 4 || stopping) {
          spdlog::warn("webhook http://{}:{}{}: {}", u.host, u.port, u.target,
                       r ? "HTTP " + std::to_string(*r) : r.error().message);
          break;
        }
        // Back off 1, 2, 4, 8 s, waking early when the daemon stops.
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(1000 << attempt), [&] { return stopping_; });
      }
    }
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

}  // namespace airheal::heal
