#include "cli/daemon_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/fs.hpp"

namespace airheal::cli {

namespace beast = boost::beast;
namespace http = beast::http;

std::string daemon_url(const std::filesystem::path& state_dir) {
  auto a = fs::read_file(state_dir / "airheald.addr", 4096);
  if (!a) return "";
  std::string addr = *a;
  while (!addr.empty() && (addr.back() == '\n' || addr.back() == ' ')) addr.pop_back();
  return addr;
}

std::optional<std::string> reachable_daemon(const std::filesystem::path& state_dir) {
  auto url = daemon_url(state_dir);
  if (url.rfind("http://", 0) != 0) return std::nullopt;
  auto hostport = url.substr(7);
  if (!daemon_request(hostport, "GET", "/v2/")) return std::nullopt;
  return hostport;
}

std::optional<DaemonReply> daemon_request(const std::string& hostport, const std::string& method, const std::string& target,
                                          const std::string& body) {
  try {
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
    if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, hostport);
    req.set(http::field::user_agent, "airhealctl");
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    return DaemonReply{static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace airheal::cli
