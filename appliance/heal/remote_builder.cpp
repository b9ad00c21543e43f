#include "heal/remote_builder.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/json.hpp"
#include "heal/builder_protocol.hpp"

namespace airheal::heal {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<builder::Reply> parse_reply(const std::string& frame) {
  JsonLimits limits;
  limits.max_bytes = builder::kMaxReplyBytes;
  limits.max_depth = 16;
  auto j = parse_json(frame, limits, "the builder's reply");
  if (!j) return j.error();
  return builder::reply_from_json(*j);
}

// One request, one reply. CANCEL closes the connection early: the builder stops and cleans up.
Result<builder::Reply> exchange(const std::filesystem::path& socket, const builder::Request& req,
                                const std::atomic<bool>* cancel) {
  Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) return make_error(Errc::io_error, std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.native().size() >= sizeof addr.sun_path)
    return make_error(Errc::invalid_argument, "the builder socket path is too long");
  std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return make_error(Errc::io_error, "airheal-builder is not reachable at " + socket.string() +
                                          ": " + std::strerror(errno));
  if (auto st = builder::write_frame(s.fd, builder::to_json(req).dump()); !st) {
    // The builder may have refused before reading it all (a user it does not serve): its answer
    // is then already here, and it says why.
    if (auto early = builder::read_frame(s.fd, builder::kMaxReplyBytes))
      if (auto r = parse_reply(*early)) return r;
    return make_error(Errc::io_error,
                      "sending the request to airheal-builder: " + st.error().message);
  }
  // Wait for the reply, watching the cancel flag.
  while (true) {
    pollfd p{s.fd, POLLIN, 0};
    int n = ::poll(&p, 1, 200);
    if (n > 0) break;
    if (n < 0 && errno != EINTR)
      return make_error(Errc::io_error, std::string("poll: ") + std::strerror(errno));
    if (cancel && cancel->load()) return make_error(Errc::io_error, "the build was cancelled");
  }
  auto frame = builder::read_frame(s.fd, builder::kMaxReplyBytes);
  if (!frame)
    return make_error(Errc::io_error, "airheal-builder stopped before it answered (" +
                                          frame.error().message + "); the build did not finish");
  return parse_reply(*frame);
}

}  // namespace

Result<LayerBlob> RemoteBuilder::add_layer(const LayerRequest& request, std::string& log,
                                           Failure* failure) {
  builder::Request req;
  req.op = builder::Op::add_layer;
  req.layer = request;
  auto reply = exchange(socket_, req, request.cancel);
  if (!reply) return reply.error();
  log += reply->log;
  if (failure) *failure = reply->failure;
  if (!reply->ok) return make_error(Errc::io_error, reply->error);
  if (!reply->layer) return make_error(Errc::io_error, "airheal-builder returned no layer");
  // The layer is read back from the work folder by this side too: the builder's word on its
  // digests is checked, not taken.
  return read_added_layer(request.work / request.out, request.base_layers);
}

Result<std::vector<CheckOutcome>> RemoteBuilder::check(const CheckRequest& request,
                                                       std::string& log) {
  builder::Request req;
  req.op = builder::Op::check;
  req.check = request;
  auto reply = exchange(socket_, req, request.cancel);
  if (!reply) return reply.error();
  log += reply->log;
  if (!reply->ok) return make_error(Errc::io_error, reply->error);
  if (reply->outcomes.size() != request.runs.size())
    return make_error(Errc::io_error,
                      "airheal-builder returned " + std::to_string(reply->outcomes.size()) +
                          " outcomes for " + std::to_string(request.runs.size()) + " checks");
  return reply->outcomes;
}

Status RemoteBuilder::host_rpm(const HostRpmRequest& request, std::string& log) {
  builder::Request req;
  req.op = builder::Op::host_rpm;
  req.rpm = request;
  auto reply = exchange(socket_, req, nullptr);
  if (!reply) return reply.error();
  log += reply->log;
  if (!reply->ok) return make_error(Errc::invalid_argument, reply->error);
  return {};
}

std::map<std::string, std::string> RemoteBuilder::tool_versions() {
  builder::Request req;
  req.op = builder::Op::versions;
  auto reply = exchange(socket_, req, nullptr);
  if (!reply || !reply->ok) return {};
  return reply->versions;
}

void RemoteBuilder::reset() {
  builder::Request req;
  req.op = builder::Op::reset;
  (void)exchange(socket_, req, nullptr);
}

}  // namespace airheal::heal
