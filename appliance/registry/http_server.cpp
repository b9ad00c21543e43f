#include "registry/http_server.hpp"

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>
#include <vector>

namespace airheal::registry {

void RequestStats::record(std::string_view method, int status, std::uint64_t micros) {
  std::size_t m = 6;
  for (std::size_t i = 0; i < 6; ++i)
    if (method == kMethods[i]) m = i;
  auto cls = std::clamp(status / 100, 1, 5) - 1;
  by_method_class[m][cls]++;
  std::size_t b = 10;
  for (std::size_t i = 0; i < 10; ++i)
    if (static_cast<double>(micros) / 1e6 <= kBuckets[i]) {
      b = i;
      break;
    }
  latency[b]++;
  latency_sum_us += micros;
}


namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

// Live connections, so shutdown can close the idle ones and wait for the busy ones.
struct HttpServer::Tracker {
  std::mutex mu;
  std::uint64_t next = 0;
  struct Entry {
    bool idle = true;
    std::function<void()> close;
  };
  std::unordered_map<std::uint64_t, Entry> live;
  std::atomic<bool> stopping{false};

  std::uint64_t add(std::function<void()> close) {
    std::lock_guard lk(mu);
    live[++next] = Entry{true, std::move(close)};
    return next;
  }
  void remove(std::uint64_t id) {
    std::lock_guard lk(mu);
    live.erase(id);
  }
  bool contains(std::uint64_t id) {
    std::lock_guard lk(mu);
    return live.count(id) != 0;
  }
  void set_idle(std::uint64_t id, bool idle) {
    std::lock_guard lk(mu);
    if (auto it = live.find(id); it != live.end()) it->second.idle = idle;
  }
  void close_idle() {
    std::lock_guard lk(mu);
    for (auto& [id, e] : live)
      if (e.idle) e.close();
  }
};

namespace {

template <class Stream>
auto& lowest(Stream& s) {
  return beast::get_lowest_layer(s);
}

template <class Stream>
constexpr bool is_tls() {
  return !std::is_same_v<Stream, beast::tcp_stream>;
}

// Writes the file span: sendfile(2) on plain TCP, pread + async_write under TLS.
template <class Stream>
asio::awaitable<bool> send_file(Stream& stream, const FileSpan& span, std::chrono::seconds timeout) {
  off_t off = static_cast<off_t>(span.offset);
  std::uint64_t left = span.length;
  beast::error_code ec;
  if constexpr (!is_tls<Stream>()) {
    auto& sock = lowest(stream).socket();
    sock.native_non_blocking(true, ec);
    if (ec) co_return false;
    while (left > 0) {
      ssize_t n = ::sendfile(sock.native_handle(), span.fd->get(), &off, std::min<std::uint64_t>(left, 1u << 30));
      if (n > 0) {
        left -= static_cast<std::uint64_t>(n);
        continue;
      }
      if (n == 0) co_return false;  // file shrank under us
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) co_return false;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(timeout);
      timer.async_wait([&sock](beast::error_code tec) {
        if (!tec) sock.cancel();
      });
      co_await sock.async_wait(tcp::socket::wait_write, asio::redirect_error(use_awaitable, ec));
      timer.cancel();
      if (ec) co_return false;
    }
    co_return true;
  } else {
    std::vector<char> buf(256 * 1024);
    while (left > 0) {
      ssize_t n = ::pread(span.fd->get(), buf.data(), std::min<std::uint64_t>(left, buf.size()), off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) co_return false;
      lowest(stream).expires_after(timeout);
      co_await asio::async_write(stream, asio::buffer(buf.data(), static_cast<std::size_t>(n)),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
      off += n;
      left -= static_cast<std::uint64_t>(n);
    }
    co_return true;
  }
}

template <class Stream>
asio::awaitable<bool> write_response(Stream& stream, Response& r, bool keep_alive, unsigned version,
                                     const HttpOptions& opt, bool head_request = false) {
  beast::error_code ec;
  auto fill = [&](auto& msg) {
    msg.version(version);
    msg.result(r.status);
    msg.set(http::field::server, "airheal");
    msg.set("Docker-Distribution-API-Version", "registry/2.0");
    for (const auto& [k, v] : r.headers)
      if (!beast::iequals(k, "Content-Length")) msg.set(k, v);
    msg.keep_alive(keep_alive);
  };
  lowest(stream).expires_after(opt.write_timeout);
  if (r.file || r.content_length) {
    http::response<http::empty_body> msg;
    fill(msg);
    msg.content_length(r.file ? r.file->length : *r.content_length);
    http::response_serializer<http::empty_body> sr(msg);
    co_await http::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return false;
    if (r.file && !head_request) co_return co_await send_file(stream, *r.file, opt.write_timeout);
    co_return true;
  }
  if (head_request) {
    // RFC 9110 9.3.2: the same header fields as a GET, never a body (on a kept-alive connection
    // a body would be read as the next response).
    http::response<http::empty_body> msg;
    fill(msg);
    msg.content_length(r.body.size());
    http::response_serializer<http::empty_body> sr(msg);
    co_await http::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }
  http::response<http::string_body> msg;
  fill(msg);
  msg.body() = std::move(r.body);
  msg.content_length(msg.body().size());
  co_await http::async_write(stream, msg, asio::redirect_error(use_awaitable, ec));
  co_return !ec;
}

template <class Stream>
asio::awaitable<void> serve(Stream& stream, Registry& registry, const HttpOptions& opt, ClientInfo client,
                            HttpServer::Tracker& tracker, std::uint64_t id, RequestStats& stats) {
  beast::flat_buffer buffer;
  std::vector<char> chunk(256 * 1024);
  for (;;) {
    if (tracker.stopping) co_return;
    tracker.set_idle(id, true);
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
    // Beast checks Content-Length against the body limit while parsing the header; the real
    // per-route limits are enforced by Registry::prepare and the body consumers.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    lowest(stream).expires_after(opt.idle_timeout);
    beast::error_code ec;
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == http::error::header_limit) {
        Response r = error_response(http::status::request_header_fields_too_large, "UNSUPPORTED", "request header too large");
        co_await write_response(stream, r, false, 11, opt);
      } else if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
                 ec != beast::error::timeout && ec != asio::error::eof && ec != asio::ssl::error::stream_truncated) {
        spdlog::debug("client {}: bad request header: {}", id, ec.message());
        Response r = error_response(http::status::bad_request, "UNSUPPORTED", "malformed HTTP request");
        co_await write_response(stream, r, false, 11, opt);
      }
      co_return;
    }
    tracker.set_idle(id, false);
    auto started = std::chrono::steady_clock::now();
    const auto& head = parser.get().base();
    const auto method = head.method_string();
    const std::string target(head.target());
    bool keep_alive = parser.get().keep_alive();
    unsigned version = head.version();
    Prepared p = registry.prepare(head, client);
    bool has_body = !parser.is_done();

    Response r;
    if (p.response) {
      r = std::move(*p.response);
      if (has_body) r.close = true;  // we will not read a body nobody wants
    } else {
      if (has_body) {
        auto expect = head[http::field::expect];
        if (beast::iequals(std::string_view(expect.data(), expect.size()), "100-continue")) {
          http::response<http::empty_body> cont{http::status::continue_, version};
          lowest(stream).expires_after(opt.write_timeout);
          co_await http::async_write(stream, cont, asio::redirect_error(use_awaitable, ec));
          if (ec) co_return;
        }
        parser.body_limit(p.body_limit);
      }
      std::optional<Response> early;
      // Beast compares Content-Length with the limit while reading the header, which ran with no
      // limit (the route was not known yet): compare here, before a byte of the body is read.
      if (has_body && parser.content_length() && *parser.content_length() > p.body_limit)
        early = error_response(http::status::payload_too_large, "SIZE_INVALID",
                               "request body of " + std::to_string(*parser.content_length()) + " bytes is over the limit of " +
                                   std::to_string(p.body_limit));
      while (!early && !parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        lowest(stream).expires_after(opt.read_timeout);
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec == http::error::body_limit) {
          early = error_response(http::status::payload_too_large, "SIZE_INVALID", "request body is too large");
          break;
        }
        if (ec) {
          // The client went away or stalled: the consumer is dropped and rolls back.
          spdlog::info("{} {} aborted while reading the body: {}", std::string(method), target, ec.message());
          co_return;
        }
        std::size_t n = chunk.size() - parser.get().body().size;
        if (n) {
          early = p.consumer->write(chunk.data(), n);
          if (early) break;
        }
      }
      if (early) {
        r = std::move(*early);
        r.close = true;
      } else {
        r = p.consumer->finish();
      }
      p.consumer.reset();
    }
    if (r.close) keep_alive = false;
    if (tracker.stopping) keep_alive = false;
    stats.requests++;
    if (static_cast<int>(r.status) >= 500) stats.errors++;
    auto status = static_cast<int>(r.status);
    bool ok = co_await write_response(stream, r, keep_alive, version, opt, head.method() == http::verb::head);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
    stats.record(std::string_view(method.data(), method.size()), status, static_cast<std::uint64_t>(us));
    if (status >= 500)
      spdlog::warn("{} {} -> {} ({} us)", std::string(method), target, status, us);
    else if (status >= 400 && status != 404)
      spdlog::info("{} {} -> {} ({} us)", std::string(method), target, status, us);
    else
      spdlog::debug("{} {} -> {} ({} us)", std::string(method), target, status, us);
    if (ok && !parser.is_done()) {
      // Refused before its body was read: drain a little of it (lingering close) so the client
      // can finish sending and read our answer instead of meeting a reset.
      std::size_t drained = 0;
      while (drained < (16u << 20)) {
        lowest(stream).expires_after(std::chrono::seconds(2));
        auto n = co_await stream.async_read_some(asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        drained += n;
      }
      co_return;
    }
    if (!ok || !keep_alive) co_return;
  }
}

template <class Stream>
asio::awaitable<void> close_stream(Stream& stream) {
  beast::error_code ec;
  if constexpr (is_tls<Stream>()) {
    lowest(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
  }
  lowest(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
  lowest(stream).close();
}


// Coroutines take everything by value or by reference to objects that outlive them (the
// server outlives its io_context's handlers); lambdas with captures would dangle.
asio::awaitable<void> plain_session(tcp::socket s, Registry& registry, const HttpOptions& options,
                                    std::shared_ptr<HttpServer::Tracker> tracker, ClientInfo client,
                                    RequestStats& stats) {
  beast::tcp_stream stream(std::move(s));
  auto ex = stream.get_executor();
  auto idp = std::make_shared<std::uint64_t>(0);
  // The cancel runs on the connection's strand, like tracker->remove below, so it never
  // touches a stream whose coroutine has finished.
  beast::tcp_stream* sp = &stream;
  *idp = tracker->add([sp, ex, tracker, idp] {
    asio::post(ex, [sp, tracker, idp] {
      if (tracker->contains(*idp)) sp->cancel();
    });
  });
  co_await serve(stream, registry, options, client, *tracker, *idp, stats);
  co_await close_stream(stream);
  tracker->remove(*idp);
}

asio::awaitable<void> tls_session(tcp::socket s, asio::ssl::context& ssl, Registry& registry,
                                  const HttpOptions& options, std::shared_ptr<HttpServer::Tracker> tracker,
                                  ClientInfo client, RequestStats& stats) {
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(s)), ssl);
  auto ex = stream.get_executor();
  auto idp = std::make_shared<std::uint64_t>(0);
  auto* sp = &stream;
  *idp = tracker->add([sp, ex, tracker, idp] {
    asio::post(ex, [sp, tracker, idp] {
      if (tracker->contains(*idp)) beast::get_lowest_layer(*sp).cancel();
    });
  });
  beast::error_code hec;
  beast::get_lowest_layer(stream).expires_after(options.read_timeout);
  co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, hec));
  if (!hec) {
    co_await serve(stream, registry, options, client, *tracker, *idp, stats);
    co_await close_stream(stream);
  }
  tracker->remove(*idp);
}

}  // namespace

asio::awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    beast::error_code aec;
    auto sock = co_await acceptor_->async_accept(asio::make_strand(ioc_), asio::redirect_error(use_awaitable, aec));
    if (aec) {
      if (aec == asio::error::operation_aborted || tracker_->stopping) co_return;
      spdlog::warn("accept failed: {}", aec.message());
      continue;
    }
    if (active_connections() >= options_.max_connections) {
      spdlog::warn("connection limit {} reached; refusing a client", options_.max_connections);
      sock.close(aec);
      continue;
    }
    sock.set_option(tcp::no_delay(true), aec);
    ClientInfo client;
    {
      // With --listen [::]:PORT an IPv4 client arrives as ::ffff:a.b.c.d; 127.0.0.0/8 is loopback there too.
      auto addr = sock.remote_endpoint(aec).address();
      client.loopback = addr.is_loopback() || (addr.is_v6() && addr.to_v6().is_v4_mapped() &&
                                               asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).is_loopback());
    }
    client.tls = ssl_ != nullptr;
    auto ex = sock.get_executor();
    if (ssl_)
      asio::co_spawn(ex, tls_session(std::move(sock), *ssl_, registry_, options_, tracker_, client, stats_), asio::detached);
    else
      asio::co_spawn(ex, plain_session(std::move(sock), registry_, options_, tracker_, client, stats_), asio::detached);
  }
}

HttpServer::HttpServer(asio::io_context& ioc, Registry& registry, HttpOptions options)
    : ioc_(ioc), registry_(registry), options_(std::move(options)), tracker_(std::make_shared<Tracker>()) {}

HttpServer::~HttpServer() = default;

std::size_t HttpServer::active_connections() const {
  std::lock_guard lk(tracker_->mu);
  return tracker_->live.size();
}

Result<tcp::endpoint> HttpServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  if (!options_.tls_cert.empty()) {
    ssl_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ssl_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                      asio::ssl::context::single_dh_use);
    ssl_->use_certificate_chain_file(options_.tls_cert.string(), ec);
    if (ec) return make_error(Errc::invalid_argument, "TLS certificate " + options_.tls_cert.string() + ": " + ec.message());
    ssl_->use_private_key_file(options_.tls_key.string(), asio::ssl::context::pem, ec);
    if (ec) return make_error(Errc::invalid_argument, "TLS key " + options_.tls_key.string() + ": " + ec.message());
  }
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return make_error(Errc::invalid_argument, "listen address '" + host + "' is not an IP address");
  tcp::endpoint ep(addr, port);
  acceptor_ = std::make_unique<tcp::acceptor>(asio::make_strand(ioc_));
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::io_error, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  auto bound = acceptor_->local_endpoint();

  asio::co_spawn(acceptor_->get_executor(), accept_loop(), asio::detached);
  return bound;
}

void HttpServer::shutdown() {
  tracker_->stopping = true;
  if (acceptor_) {
    asio::post(acceptor_->get_executor(), [this] {
      beast::error_code ec;
      acceptor_->close(ec);
    });
  }
  tracker_->close_idle();
}

}  // namespace airheal::registry
