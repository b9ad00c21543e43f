// The registry's HTTP/1.1 front end (Boost.Beast over Asio, C++20 coroutines): keep-alive,
// read timeouts and header/body limits, streamed bodies in both directions (sendfile for
// plain TCP), optional TLS with an operator-provided certificate, and graceful shutdown.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>  // boost 1.74 awaitable.hpp uses std::exchange without it

#include "registry/registry.hpp"

namespace airheal::registry {

struct HttpOptions {
  std::chrono::seconds read_timeout{30};  // no progress reading a request for this long: close
  std::chrono::seconds idle_timeout{30};  // keep-alive connections with no request: close
  std::chrono::seconds pressure_idle_timeout{
      5};                                  // ... while more than half of max_connections are open
  std::chrono::seconds write_timeout{60};  // no progress writing a response: close
  std::size_t max_header_bytes = 16 * 1024;
  // At the limit the longest-idle connection (of the same client, for the per-client limit) is
  // closed to make room; a new connection is refused only when every one is busy.
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_client = 128;
  std::filesystem::path tls_cert;  // PEM chain; empty for plain HTTP
  std::filesystem::path tls_key;
};

struct RequestStats {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};  // 5xx answers
  // By method (GET, HEAD, PUT, POST, PATCH, DELETE, other) and status class (1xx..5xx).
  static constexpr const char* kMethods[7] = {"GET",   "HEAD",   "PUT",  "POST",
                                              "PATCH", "DELETE", "other"};
  std::atomic<std::uint64_t> by_method_class[7][5] = {};
  // Latency histogram (seconds, cumulative at export): upper bounds of each bucket.
  static constexpr double kBuckets[10] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30};
  std::atomic<std::uint64_t> latency[11] = {};  // the last: above every bound
  std::atomic<std::uint64_t> latency_sum_us{0};
  void record(std::string_view method, int status, std::uint64_t micros);
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, Registry& registry, HttpOptions options);
  ~HttpServer();

  // Binds and starts accepting; returns the bound endpoint (port 0 becomes a real port).
  Result<boost::asio::ip::tcp::endpoint> listen(const std::string& host, std::uint16_t port);
  // Also serves on a Unix socket at PATH (mode 0666: the state directory's permissions decide who
  // reaches it), where the kernel names each client's Unix user (SO_PEERCRED): airhealctl's way in.
  Status listen_local(const std::filesystem::path& path);
  // Stops accepting and closes idle connections; requests in progress run to completion.
  void shutdown();
  std::size_t active_connections() const;
  // Connections closed to make room, and connections refused, since the start.
  std::uint64_t evicted_connections() const;
  std::uint64_t refused_connections() const;
  bool tls() const { return ssl_ != nullptr; }
  const RequestStats& stats() const { return stats_; }

  struct Tracker;  // live connections (defined in the .cpp)

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> local_accept_loop();
  boost::asio::io_context& ioc_;
  Registry& registry_;
  HttpOptions options_;
  std::unique_ptr<boost::asio::ssl::context> ssl_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<boost::asio::local::stream_protocol::acceptor> local_acceptor_;
  std::filesystem::path local_path_;
  std::shared_ptr<Tracker> tracker_;
  RequestStats stats_;
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace airheal::registry
