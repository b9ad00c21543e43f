#include "heal/webhooks.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace airheal::heal {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

Result<HttpUrl> parse_http_url(const std::string& url) {
  if (url.rfind("http://", 0) != 0) return make_error(Errc::invalid_argument, url + ": only http:// URLs are supported");
  auto rest = url.substr(7);
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  HttpUrl u;
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos)
    return make_error(Errc::invalid_argument, url + ": needs a host (and no credentials)");
  if (authority.front() == '[') {  // [v6]:port
    auto close = authority.find(']');
    if (close == std::string::npos) return make_error(Errc::invalid_argument, url + ": bad IPv6 literal");
    u.host = authority.substr(1, close - 1);
    u.port = close + 1 < authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : "80";
  } else {
    auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    u.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  }
  if (u.host.empty() || u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos)
    return make_error(Errc::invalid_argument, url + ": bad host or port");
  return u;
}

Result<int> http_post_json(const HttpUrl& url, const std::string& body, std::chrono::seconds timeout) {
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(url.host, url.port));
    http::request<http::string_body> req{http::verb::post, url.target, 11};
    req.set(http::field::host, url.host + ":" + url.port);
    req.set(http::field::user_agent, "airheal-webhook");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return static_cast<int>(res.result_int());
  } catch (const std::exception& e) {
    return make_error(Errc::io_error, std::string("POST http://") + url.host + ":" + url.port + url.target + ": " + e.what());
  }
}

Webhooks::Webhooks(std::vector<std::string> urls) {
  for (const auto& u : urls) {
    auto p = parse_http_url(u);
    if (p) urls_.push_back(*p);
    else spdlog::warn("webhook {} ignored: {}", u, p.error().message);
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
      for (int attempt = 0; attempt < 3; ++attempt) {
        auto r = http_post_json(u, body, std::chrono::seconds(5));
        if (r && *r >= 200 && *r < 300) break;
        {
          std::lock_guard lock(mu_);
          stopping = stopping_;
        }
        if (attempt == 2 || stopping) {
          spdlog::warn("webhook http://{}:{}{}: {}", u.host, u.port, u.target,
                       r ? "HTTP " + std::to_string(*r) : r.error().message);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
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
