// Heal events to LAN endpoints: each event is POSTed as JSON (Content-Type application/json) to
// every configured http:// URL by one background thread, in order, with a 5 s timeout and three
// tries per endpoint; a dead endpoint never slows a heal down. The queue is bounded (events past
// 10,000 undelivered are dropped with a warning).
#pragma once

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"

namespace airheal::heal {

struct HttpUrl {
  std::string host, port, target;
};
Result<HttpUrl> parse_http_url(const std::string& url);

// One POST; returns the HTTP status.
Result<int> http_post_json(const HttpUrl& url, const std::string& body, std::chrono::seconds timeout);

class Webhooks {
 public:
  explicit Webhooks(std::vector<std::string> urls);
  ~Webhooks();
  void post(nlohmann::json event);
  // Waits until the queue is empty (tests, shutdown).
  void flush(std::chrono::seconds limit);

 private:
  void run();
  std::vector<HttpUrl> urls_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false, busy_ = false;
  std::thread worker_;
};

}  // namespace airheal::heal
