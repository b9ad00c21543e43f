#include "cli/daemon_client.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/fs.hpp"
#include "core/http_client.hpp"

namespace airheal::cli {

std::string daemon_url(const std::filesystem::path& state_dir) {
  auto a = fs::read_file(state_dir / "airheald.addr", 4096);
  if (!a) return "";
  std::string addr = *a;
  while (!addr.empty() && (addr.back() == '\n' || addr.back() == ' ')) addr.pop_back();
  return addr;
}

std::optional<DaemonReply> daemon_local_request(const std::filesystem::path& socket,
                                                const std::string& method,
                                                const std::string& target,
                                                const std::string& body) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  std::error_code fec;
  if (!std::filesystem::is_socket(socket, fec)) return std::nullopt;
  try {
    asio::io_context ioc;
    beast::basic_stream<asio::local::stream_protocol> stream(ioc);
    stream.expires_after(std::chrono::minutes(5));  // an approval runs the canary first
    stream.connect(asio::local::stream_protocol::endpoint(socket.string()));
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, "localhost");
    req.set(http::field::user_agent, "airhealctl");
    if (!body.empty() || (method != "GET" && method != "HEAD"))
      req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    http::read(stream, buf, parser);
    return DaemonReply{static_cast<int>(parser.get().result_int()), parser.get().body()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<DaemonReply> daemon_request(const std::string& hostport, const std::string& method,
                                          const std::string& target, const std::string& body) {
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host == "0.0.0.0") host = "127.0.0.1";  // a daemon listening everywhere answers on loopback
  if (host == "::") host = "::1";
  std::vector<std::pair<std::string, std::string>> headers = {{"User-Agent", "airhealctl"}};
  if (!body.empty() || (method != "GET" && method != "HEAD"))
    headers.emplace_back("Content-Type", "application/json");
  auto r =
      http_client::request(method, host, port, target, body, headers, std::chrono::seconds(10));
  if (!r) return std::nullopt;
  return DaemonReply{r->status, r->body};
}

}  // namespace airheal::cli
