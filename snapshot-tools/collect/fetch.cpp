#include "collect/fetch.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <fstream>
#include <memory>

namespace airheal::collect {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr int kMaxRedirects = 5;

std::uint64_t stdfs_size(const std::filesystem::path& p) {
  std::error_code ec;
  auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

// One exchange on an open stream: the request's head, then the response's head into PARSER, and
// the body in chunks to SINK. Each step must make progress within the idle timeout.
class Exchange {
 public:
  Exchange(const Url& url, const FetchOptions& o) : url_(url), o_(o) {}

  // Runs one asynchronous step to completion (the io_context's loop returns when it is done).
  template <class Start>
  beast::error_code step(asio::io_context& ioc, Start&& start) {
    beast::error_code result;
    bool done = false;
    start([&](beast::error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    ioc.restart();
    ioc.run();
    if (!done) return asio::error::operation_aborted;
    return result;
  }

  const Url& url_;
  const FetchOptions& o_;
};

struct Response {
  int status = 0;
  std::string reason, location, content_range;
  std::optional<std::uint64_t> length;
};

// Sends METHOD with HEADERS and reads the response; the body goes to SINK (nothing for HEAD).
template <class Stream>
Status exchange(asio::io_context& ioc, Stream& stream, const Url& url, http::verb method,
                const std::vector<std::pair<std::string, std::string>>& headers,
                const FetchOptions& o, Response& out,
                const std::function<Status(const char*, std::size_t)>& sink) {
  Exchange ex(url, o);
  auto& lowest = beast::get_lowest_layer(stream);
  http::request<http::empty_body> req{method, url.target, 11};
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  bool default_port =
      (url.scheme == "http" && url.port == "80") || (url.scheme == "https" && url.port == "443");
  req.set(http::field::host, default_port ? host : host + ":" + url.port);
  req.set(http::field::user_agent, "airheal-snapshot-collect/" AIRHEAL_VERSION);
  req.set(http::field::accept_encoding, "identity");
  for (const auto& [k, v] : headers) req.set(k, v);
  lowest.expires_after(o.idle_timeout);
  if (auto ec = ex.step(ioc, [&](auto h) { http::async_write(stream, req, h); }))
    return make_error(Errc::io_error, "sending the request: " + ec.message());

  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> parser;
  // A number, not boost::none: with this Boost, none compares below every length.
  parser.body_limit(o.max_bytes);
  if (method == http::verb::head) parser.skip(true);
  lowest.expires_after(o.idle_timeout);
  if (auto ec = ex.step(ioc, [&](auto h) { http::async_read_header(stream, buf, parser, h); }))
    return make_error(Errc::io_error, "reading the response: " + ec.message());
  const auto& head = parser.get();
  out.status = static_cast<int>(head.result_int());
  out.reason = std::string(head.reason());
  if (auto it = head.find(http::field::location); it != head.end())
    out.location = std::string(it->value());
  if (auto it = head.find(http::field::content_range); it != head.end())
    out.content_range = std::string(it->value());
  if (parser.content_length()) out.length = *parser.content_length();
  if (method == http::verb::head || out.status / 100 != 2) return {};  // no body wanted
  if (out.length && *out.length > o.max_bytes)
    return make_error(Errc::too_large, "the server announces " + std::to_string(*out.length) +
                                           " bytes, more than the limit of " +
                                           std::to_string(o.max_bytes));
  std::vector<char> chunk(1 << 16);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    lowest.expires_after(o.idle_timeout);
    auto ec = ex.step(ioc, [&](auto h) { http::async_read(stream, buf, parser, h); });
    if (ec && ec != http::error::need_buffer)
      return make_error(Errc::io_error, "reading the body: " + ec.message());
    std::size_t got = chunk.size() - parser.get().body().size;
    if (got)
      if (auto st = sink(chunk.data(), got); !st) return st;
  }
  return {};
}

// Opens a connection to URL and runs one exchange (TLS verified against the system's trust
// anchors, or O.ca_file, with the host name checked).
Status one_request(const Url& url, http::verb method,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const FetchOptions& o, Response& out,
                   const std::function<Status(const char*, std::size_t)>& sink) {
  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(url.host, url.port);
    if (url.scheme == "http") {
      beast::tcp_stream stream(ioc);
      stream.expires_after(o.idle_timeout);
      stream.connect(endpoints);
      auto st = exchange(ioc, stream, url, method, headers, o, out, sink);
      beast::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      return st;
    }
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (o.ca_file.empty())
      ctx.set_default_verify_paths();
    else
      ctx.load_verify_file(o.ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
      return make_error(Errc::io_error, "TLS: cannot set the server name");
    stream.set_verify_callback(ssl::host_name_verification(url.host));
    beast::get_lowest_layer(stream).expires_after(o.idle_timeout);
    beast::get_lowest_layer(stream).connect(endpoints);
    Exchange ex(url, o);
    if (auto ec = ex.step(ioc, [&](auto h) {
          stream.async_handshake(ssl::stream_base::client,
                                 [h](beast::error_code e) mutable { h(e, 0); });
        }))
      return make_error(Errc::io_error, "TLS handshake: " + ec.message());
    auto st = exchange(ioc, stream, url, method, headers, o, out, sink);
    beast::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    return st;
  } catch (const std::exception& e) {
    return make_error(Errc::io_error, e.what());
  }
}

bool redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The request loop: redirects followed, errors named after the URL asked for.
Result<Response> request(
    const std::string& text, http::verb method,
    const std::function<std::vector<std::pair<std::string, std::string>>()>& headers,
    const FetchOptions& o, const std::function<Status(const char*, std::size_t)>& sink,
    std::string* final_url, const std::function<void(const Response&)>& on_head = {}) {
  auto url = parse_url(text);
  if (!url) return url.error();
  const char* verb = method == http::verb::head ? "HEAD " : "GET ";
  for (int hop = 0;; ++hop) {
    Response r;
    bool head_seen = false;
    auto st =
        one_request(*url, method, headers(), o, r, [&](const char* d, std::size_t n) -> Status {
          if (!head_seen && on_head) on_head(r);
          head_seen = true;
          return sink(d, n);
        });
    if (!st) return make_error(st.error().code, verb + url->str() + ": " + st.error().message);
    if (redirect(r.status) && !r.location.empty()) {
      if (hop >= kMaxRedirects)
        return make_error(Errc::io_error, verb + text + ": more than " +
                                              std::to_string(kMaxRedirects) + " redirects");
      auto next = resolve_url(*url, r.location);
      if (!next) return make_error(Errc::io_error, verb + url->str() + ": " + next.error().message);
      if (url->scheme == "https" && next->scheme == "http")
        return make_error(Errc::io_error,
                          verb + url->str() + ": refused a redirect from https to " + next->str());
      url = std::move(next);
      continue;
    }
    if (final_url) *final_url = url->str();
    if (!head_seen && on_head) on_head(r);
    return r;
  }
}

}  // namespace

Result<Fetched> fetch_to_file(const std::string& url, const std::filesystem::path& file,
                              const FetchOptions& o) {
  namespace fs = std::filesystem;
  auto part = file;
  part += ".part";
  std::error_code ec;
  std::uint64_t have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
  if (ec) have = 0;
  Fetched f;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(nullptr, &std::fclose);
  std::uint64_t total = 0;
  int status = 0;
  auto headers = [&] {
    std::vector<std::pair<std::string, std::string>> h;
    if (have > 0) h.emplace_back("Range", "bytes=" + std::to_string(have) + "-");
    return h;
  };
  auto on_head = [&](const Response& r) {
    status = r.status;
    // 206 from where the part ends: append; anything else starts the file over.
    bool append = r.status == 206 && have > 0 &&
                  r.content_range.rfind("bytes " + std::to_string(have) + "-", 0) == 0;
    if (r.status / 100 != 2) return;
    f.resumed = append;
    if (!append) have = 0;
    out.reset(std::fopen(part.c_str(), append ? "ab" : "wb"));
    total = r.length ? *r.length + have : 0;
  };
  auto sink = [&](const char* d, std::size_t n) -> Status {
    if (!out) return make_error(Errc::io_error, "cannot write " + part.string());
    if (have + f.transferred + n > o.max_bytes)
      return make_error(Errc::too_large,
                        "more than the limit of " + std::to_string(o.max_bytes) + " bytes");
    if (std::fwrite(d, 1, n, out.get()) != n)
      return make_error(Errc::io_error, "writing " + part.string() + " failed (disk full?)");
    f.transferred += n;
    if (o.progress) o.progress(have + f.transferred, total);
    return {};
  };
  auto r = request(url, http::verb::get, headers, o, sink, &f.final_url, on_head);
  if (!r) {
    out.reset();
    auto kept = stdfs_size(part);
    if (kept > 0)
      return make_error(r.error().code, r.error().message + " (" + std::to_string(kept) +
                                            " bytes kept in " + part.string() +
                                            ": run again to resume)");
    return r.error();
  }
  if (r->status == 416 && have > 0) {
    // The part is as long as (or longer than) the file: start over.
    fs::remove(part, ec);
    return fetch_to_file(url, file, o);
  }
  if (r->status / 100 != 2)
    return make_error(Errc::not_found, "GET " + f.final_url + ": HTTP " +
                                           std::to_string(r->status) + " " + r->reason);
  if (!out) out.reset(std::fopen(part.c_str(), "wb"));  // an empty body
  if (!out || std::fflush(out.get()) != 0 || ::fsync(fileno(out.get())) != 0)
    return make_error(Errc::io_error, "writing " + part.string() + " failed");
  out.reset();
  f.bytes = have + f.transferred;
  if (total && f.bytes != total)
    return make_error(Errc::io_error, "GET " + f.final_url + ": the connection closed after " +
                                          std::to_string(f.bytes) + " of " + std::to_string(total) +
                                          " bytes (run again to resume)");
  fs::rename(part, file, ec);
  if (ec) return make_error(Errc::io_error, "renaming " + part.string() + ": " + ec.message());
  (void)status;
  return f;
}

Result<std::string> fetch_bytes(const std::string& url, const FetchOptions& o) {
  std::string body;
  std::string final_url;
  auto r = request(
      url, http::verb::get, [] { return std::vector<std::pair<std::string, std::string>>{}; }, o,
      [&](const char* d, std::size_t n) -> Status {
        if (body.size() + n > o.max_bytes)
          return make_error(Errc::too_large,
                            "more than the limit of " + std::to_string(o.max_bytes) + " bytes");
        body.append(d, n);
        return {};
      },
      &final_url);
  if (!r) return r.error();
  if (r->status / 100 != 2)
    return make_error(Errc::not_found,
                      "GET " + final_url + ": HTTP " + std::to_string(r->status) + " " + r->reason);
  if (r->length && *r->length != body.size())
    return make_error(Errc::io_error, "GET " + final_url + ": the connection closed after " +
                                          std::to_string(body.size()) + " of " +
                                          std::to_string(*r->length) + " bytes");
  return body;
}

Result<std::optional<std::uint64_t>> content_length(const std::string& url, const FetchOptions& o) {
  std::string final_url;
  auto r = request(
      url, http::verb::head, [] { return std::vector<std::pair<std::string, std::string>>{}; }, o,
      [](const char*, std::size_t) -> Status { return {}; }, &final_url);
  if (!r) return r.error();
  if (r->status / 100 != 2)
    return make_error(Errc::not_found, "HEAD " + final_url + ": HTTP " + std::to_string(r->status) +
                                           " " + r->reason);
  return r->length;
}

}  // namespace airheal::collect
