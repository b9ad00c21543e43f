#include "support/webhook_sink.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "heal/webhooks.hpp"

namespace airheal::test {

struct WebhookSink::Impl {
  explicit Impl(std::string k)
      : key(std::move(k)), acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port = acceptor.local_endpoint().port();
    thread = std::thread([this] { serve(); });
  }
  ~Impl() {
    stop = true;
    boost::system::error_code ec;
    acceptor.close(ec);
    try {  // wake a blocked accept
      boost::asio::io_context io;
      boost::asio::ip::tcp::socket s(io);
      s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    } catch (...) {
    }
    if (thread.joinable()) thread.join();
  }
  void serve() {
    namespace http = boost::beast::http;
    while (!stop) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket sock(ioc);
      acceptor.accept(sock, ec);
      if (ec || stop) return;
      boost::beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(sock, buf, req, ec);
      if (ec) continue;
      {
        std::lock_guard lock(mu);
        if (req.method() == http::verb::post &&
            req[http::field::content_type] == "application/json") {
          events.push_back(nlohmann::json::parse(req.body(), nullptr, false));
          signed_ok.push_back(std::string(req["X-Airheal-Signature"]) ==
                              heal::webhook_signature(key, req.body()));
        }
      }
      http::response<http::empty_body> res{http::status::no_content, 11};
      http::write(sock, res, ec);
    }
  }
  std::string key;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor;
  std::uint16_t port = 0;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<nlohmann::json> events;
  std::vector<bool> signed_ok;
};

WebhookSink::WebhookSink(std::string key) : impl_(std::make_unique<Impl>(std::move(key))) {}
WebhookSink::~WebhookSink() = default;
std::uint16_t WebhookSink::port() const { return impl_->port; }
std::vector<nlohmann::json> WebhookSink::events() {
  std::lock_guard lock(impl_->mu);
  return impl_->events;
}
bool WebhookSink::all_signed() {
  std::lock_guard lock(impl_->mu);
  return !impl_->signed_ok.empty() &&
         std::all_of(impl_->signed_ok.begin(), impl_->signed_ok.end(), [](bool b) { return b; });
}

}  // namespace airheal::test
