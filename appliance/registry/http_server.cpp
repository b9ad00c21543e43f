#include "registry/http_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

// Live connections, so shutdown can close the idle ones and wait for the busy ones, and so a
// flood of idle connections cannot lock everyone out: at a limit the longest-idle connection
// (the same client's, for the per-client limit) is closed to make room.
struct HttpServer::Tracker {
  std::mutex mu;
  std::uint64_t next = 0;
  struct Entry {
    bool idle = false;
    bool evicting = false;
    std::string client;
    std::chrono::steady_clock::time_point idle_since;
    std::function<void()> close;  // empty until the session attaches
  };
  std::unordered_map<std::uint64_t, Entry> live;
  std::unordered_map<std::string, std::size_t> per_client;  // live, not evicting
  std::size_t counted = 0;                                  // live, not evicting
  std::size_t max_total = 1024;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> evicted{0}, refused{0};

  void uncount(Entry& e) {
    if (e.evicting) return;
    e.evicting = true;
    --counted;
    if (auto it = per_client.find(e.client); it != per_client.end() && --it->second == 0)
      per_client.erase(it);
  }
  // The longest-idle connection (of CLIENT when given) that can be closed, or live.end().
  std::unordered_map<std::uint64_t, Entry>::iterator oldest_idle(const std::string* client) {
    auto best = live.end();
    for (auto it = live.begin(); it != live.end(); ++it) {
      auto& e = it->second;
      if (!e.idle || e.evicting || !e.close || (client && e.client != *client)) continue;
      if (best == live.end() || e.idle_since < best->second.idle_since) best = it;
    }
    return best;
  }
  bool evict(const std::string* client) {
    auto it = oldest_idle(client);
    if (it == live.end()) return false;
    uncount(it->second);
    it->second.close();
    ++evicted;
    return true;
  }
  // Room for a new connection from CLIENT, made by closing idle ones; nullopt: refuse it.
  std::optional<std::uint64_t> admit(const std::string& client, std::size_t total_limit,
                                     std::size_t client_limit) {
    std::lock_guard lk(mu);
    max_total = total_limit;
    if (auto it = per_client.find(client);
        it != per_client.end() && it->second >= client_limit && !evict(&client)) {
      ++refused;
      return std::nullopt;
    }
    if (counted >= total_limit && !evict(nullptr)) {
      ++refused;
      return std::nullopt;
    }
    live[++next] = Entry{false, false, client, {}, {}};
    ++per_client[client];
    ++counted;
    return next;
  }
  void attach(std::uint64_t id, std::function<void()> close) {
    std::lock_guard lk(mu);
    if (auto it = live.find(id); it != live.end()) it->second.close = std::move(close);
  }
  void remove(std::uint64_t id) {
    std::lock_guard lk(mu);
    if (auto it = live.find(id); it != live.end()) {
      uncount(it->second);
      live.erase(it);
    }
  }
  bool contains(std::uint64_t id) {
    std::lock_guard lk(mu);
    return live.count(id) != 0;
  }
  void set_idle(std::uint64_t id, bool idle) {
    std::lock_guard lk(mu);
    if (auto it = live.find(id); it != live.end()) {
      it->second.idle = idle;
      if (idle) it->second.idle_since = std::chrono::steady_clock::now();
    }
  }
  bool under_pressure() {
    std::lock_guard lk(mu);
    return counted * 2 > max_total;
  }
  void close_idle() {
    std::lock_guard lk(mu);
    for (auto& [id, e] : live)
      if (e.idle && e.close) e.close();
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
asio::awaitable<bool> send_file(Stream& stream, const FileSpan& span,
                                std::chrono::seconds timeout) {
  off_t off = static_cast<off_t>(span.offset);
  std::uint64_t left = span.length;
  beast::error_code ec;
  if constexpr (!is_tls<Stream>()) {
    auto& sock = lowest(stream).socket();
    sock.native_non_blocking(true, ec);
    if (ec) co_return false;
    while (left > 0) {
      ssize_t n = ::sendfile(sock.native_handle(), span.fd->get(), &off,
                             std::min<std::uint64_t>(left, 1u << 30));
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
      ssize_t n =
          ::pread(span.fd->get(), buf.data(), std::min<std::uint64_t>(left, buf.size()), off);
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
      if (beast::iequals(k, "OCI-Tag"))
        msg.insert(k, v);  // one field per tag (distribution spec, end-7b)
      else if (!beast::iequals(k, "Content-Length"))
        msg.set(k, v);
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
asio::awaitable<void> serve(Stream& stream, Registry& registry, const HttpOptions& opt,
                            ClientInfo client, HttpServer::Tracker& tracker, std::uint64_t id,
                            RequestStats& stats) {
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
    lowest(stream).expires_after(tracker.under_pressure()
                                     ? std::min(opt.idle_timeout, opt.pressure_idle_timeout)
                                     : opt.idle_timeout);
    beast::error_code ec;
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == http::error::header_limit) {
        Response r = error_response(http::status::request_header_fields_too_large, "UNSUPPORTED",
                                    "request header too large");
        co_await write_response(stream, r, false, 11, opt);
      } else if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
                 ec != beast::error::timeout && ec != asio::error::eof &&
                 ec != asio::ssl::error::stream_truncated) {
        spdlog::debug("client {}: bad request header: {}", id, ec.message());
        Response r =
            error_response(http::status::bad_request, "UNSUPPORTED", "malformed HTTP request");
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
    bool body_read = false;  // consumed past the parser (known length)
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
                               "request body of " + std::to_string(*parser.content_length()) +
                                   " bytes is over the limit of " + std::to_string(p.body_limit));
      // A body of known length is read straight from the socket into the consumer, in reads as
      // large as the socket has ready: no parser copy and one timer reset per read (profiled:
      // beast's 64 KiB reads, each with a timer reset and a reactor registration, capped uploads
      // at about 50 MB/s). Chunked bodies go through the parser below.
      if (!early && has_body && parser.content_length() && !parser.chunked()) {
        std::uint64_t left = *parser.content_length();
        auto ready = buffer.data();
        auto take = static_cast<std::size_t>(std::min<std::uint64_t>(ready.size(), left));
        if (take) {
          early = p.consumer->write(static_cast<const char*>(ready.data()), take);
          buffer.consume(take);
          left -= take;
        }
        while (!early && left > 0) {
          lowest(stream).expires_after(opt.read_timeout);
          auto n = co_await stream.async_read_some(
              asio::buffer(chunk.data(),
                           static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()))),
              asio::redirect_error(use_awaitable, ec));
          if (ec) {
            spdlog::info("{} {} aborted while reading the body: {}", std::string(method), target,
                         ec.message());
            co_return;
          }
          left -= n;
          early = p.consumer->write(chunk.data(), n);
        }
        body_read = !early;
      }
      while (!early && !body_read && !parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        lowest(stream).expires_after(opt.read_timeout);
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec == http::error::body_limit) {
          early = error_response(http::status::payload_too_large, "SIZE_INVALID",
                                 "request body is too large");
          break;
        }
        if (ec) {
          // The client went away or stalled: the consumer is dropped and rolls back.
          spdlog::info("{} {} aborted while reading the body: {}", std::string(method), target,
                       ec.message());
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
    bool ok = co_await write_response(stream, r, keep_alive, version, opt,
                                      head.method() == http::verb::head);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    stats.record(std::string_view(method.data(), method.size()), status,
                 static_cast<std::uint64_t>(us));
    if (status >= 500)
      spdlog::warn("{} {} -> {} ({} us)", std::string(method), target, status, us);
    else if (status >= 400 && status != 404)
      spdlog::info("{} {} -> {} ({} us)", std::string(method), target, status, us);
    else
      spdlog::debug("{} {} -> {} ({} us)", std::string(method), target, status, us);
    if (ok && !parser.is_done() && !body_read) {
      // Refused before its body was read: drain a little of it (lingering close) so the client
      // can finish sending and read our answer instead of meeting a reset.
      std::size_t drained = 0;
      while (drained < (16u << 20)) {
        lowest(stream).expires_after(std::chrono::seconds(2));
        auto n = co_await stream.async_read_some(asio::buffer(chunk),
                                                 asio::redirect_error(use_awaitable, ec));
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
                                    RequestStats& stats, std::uint64_t id) {
  beast::tcp_stream stream(std::move(s));
  auto ex = stream.get_executor();
  auto idp = std::make_shared<std::uint64_t>(id);
  // The cancel runs on the connection's strand, like tracker->remove below, so it never
  // touches a stream whose coroutine has finished.
  beast::tcp_stream* sp = &stream;
  tracker->attach(id, [sp, ex, tracker, idp] {
    asio::post(ex, [sp, tracker, idp] {
      if (tracker->contains(*idp)) sp->cancel();
    });
  });
  co_await serve(stream, registry, options, client, *tracker, *idp, stats);
  co_await close_stream(stream);
  tracker->remove(*idp);
}

asio::awaitable<void> tls_session(tcp::socket s, asio::ssl::context& ssl, Registry& registry,
                                  const HttpOptions& options,
                                  std::shared_ptr<HttpServer::Tracker> tracker, ClientInfo client,
                                  RequestStats& stats, std::uint64_t id) {
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(s)), ssl);
  auto ex = stream.get_executor();
  auto idp = std::make_shared<std::uint64_t>(id);
  auto* sp = &stream;
  tracker->attach(id, [sp, ex, tracker, idp] {
    asio::post(ex, [sp, tracker, idp] {
      if (tracker->contains(*idp)) beast::get_lowest_layer(*sp).cancel();
    });
  });
  beast::error_code hec;
  beast::get_lowest_layer(stream).expires_after(options.read_timeout);
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(use_awaitable, hec));
  if (!hec) {
    co_await serve(stream, registry, options, client, *tracker, *idp, stats);
    co_await close_stream(stream);
  }
  tracker->remove(*idp);
}

using local_stream = beast::basic_stream<asio::local::stream_protocol>;

asio::awaitable<void> local_session(asio::local::stream_protocol::socket s, Registry& registry,
                                    const HttpOptions& options,
                                    std::shared_ptr<HttpServer::Tracker> tracker, ClientInfo client,
                                    RequestStats& stats, std::uint64_t id) {
  local_stream stream(std::move(s));
  auto ex = stream.get_executor();
  auto idp = std::make_shared<std::uint64_t>(id);
  local_stream* sp = &stream;
  tracker->attach(id, [sp, ex, tracker, idp] {
    asio::post(ex, [sp, tracker, idp] {
      if (tracker->contains(*idp)) sp->cancel();
    });
  });
  co_await serve(stream, registry, options, client, *tracker, *idp, stats);
  beast::error_code ec;
  stream.socket().shutdown(asio::socket_base::shutdown_both, ec);
  stream.close();
  tracker->remove(*idp);
}

}  // namespace

asio::awaitable<void> HttpServer::local_accept_loop() {
  for (;;) {
    beast::error_code aec;
    auto sock = co_await local_acceptor_->async_accept(asio::make_strand(ioc_),
                                                       asio::redirect_error(use_awaitable, aec));
    if (aec) {
      if (aec == asio::error::operation_aborted || tracker_->stopping) co_return;
      spdlog::warn("local accept failed: {}", aec.message());
      continue;
    }
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      sock.close(aec);
      continue;
    }
    ClientInfo client;
    client.loopback = true;
    client.local = true;
    client.unix_user = unix_user_name(cred.uid);
    if (client.unix_user.empty()) client.unix_user = "uid " + std::to_string(cred.uid);
    auto id = tracker_->admit("local:" + std::to_string(cred.uid), options_.max_connections,
                              options_.max_connections_per_client);
    if (!id) {
      sock.close(aec);
      continue;
    }
    auto ex = sock.get_executor();
    asio::co_spawn(
        ex, local_session(std::move(sock), registry_, options_, tracker_, client, stats_, *id),
        asio::detached);
  }
}

Status HttpServer::listen_local(const std::filesystem::path& path) {
  std::error_code fec;
  // A socket left by a daemon that did not stop cleanly is replaced; anything else is not touched.
  if (std::filesystem::is_socket(std::filesystem::symlink_status(path, fec)))
    std::filesystem::remove(path, fec);
  beast::error_code ec;
  local_acceptor_ =
      std::make_unique<asio::local::stream_protocol::acceptor>(asio::make_strand(ioc_));
  asio::local::stream_protocol::endpoint ep(path.string());
  local_acceptor_->open(ep.protocol(), ec);
  if (!ec) local_acceptor_->bind(ep, ec);
  if (!ec) local_acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    local_acceptor_.reset();
    return make_error(Errc::io_error, "cannot listen on " + path.string() + ": " + ec.message());
  }
  ::chmod(path.c_str(), 0666);
  local_path_ = path;
  asio::co_spawn(local_acceptor_->get_executor(), local_accept_loop(), asio::detached);
  return {};
}

asio::awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    beast::error_code aec;
    auto sock = co_await acceptor_->async_accept(asio::make_strand(ioc_),
                                                 asio::redirect_error(use_awaitable, aec));
    if (aec) {
      if (aec == asio::error::operation_aborted || tracker_->stopping) co_return;
      spdlog::warn("accept failed: {}", aec.message());
      continue;
    }
    ClientInfo client;
    std::string peer;
    {
      // With --listen [::]:PORT an IPv4 client arrives as ::ffff:a.b.c.d; 127.0.0.0/8 is loopback
      // there too.
      auto addr = sock.remote_endpoint(aec).address();
      if (addr.is_v6() && addr.to_v6().is_v4_mapped())
        addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
      client.loopback = addr.is_loopback();
      peer = addr.to_string();
    }
    auto id = tracker_->admit(peer, options_.max_connections, options_.max_connections_per_client);
    if (!id) {
      // Rate-limited: a flood must not also flood the log.
      auto now = std::chrono::steady_clock::now();
      if (now - last_refusal_log_ > std::chrono::seconds(10)) {
        last_refusal_log_ = now;
        spdlog::warn(
            "connection limits reached ({} in all, {} per client) and no idle connection to close: "
            "refusing {} "
            "({} refused so far)",
            options_.max_connections, options_.max_connections_per_client, peer,
            tracker_->refused.load());
      }
      sock.close(aec);
      continue;
    }
    sock.set_option(tcp::no_delay(true), aec);
    client.tls = ssl_ != nullptr;
    auto ex = sock.get_executor();
    if (ssl_)
      asio::co_spawn(
          ex,
          tls_session(std::move(sock), *ssl_, registry_, options_, tracker_, client, stats_, *id),
          asio::detached);
    else
      asio::co_spawn(
          ex, plain_session(std::move(sock), registry_, options_, tracker_, client, stats_, *id),
          asio::detached);
  }
}

HttpServer::HttpServer(asio::io_context& ioc, Registry& registry, HttpOptions options)
    : ioc_(ioc),
      registry_(registry),
      options_(std::move(options)),
      tracker_(std::make_shared<Tracker>()) {}

HttpServer::~HttpServer() = default;

std::size_t HttpServer::active_connections() const {
  std::lock_guard lk(tracker_->mu);
  return tracker_->live.size();
}

std::uint64_t HttpServer::evicted_connections() const { return tracker_->evicted.load(); }
std::uint64_t HttpServer::refused_connections() const { return tracker_->refused.load(); }

Result<tcp::endpoint> HttpServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  if (!options_.tls_cert.empty()) {
    ssl_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ssl_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    ssl_->use_certificate_chain_file(options_.tls_cert.string(), ec);
    if (ec)
      return make_error(Errc::invalid_argument,
                        "TLS certificate " + options_.tls_cert.string() + ": " + ec.message());
    ssl_->use_private_key_file(options_.tls_key.string(), asio::ssl::context::pem, ec);
    if (ec)
      return make_error(Errc::invalid_argument,
                        "TLS key " + options_.tls_key.string() + ": " + ec.message());
  }
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    return make_error(Errc::invalid_argument, "listen address '" + host + "' is not an IP address");
  tcp::endpoint ep(addr, port);
  acceptor_ = std::make_unique<tcp::acceptor>(asio::make_strand(ioc_));
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(Errc::io_error, "cannot listen on " + host + ":" + std::to_string(port) +
                                          ": " + ec.message());
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
  if (local_acceptor_) {
    // The path goes now (a stopped daemon leaves no socket behind for backups to meet); the
    // acceptor closes on its own strand.
    std::error_code fec;
    std::filesystem::remove(local_path_, fec);
    asio::post(local_acceptor_->get_executor(), [this] {
      beast::error_code ec;
      local_acceptor_->close(ec);
    });
  }
  tracker_->close_idle();
}

}  // namespace airheal::registry
