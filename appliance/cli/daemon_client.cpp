#include "cli/daemon_client.hpp"

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
