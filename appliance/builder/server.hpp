// airheal-builder's side of the build socket: it accepts connections only from the Unix users it
// is told to (SO_PEERCRED), reads one request, validates it on its own (it does not trust
// airheald: heal/builder_protocol.hpp), runs it with buildah and answers. When the client goes
// away mid-build (airheald killed), the build is stopped, its container removed and its output
// folder deleted: nothing is left half-done.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>

#include "core/result.hpp"
#include "heal/buildah_builder.hpp"
#include "heal/builder_protocol.hpp"

namespace airheal::builder {

struct ServerOptions {
  std::filesystem::path socket;
  heal::builder::Policy policy;
  heal::BuildahOptions buildah;
  std::set<uid_t> allowed_uids;       // who may ask (airheald's user)
  std::optional<gid_t> socket_group;  // the socket's group (mode 0660), so that it can connect
  std::function<void(const std::string&)> log;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  // Binds the socket (a stale one from a killed builder is replaced), mode 0660.
  Status listen();
  // Accepts until STOP turns true; each connection on its own thread. Returns when every
  // connection has ended.
  void serve(const std::atomic<bool>& stop);
  // One request on a connected socket, answered (exposed for tests).
  void handle(int fd);

 private:
  ServerOptions options_;
  int listen_fd_ = -1;
  heal::BuildahBuilder buildah_;
  std::shared_mutex reset_lock_;  // builds share it; reset takes it alone
  std::atomic<int> active_{0};
};

}  // namespace airheal::builder
