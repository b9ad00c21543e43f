// OCI Distribution Spec v1.1 request handling, free of network I/O. The HTTP session reads a
// request head, asks prepare() what to do, feeds any body to the returned consumer and writes
// the Response. Unit tests drive it directly; integration tests go through the real server.
#pragma once

#include <algorithm>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/fs.hpp"
#include "registry/auth.hpp"
#include "store/store.hpp"

namespace airheal::registry {

namespace http = boost::beast::http;

struct RegistryOptions {
  bool delete_enabled = true;
  std::size_t max_manifest_bytes = 4u << 20;
  std::size_t max_page_size = 10000;  // largest n for tag and catalog listings
  // Repository patterns whose tags written by snapshot imports and heals may be overwritten or
  // deleted through the registry; everywhere else those tags are protected (403 DENIED).
  std::vector<std::string> push_over_managed_tags;
};

// A refused write (a user without the right, a protected tag): USER ("" for an anonymous or
// loopback client), what was refused and why.
using DeniedHook = std::function<void(const std::string& user, const std::string& action,
                                      const std::string& repository, const std::string& reason)>;

struct FileSpan {
  std::shared_ptr<fs::UniqueFd> fd;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct Response {
  http::status status = http::status::ok;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<FileSpan> file;                 // streamed after the header
  std::optional<std::uint64_t> content_length;  // for HEAD: announced, not sent
  bool close = false;

  std::string header(std::string_view name) const;  // "" when absent
};

// Receives a request body in pieces. write() returns a response to stop early with an error.
class BodyConsumer {
 public:
  virtual ~BodyConsumer() = default;
  virtual std::optional<Response> write(const char* data, std::size_t size) = 0;
  virtual Response finish() = 0;
};

struct Prepared {
  std::optional<Response> response;        // set: answer now (any body is not wanted)
  std::unique_ptr<BodyConsumer> consumer;  // set: stream the body into it, then finish()
  std::uint64_t body_limit = 0;            // for the consumer
};

struct ClientInfo {
  bool loopback = false;
  bool tls = false;
  // A connection on the daemon's local socket: the kernel's SO_PEERCRED names the Unix user.
  bool local = false;
  std::string unix_user;
};

Response error_response(http::status status, std::string_view code, std::string_view message);
Response error_response(const Error& error);

// Who may do what on the API routes: reads follow the pull policy, writes need credentials.
struct ApiAccess {
  bool read = false, write = false;
  bool challenge = false;          // answer 401 with a Basic challenge when refused
  std::string user;                // the authenticated user, or "loopback"
  std::string write_denied;        // why an authenticated user may not write (403 rather than 401)
  std::vector<std::string> roles;  // beyond viewer (registry/auth.hpp)
  bool local = false;              // airhealctl on this host, named by SO_PEERCRED
  bool has_role(std::string_view role) const {
    return role == "viewer" || std::find(roles.begin(), roles.end(), role) != roles.end();
  }
};

// Routes served next to /v2/ (the REST API, metrics, the dashboard), set by the appliance.
class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  virtual bool handles(std::string_view path) const = 0;
  virtual Prepared prepare(const http::request_header<>& head, const std::string& path,
                           const std::multimap<std::string, std::string>& query,
                           const ApiAccess& access) = 0;
};

class Registry {
 public:
  Registry(store::Store& store, Authenticator& auth, RegistryOptions options)
      : store_(store), auth_(auth), options_(options) {}
  void set_api(ApiHandler* api) { api_ = api; }
  void set_denied_hook(DeniedHook hook) { denied_ = std::move(hook); }

  Prepared prepare(const http::request_header<>& head, const ClientInfo& client);

 private:
  struct Target;
  Prepared route(const http::request_header<>& head, const Target& t);
  Prepared blob(const http::request_header<>& head, const Target& t);
  Prepared start_upload(const http::request_header<>& head, const Target& t);
  Prepared upload(const http::request_header<>& head, const Target& t);
  Prepared manifest(const http::request_header<>& head, const Target& t);
  Prepared tags(const Target& t);
  Prepared catalog(const Target& t);
  Prepared referrers(const Target& t);

  store::Store& store_;
  Authenticator& auth_;
  RegistryOptions options_;
  ApiHandler* api_ = nullptr;
  DeniedHook denied_;
  Response deny(const std::string& user, const std::string& action, const std::string& repository,
                const std::string& reason);
  bool managed_tag_protected(const std::string& repository, const std::string& tag);
};

}  // namespace airheal::registry
