// A LAN endpoint for webhooks in tests: a real HTTP server on loopback that records every JSON
// POST body and whether its X-Airheal-Signature is the HMAC of the body under a shared key.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace airheal::test {

inline const std::string kWebhookKey = "a shared secret of the LAN endpoint";

class WebhookSink {
 public:
  explicit WebhookSink(std::string key = kWebhookKey);
  ~WebhookSink();
  WebhookSink(const WebhookSink&) = delete;
  std::uint16_t port() const;
  std::vector<nlohmann::json> events();
  // Whether every event so far carried a valid signature.
  bool all_signed();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace airheal::test
