#include "builder/server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "builder/handover.hpp"
#include "core/json.hpp"

namespace airheal::builder {
namespace fsys = std::filesystem;
using heal::builder::Op;
using heal::builder::Reply;
using heal::builder::Request;

Server::Server(ServerOptions options) : options_(std::move(options)), buildah_(options_.buildah) {
  if (!options_.log) options_.log = [](const std::string&) {};
}

Server::~Server() {
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    std::error_code ec;
    fsys::remove(options_.socket, ec);
  }
}

Status Server::listen() {
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return make_error(Errc::io_error, std::string("socket: ") + strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options_.socket.native().size() >= sizeof addr.sun_path)
    return make_error(Errc::invalid_argument, "socket path too long: " + options_.socket.string());
  std::strncpy(addr.sun_path, options_.socket.c_str(), sizeof addr.sun_path - 1);
  std::error_code ec;
  if (fsys::is_socket(fsys::symlink_status(options_.socket, ec))) fsys::remove(options_.socket, ec);
  auto old = ::umask(0117);
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0)
    return make_error(Errc::io_error,
                      "cannot listen on " + options_.socket.string() + ": " + strerror(errno));
  if (options_.socket_group &&
      ::chown(options_.socket.c_str(), static_cast<uid_t>(-1), *options_.socket_group) != 0)
    return make_error(Errc::io_error, "cannot give " + options_.socket.string() +
                                          " to its group: " + strerror(errno));
  if (::listen(listen_fd_, 16) != 0)
    return make_error(Errc::io_error, std::string("listen: ") + strerror(errno));
  return {};
}

void Server::serve(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++active_;
    std::thread([this, fd] {
      handle(fd);
      ::close(fd);
      --active_;
    }).detach();
  }
  while (active_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

void Server::handle(int fd) {
  auto answer = [&](const Reply& r) {
    auto j = heal::builder::to_json(r);
    auto log = j["log"].get<std::string>();
    if (log.size() > heal::builder::kMaxLogBytes)
      j["log"] = log.substr(log.size() - heal::builder::kMaxLogBytes);
    (void)heal::builder::write_frame(
        fd, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  auto refuse = [&](const std::string& why) {
    options_.log("refused: " + why);
    Reply r;
    r.error = "airheal-builder refused the request: " + why;
    answer(r);
  };
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      !options_.allowed_uids.count(cred.uid))
    return refuse("uid " + std::to_string(cred.uid) + " may not use the builder");
  timeval tv{30, 0};  // a request arrives whole and promptly, or not at all
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto frame = heal::builder::read_frame(fd, heal::builder::kMaxRequestBytes);
  if (!frame) return refuse(frame.error().message);
  JsonLimits limits;
  limits.max_bytes = heal::builder::kMaxRequestBytes;
  limits.max_depth = 8;
  auto j = parse_json(*frame, limits, "the request");
  if (!j) return refuse(j.error().message);
  auto req = heal::builder::request_from_json(*j);
  if (!req) return refuse(req.error().message);
  if (auto why = heal::builder::validate(*req, options_.policy)) return refuse(*why);

  Reply reply;
  if (req->op == Op::versions) {
    reply.ok = true;
    reply.versions = buildah_.tool_versions();
    return answer(reply);
  }
  if (req->op == Op::reset) {
    std::unique_lock lock(reset_lock_);
    options_.log("reset: removing containers and unused images");
    buildah_.reset();
    reply.ok = true;
    return answer(reply);
  }
  std::shared_lock lock(reset_lock_);
  if (req->op == Op::host_rpm) {
    // The image's rpm database in a staging root: rpm enters it with chroot, as root.
    options_.log("host_rpm in " + req->rpm.work.string() + " for uid " + std::to_string(cred.uid) +
                 ": " + std::to_string(req->rpm.packages.size()) + " package(s)");
    auto ran = buildah_.host_rpm(req->rpm, reply.log);
    reply.ok = static_cast<bool>(ran);
    if (!ran) reply.error = ran.error().message;
    if (cred.uid != 0)
      if (auto handed = hand_over(req->rpm.work, cred.uid, cred.gid); !handed && reply.ok) {
        reply.ok = false;
        reply.error = "the staging root could not be given to uid " + std::to_string(cred.uid) +
                      ": " + handed.error().message;
      }
    options_.log("host_rpm: " + (reply.ok ? std::string("done") : "failed: " + reply.error));
    return answer(reply);
  }
  const auto& name = req->op == Op::add_layer ? req->layer.name : req->check.name;
  const auto& work = req->op == Op::add_layer ? req->layer.work : req->check.work;
  options_.log(std::string(req->op == Op::add_layer ? "add_layer " : "check ") + name + " in " +
               work.string() + " for uid " + std::to_string(cred.uid) + ": started");
  // Rootless builds: the work folder is the build user's while its build runs (buildah reads
  // the input layout there and writes the output), and the requester's again afterwards.
  const auto& build_user = options_.buildah.build_user;
  if (build_user)
    if (auto lent = hand_over_folder(work, build_user->uid, build_user->gid); !lent) {
      (void)hand_over_folder(work, cred.uid, cred.gid);
      return refuse("the work folder could not be lent to the build user: " + lent.error().message);
    }
  // The client going away (airheald killed) cancels the build.
  std::atomic<bool> cancel{false}, done{false};
  std::thread watch([&] {
    while (!done.load()) {
      pollfd p{fd, POLLRDHUP, 0};
      if (::poll(&p, 1, 200) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        cancel = true;
        return;
      }
    }
  });
  if (req->op == Op::add_layer) {
    req->layer.cancel = &cancel;
    auto layer = buildah_.add_layer(req->layer, reply.log, &reply.failure);
    if (layer) {
      reply.ok = true;
      reply.layer = *layer;
    } else {
      reply.error = layer.error().message;
    }
  } else {
    req->check.cancel = &cancel;
    auto outcomes = buildah_.check(req->check, reply.log);
    if (outcomes) {
      reply.ok = true;
      reply.outcomes = *outcomes;
    } else {
      reply.error = outcomes.error().message;
    }
  }
  done = true;
  watch.join();
  // What the build wrote (as root, or as the build user and its subordinate uids) goes to the
  // user who asked: airheald reads the layer and removes the work folder.
  auto handed = build_user      ? hand_over_folder(work, cred.uid, cred.gid)
                : cred.uid == 0 ? Status{}
                                : hand_over(work, cred.uid, cred.gid);
  if (cancel.load()) {
    // Abandoned: the container is gone already (the builder removes it however a build ends);
    // what this build wrote in the work folder goes too.
    std::error_code ec;
    if (req->op == Op::add_layer) fsys::remove_all(work / req->layer.out, ec);
    options_.log(name + ": the client went away; build stopped, container and output removed");
    return;
  }
  if (!handed) {
    reply.ok = false;
    reply.layer.reset();
    reply.error = "the build's files could not be given to uid " + std::to_string(cred.uid) + ": " +
                  handed.error().message;
  }
  options_.log(name + ": " + (reply.ok ? "done" : "failed: " + reply.error));
  answer(reply);
}

}  // namespace airheal::builder
