// airhealctl's way to the running daemon: its address from <state>/airheald.addr and one HTTP/1.1
// request over a real TCP connection. Used for `status` and for heal actions, which go through the
// daemon's REST API when it serves plain HTTP (loopback by default) so that its canary, webhooks
// and journal see them; when it does not answer (stopped, or serving TLS) airhealctl acts on the
// state directly, which SQLite's transactions make safe as well.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace airheal::cli {

struct DaemonReply {
  int status = 0;
  std::string body;
};

// What <state>/airheald.addr says ("http://HOST:PORT", "https://..."), or "".
std::string daemon_url(const std::filesystem::path& state_dir);
// One request over the daemon's local socket (<state>/airheald.sock), where the daemon learns the
// caller's Unix user from the kernel; nullopt when nothing listens there or the exchange fails.
std::optional<DaemonReply> daemon_local_request(const std::filesystem::path& socket,
                                                const std::string& method,
                                                const std::string& target,
                                                const std::string& body = "");
// One request; nullopt when the daemon cannot be reached or the exchange fails.
std::optional<DaemonReply> daemon_request(const std::string& hostport, const std::string& method,
                                          const std::string& target, const std::string& body = "");

}  // namespace airheal::cli
