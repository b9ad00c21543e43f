// Heal events to LAN endpoints: each event is POSTed as JSON (Content-Type application/json) to
// every configured http:// URL by one background thread, in order, with a 5 s timeout and five
// tries per endpoint, backing off 1, 2, 4 and 8 s; a dead endpoint never slows a heal down. With
// a secret, each POST carries X-Airheal-Signature: sha256=<hex HMAC-SHA256(secret, body)>. The
// queue is bounded (events past 10,000 undelivered are dropped with a warning).
// Promotions also leave a digest-pinned list for GitOps tools (write_promotions).
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "store/store.hpp"

namespace airheal::heal {

struct HttpUrl {
  std::string host, port, target;
};
Result<HttpUrl> parse_http_url(const std::string& url);

// One POST; returns the HTTP status.
Result<int> http_post_json(const HttpUrl& url, const std::string& body,
                           std::chrono::seconds timeout,
                           const std::vector<std::pair<std::string, std::string>>& headers = {});

// The HMAC key from heal.webhook_secret_file (trailing newline dropped; at least 16 bytes).
Result<std::string> read_webhook_secret(const std::filesystem::path& file);

// "sha256=" + hex HMAC-SHA256 of BODY with SECRET (the X-Airheal-Signature value).
std::string webhook_signature(const std::string& secret, const std::string& body);

// Tags that serve a promoted heal, pinned by digest: [{image, repository, tag, digest, pinned,
// heal, original}].
nlohmann::json promoted_images(store::Store& store);
// After a heal.promoted or heal.rolled_back event: DIR/current.json (promoted_images) and
// DIR/heal-ID-EVENT.json (the event with the pinned reference), both written atomically.
Status write_promotions(store::Store& store, const std::filesystem::path& dir,
                        const nlohmann::json& event);

class Webhooks {
 public:
  explicit Webhooks(std::vector<std::string> urls, std::string secret = {});
  ~Webhooks();
  void post(nlohmann::json event);
  // Waits until the queue is empty (tests, shutdown).
  void flush(std::chrono::seconds limit);

 private:
  void run();
  std::vector<HttpUrl> urls_;
  std::string secret_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false, busy_ = false;
  std::thread worker_;
};

}  // namespace airheal::heal
