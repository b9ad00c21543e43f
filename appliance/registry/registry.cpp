#include "registry/registry.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

namespace airheal::registry {

using json = nlohmann::json;

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (boost::beast::iequals(k, name)) return v;
  return {};
}

Response error_response(http::status status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  json body = {
      {"errors", json::array({{{"code", code}, {"message", message}, {"detail", nullptr}}})}};
  r.body = body.dump();
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

Response error_response(const Error& e) {
  using s = http::status;
  switch (e.code) {
    case Errc::blob_unknown:
      return error_response(s::not_found, "BLOB_UNKNOWN", e.message);
    case Errc::blob_upload_unknown:
      return error_response(s::not_found, "BLOB_UPLOAD_UNKNOWN", e.message);
    case Errc::blob_upload_invalid:
      return error_response(s::bad_request, "BLOB_UPLOAD_INVALID", e.message);
    case Errc::range_invalid:
      return error_response(s::range_not_satisfiable, "BLOB_UPLOAD_INVALID", e.message);
    case Errc::digest_invalid:
      return error_response(s::bad_request, "DIGEST_INVALID", e.message);
    case Errc::size_invalid:
      return error_response(s::bad_request, "SIZE_INVALID", e.message);
    case Errc::manifest_unknown:
      return error_response(s::not_found, "MANIFEST_UNKNOWN", e.message);
    case Errc::manifest_invalid:
      return error_response(s::bad_request, "MANIFEST_INVALID", e.message);
    case Errc::manifest_blob_unknown:
      return error_response(s::bad_request, "MANIFEST_BLOB_UNKNOWN", e.message);
    case Errc::name_invalid:
      return error_response(s::bad_request, "NAME_INVALID", e.message);
    case Errc::name_unknown:
      return error_response(s::not_found, "NAME_UNKNOWN", e.message);
    case Errc::tag_invalid:
      return error_response(s::bad_request, "MANIFEST_INVALID", e.message);
    case Errc::too_large:
      return error_response(s::payload_too_large, "SIZE_INVALID", e.message);
    case Errc::unsupported:
      return error_response(s::bad_request, "UNSUPPORTED", e.message);
    case Errc::denied:
      return error_response(s::forbidden, "DENIED", e.message);
    case Errc::unauthorized:
      return error_response(s::unauthorized, "UNAUTHORIZED", e.message);
    case Errc::conflict:
      return error_response(s::conflict, "DENIED", e.message);
    case Errc::invalid_argument:
      return error_response(s::bad_request, "UNSUPPORTED", e.message);
    case Errc::not_found:
      return error_response(s::not_found, "NAME_UNKNOWN", e.message);
    case Errc::io_error:
      return error_response(s::internal_server_error, "UNKNOWN", e.message);
  }
  return error_response(s::internal_server_error, "UNKNOWN", e.message);
}

namespace {
// Tags one manifest push may set with ?tag= (the spec asks for at least 10).
constexpr std::size_t kMaxTagParams = 100;

Prepared now(Response r) {
  Prepared p;
  p.response = std::move(r);
  return p;
}
Prepared now(const Error& e) { return now(error_response(e)); }

Response empty(http::status s) {
  Response r;
  r.status = s;
  return r;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int a = hex(in[i + 1]), b = hex(in[i + 2]);
      if (a < 0 || b < 0) return std::nullopt;
      char d = static_cast<char>(a * 16 + b);
      if (d == '\0') return std::nullopt;
      out.push_back(d);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string url_escape(std::string_view in) {
  static const char* hexd = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hexd[c >> 4]);
      out.push_back(hexd[c & 15]);
    }
  }
  return out;
}

bool is_write(http::verb v) {
  return v == http::verb::post || v == http::verb::put || v == http::verb::patch ||
         v == http::verb::delete_;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "start-end" (Content-Range on uploads, inclusive) -> (start, end)
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_content_range(std::string_view s) {
  if (s.substr(0, 6) == "bytes ") s.remove_prefix(6);
  if (s.substr(0, 6) == "bytes=") s.remove_prefix(6);
  auto slash = s.find('/');
  if (slash != std::string_view::npos) s = s.substr(0, slash);
  auto dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = parse_u64(s.substr(0, dash)), b = parse_u64(s.substr(dash + 1));
  if (!a || !b || *b < *a) return std::nullopt;
  return std::make_pair(*a, *b);
}

void add_upload_headers(Response& r, const std::string& repo, const std::string& uuid,
                        std::uint64_t offset) {
  r.headers.emplace_back("Location", "/v2/" + repo + "/blobs/uploads/" + uuid);
  r.headers.emplace_back("Range", "0-" + std::to_string(offset == 0 ? 0 : offset - 1));
  r.headers.emplace_back("Docker-Upload-UUID", uuid);
  r.headers.emplace_back("Content-Length", "0");
}

// Streams a body into an upload session: PATCH (a chunk), PUT (the last chunk, then finish)
// and POST ?digest= (the whole blob at once).
class UploadConsumer final : public BodyConsumer {
 public:
  enum class Mode { chunk, finish };
  UploadConsumer(store::Store& s, std::string repo, std::string uuid,
                 std::unique_ptr<store::UploadWriter> w, Mode mode, std::optional<Digest> digest,
                 std::optional<std::uint64_t> expected_length)
      : store_(s),
        repo_(std::move(repo)),
        uuid_(std::move(uuid)),
        writer_(std::move(w)),
        mode_(mode),
        digest_(std::move(digest)),
        expected_length_(expected_length) {}

  std::optional<Response> write(const char* data, std::size_t size) override {
    if (auto st = writer_->write(data, size); !st) return error_response(st.error());
    return std::nullopt;
  }

  Response finish() override {
    if (expected_length_ && writer_->written() != *expected_length_)
      return error_response(http::status::range_not_satisfiable, "BLOB_UPLOAD_INVALID",
                            "Content-Range announced " + std::to_string(*expected_length_) +
                                " bytes, got " + std::to_string(writer_->written()));
    const auto& uuid = uuid_;
    auto offset = writer_->commit();
    writer_.reset();
    if (!offset) return error_response(offset.error());
    if (mode_ == Mode::chunk) {
      Response r = empty(http::status::accepted);
      add_upload_headers(r, repo_, uuid, *offset);
      return r;
    }
    auto done = store_.finish_upload(repo_, uuid, *digest_);
    if (!done) return error_response(done.error());
    Response r = empty(http::status::created);
    r.headers.emplace_back("Location", "/v2/" + repo_ + "/blobs/" + digest_->str());
    r.headers.emplace_back("Docker-Content-Digest", digest_->str());
    r.headers.emplace_back("Content-Length", "0");
    return r;
  }

 private:
  store::Store& store_;
  std::string repo_;
  std::string uuid_;
  std::unique_ptr<store::UploadWriter> writer_;
  Mode mode_;
  std::optional<Digest> digest_;
  std::optional<std::uint64_t> expected_length_;
};

class ManifestConsumer final : public BodyConsumer {
 public:
  ManifestConsumer(store::Store& s, std::string repo, std::string ref, std::string content_type,
                   std::size_t limit, std::vector<std::string> tags)
      : store_(s),
        repo_(std::move(repo)),
        ref_(std::move(ref)),
        content_type_(std::move(content_type)),
        limit_(limit),
        tags_(std::move(tags)) {}

  std::optional<Response> write(const char* data, std::size_t size) override {
    if (bytes_.size() + size > limit_) {
      auto r = error_response(http::status::payload_too_large, "MANIFEST_INVALID",
                              "manifest is larger than " + std::to_string(limit_) + " bytes");
      r.close = true;
      return r;
    }
    bytes_.append(data, size);
    return std::nullopt;
  }

  Response finish() override {
    auto res = store_.put_manifest(repo_, ref_, bytes_, content_type_, "push", tags_);
    if (!res) return error_response(res.error());
    Response r = empty(http::status::created);
    r.headers.emplace_back("Location", "/v2/" + repo_ + "/manifests/" + res->digest.str());
    r.headers.emplace_back("Docker-Content-Digest", res->digest.str());
    if (res->subject) r.headers.emplace_back("OCI-Subject", res->subject->str());
    // Tags given as ?tag= parameters, one OCI-Tag field each (distribution spec, end-7b).
    if (ref_.find(':') != std::string::npos)
      for (const auto& tag : res->tags) r.headers.emplace_back("OCI-Tag", tag);
    r.headers.emplace_back("Content-Length", "0");
    return r;
  }

 private:
  store::Store& store_;
  std::string repo_, ref_, content_type_;
  std::size_t limit_;
  std::vector<std::string> tags_;
  std::string bytes_;
};

}  // namespace

struct Registry::Target {
  enum class Kind { ping, catalog, manifest, blob, upload_start, upload, tags, referrers } kind;
  std::string name;
  std::string ref;  // reference, digest or upload uuid
  std::multimap<std::string, std::string> query;
  std::string user;  // the authenticated user; empty for anonymous and loopback clients
  std::optional<std::string> q(const std::string& k) const {
    auto it = query.find(k);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

Prepared Registry::prepare(const http::request_header<>& head, const ClientInfo& client) {
  const auto target = std::string_view(head.target().data(), head.target().size());
  if (target.empty() || target[0] != '/')
    return now(error_response(http::status::bad_request, "UNSUPPORTED",
                              "request target must be an absolute path"));
  auto qpos = target.find('?');
  auto raw_path = target.substr(0, qpos);
  auto path = percent_decode(raw_path, false);
  if (!path)
    return now(error_response(http::status::bad_request, "NAME_INVALID",
                              "malformed percent-encoding in path"));

  Target t{Target::Kind::ping, {}, {}, {}};
  if (qpos != std::string_view::npos) {
    auto qs = target.substr(qpos + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      auto kv = qs.substr(0, amp);
      auto eq = kv.find('=');
      auto k = percent_decode(kv.substr(0, eq), true);
      auto v = percent_decode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1),
                              true);
      if (!k || !v)
        return now(
            error_response(http::status::bad_request, "UNSUPPORTED", "malformed query string"));
      t.query.emplace(*k, *v);
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }

  // Access control comes before anything that reveals whether a repository exists.
  auto authz = head[http::field::authorization];
  std::string user;
  auto decision = auth_.decide(is_write(head.method()), client.loopback, client.tls,
                               std::string_view(authz.data(), authz.size()), &user);
  auto challenge = [](Response r) {
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"airheal\"");
    return r;
  };
  if (api_ && api_->handles(*path) && client.local) {
    // airhealctl on this host: the kernel named the Unix user; it acts as its mapped airheal user
    // with that user's roles.
    ApiAccess access;
    access.local = true;
    access.read = true;
    access.user = local_user_for(auth_.policy().local_users, client.unix_user);
    if (access.user.empty()) {
      access.write_denied = "Unix user '" + client.unix_user +
                            "' is not an airheal user (map it in auth.local_users)";
    } else {
      auto r = local_rights(auth_.users(), access.user);
      access.roles = r.roles;
      access.write = r.api_write;
      if (!access.write)
        access.write_denied = "airheal user " + access.user +
                              " has only the viewer role (airhealctl user add " + access.user +
                              " --no-password --role ...)";
    }
    return api_->prepare(head, *path, t.query, access);
  }
  if (api_ && api_->handles(*path)) {
    // The operations surface: reads as pulls; writes only with a user's credentials (or, when
    // the appliance has no users, from loopback).
    ApiAccess access;
    auto read = auth_.decide(false, client.loopback, client.tls,
                             std::string_view(authz.data(), authz.size()));
    access.read = read == Decision::allow || read == Decision::read_only;
    if (auth_.has_users()) {
      // Changes through the API need a user with the api=write right.
      access.write = !authz.empty() && decision == Decision::allow && !user.empty() &&
                     auth_.rights(user).api_write;
      if (!user.empty()) {
        access.user = user;
        access.roles = auth_.rights(user).roles;
      }
      if (!user.empty() && !access.write && decision == Decision::allow)
        access.write_denied = "user " + user + " has only the viewer role (airhealctl user add " +
                              user + " ... --role operator|approver|security-admin)";
    } else {
      access.write = client.loopback && decision == Decision::allow;
      access.user = "loopback";
      if (access.write) access.roles = {"approver", "operator", "security-admin"};
    }
    access.challenge = auth_.has_users();
    return api_->prepare(head, *path, t.query, access);
  }
  if (*path == "/v2" || *path == "/v2/") {
    // The ping tells clients whether to bring credentials for what they will do next.
    bool want_creds = authz.empty() && auth_.has_users() &&
                      (!auth_.policy().anonymous_pull ||
                       !(client.loopback && auth_.policy().loopback_push_without_credentials));
    if (decision == Decision::bad_credentials || decision == Decision::credentials_need_tls ||
        want_creds) {
      auto msg = decision == Decision::credentials_need_tls
                     ? "credentials are only accepted over TLS"
                     : "authentication required";
      return now(challenge(error_response(http::status::unauthorized, "UNAUTHORIZED", msg)));
    }
  }
  switch (decision) {
    case Decision::allow:
      break;
    case Decision::read_only:
      return now(error_response(http::status::method_not_allowed, "UNSUPPORTED",
                                "the registry is in read-only mode"));
    case Decision::need_credentials:
      return now(challenge(
          error_response(http::status::unauthorized, "UNAUTHORIZED", "authentication required")));
    case Decision::bad_credentials:
      return now(challenge(error_response(http::status::unauthorized, "UNAUTHORIZED",
                                          "invalid user name or password")));
    case Decision::credentials_need_tls:
      return now(
          challenge(error_response(http::status::unauthorized, "UNAUTHORIZED",
                                   "credentials are only accepted over TLS from other hosts")));
  }

  t.user = user;

  if (*path == "/v2" || *path == "/v2/") {
    if (head.method() != http::verb::get && head.method() != http::verb::head)
      return now(
          error_response(http::status::method_not_allowed, "UNSUPPORTED", "method not allowed"));
    Response r;
    r.body = "{}";
    r.headers.emplace_back("Content-Type", "application/json");
    return now(std::move(r));
  }
  if (raw_path.substr(0, 4) != "/v2/")
    return now(error_response(http::status::not_found, "NAME_UNKNOWN",
                              "not an OCI distribution endpoint"));
  if (*path == "/v2/_catalog") {
    t.kind = Target::Kind::catalog;
    return route(head, t);
  }
  // /v2/<name>/{manifests/<ref>|blobs/<digest>|blobs/uploads/[<uuid>]|tags/list|referrers/<digest>}
  // Split the raw path first and decode each segment alone, so an encoded '/' can never
  // create or move a path separator.
  std::vector<std::string> seg;
  std::string_view rest = raw_path.substr(4);
  for (;;) {
    auto slash = rest.find('/');
    auto decoded = percent_decode(rest.substr(0, slash), false);
    if (!decoded)
      return now(error_response(http::status::bad_request, "NAME_INVALID",
                                "malformed percent-encoding in path"));
    seg.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  auto join = [&](std::size_t count) {
    std::string n;
    for (std::size_t i = 0; i < count; ++i) {
      if (i) n += '/';
      n += seg[i];
    }
    return n;
  };
  const std::size_t n = seg.size();
  if (n >= 4 && seg[n - 3] == "blobs" && seg[n - 2] == "uploads") {
    t.kind = seg[n - 1].empty() ? Target::Kind::upload_start : Target::Kind::upload;
    t.name = join(n - 3);
    t.ref = std::string(seg[n - 1]);
  } else if (n >= 3 && seg[n - 2] == "blobs" && seg[n - 1] == "uploads") {
    t.kind = Target::Kind::upload_start;
    t.name = join(n - 2);
  } else if (n >= 3 && seg[n - 2] == "manifests") {
    t.kind = Target::Kind::manifest;
    t.name = join(n - 2);
    t.ref = std::string(seg[n - 1]);
  } else if (n >= 3 && seg[n - 2] == "blobs") {
    t.kind = Target::Kind::blob;
    t.name = join(n - 2);
    t.ref = std::string(seg[n - 1]);
  } else if (n >= 3 && seg[n - 2] == "tags" && seg[n - 1] == "list") {
    t.kind = Target::Kind::tags;
    t.name = join(n - 2);
  } else if (n >= 3 && seg[n - 2] == "referrers") {
    t.kind = Target::Kind::referrers;
    t.name = join(n - 2);
    t.ref = std::string(seg[n - 1]);
  } else {
    return now(error_response(http::status::not_found, "NAME_UNKNOWN", "unknown endpoint"));
  }
  if (!oci::is_valid_repository_name(t.name))
    return now(error_response(http::status::bad_request, "NAME_INVALID",
                              "invalid repository name '" + t.name.substr(0, 256) + "'"));
  return route(head, t);
}

Prepared Registry::route(const http::request_header<>& head, const Target& t) {
  // A user's rights, per repository: pull for reads, delete for DELETE, push for every other write.
  if (!t.user.empty() && !t.name.empty()) {
    auto m = head.method();
    auto op = m == http::verb::get || m == http::verb::head ? Operation::pull
              : m == http::verb::delete_                    ? Operation::del
                                                            : Operation::push;
    if (!auth_.rights(t.user).may(op, t.name))
      return now(deny(t.user, std::string(to_string(op)), t.name,
                      "user " + t.user + " may not " + to_string(op) + " " + t.name));
  }
  auto m = head.method();
  auto allowed = [&](std::initializer_list<http::verb> verbs) {
    for (auto v : verbs)
      if (v == m) return true;
    return false;
  };
  auto not_allowed = [] {
    return now(error_response(http::status::method_not_allowed, "UNSUPPORTED",
                              "method not allowed on this endpoint"));
  };
  switch (t.kind) {
    case Target::Kind::catalog:
      return allowed({http::verb::get, http::verb::head}) ? catalog(t) : not_allowed();
    case Target::Kind::tags:
      return allowed({http::verb::get, http::verb::head}) ? tags(t) : not_allowed();
    case Target::Kind::referrers:
      return allowed({http::verb::get, http::verb::head}) ? referrers(t) : not_allowed();
    case Target::Kind::manifest:
      return allowed({http::verb::get, http::verb::head, http::verb::put, http::verb::delete_})
                 ? manifest(head, t)
                 : not_allowed();
    case Target::Kind::blob:
      return allowed({http::verb::get, http::verb::head, http::verb::delete_}) ? blob(head, t)
                                                                               : not_allowed();
    case Target::Kind::upload_start:
      return allowed({http::verb::post}) ? start_upload(head, t) : not_allowed();
    case Target::Kind::upload:
      return allowed({http::verb::get, http::verb::patch, http::verb::put, http::verb::delete_})
                 ? upload(head, t)
                 : not_allowed();
    case Target::Kind::ping:
      break;
  }
  return not_allowed();
}

Prepared Registry::blob(const http::request_header<>& head, const Target& t) {
  auto digest = Digest::parse(t.ref);
  if (!digest)
    return now(error_response(http::status::bad_request, "DIGEST_INVALID", digest.error().message));
  if (head.method() == http::verb::delete_) {
    if (!options_.delete_enabled)
      return now(
          error_response(http::status::method_not_allowed, "UNSUPPORTED", "deletion is disabled"));
    auto st = store_.delete_blob(t.name, *digest);
    if (!st) return now(st.error());
    Response r = empty(http::status::accepted);
    r.headers.emplace_back("Content-Length", "0");
    return now(std::move(r));
  }
  auto size = store_.blob_size(t.name, *digest);
  if (!size)
    return now(error_response(http::status::not_found, "BLOB_UNKNOWN",
                              "blob " + digest->str() + " is not in " + t.name));
  auto fd = std::make_shared<fs::UniqueFd>(
      ::open(store_.blob_path(*digest).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat sb {};
  if (!*fd || ::fstat(fd->get(), &sb) != 0 || static_cast<std::uint64_t>(sb.st_size) != *size)
    return now(error_response(http::status::not_found, "BLOB_UNKNOWN",
                              "blob " + digest->str() + " is not available"));
  const std::uint64_t total = *size;
  Response r;
  r.headers.emplace_back("Content-Type", "application/octet-stream");
  r.headers.emplace_back("Docker-Content-Digest", digest->str());
  r.headers.emplace_back("ETag", "\"" + digest->str() + "\"");
  r.headers.emplace_back("Accept-Ranges", "bytes");
  r.headers.emplace_back("Cache-Control", "max-age=31536000");
  std::uint64_t start = 0, length = total;
  auto range = head[http::field::range];
  if (!range.empty()) {
    // bytes=a-b | bytes=a- | bytes=-n (one range only)
    std::string_view rv(range.data(), range.size());
    bool ok = rv.substr(0, 6) == "bytes=" && rv.find(',') == std::string_view::npos;
    std::optional<std::uint64_t> a, b;
    if (ok) {
      rv.remove_prefix(6);
      auto dash = rv.find('-');
      ok = dash != std::string_view::npos;
      if (ok) {
        a = rv.substr(0, dash).empty() ? std::nullopt : parse_u64(rv.substr(0, dash));
        b = rv.substr(dash + 1).empty() ? std::nullopt : parse_u64(rv.substr(dash + 1));
        if (!rv.substr(0, dash).empty() && !a) ok = false;
        if (!rv.substr(dash + 1).empty() && !b) ok = false;
        if (!a && !b) ok = false;
      }
    }
    if (ok) {
      if (!a) {  // suffix
        std::uint64_t n = std::min(*b, total);
        start = total - n;
        length = n;
        ok = n > 0;
      } else {
        std::uint64_t end = b ? std::min(*b, total ? total - 1 : 0) : (total ? total - 1 : 0);
        ok = *a < total && (!b || *b >= *a);
        start = *a;
        length = ok ? end - start + 1 : 0;
      }
    }
    if (!ok) {
      auto e = error_response(http::status::range_not_satisfiable, "BLOB_UNKNOWN",
                              "requested range is not satisfiable");
      e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(total));
      return now(std::move(e));
    }
    r.status = http::status::partial_content;
    r.headers.emplace_back("Content-Range", "bytes " + std::to_string(start) + "-" +
                                                std::to_string(start + length - 1) + "/" +
                                                std::to_string(total));
  }
  if (head.method() == http::verb::head) {
    r.content_length = length;
  } else {
    r.file = FileSpan{fd, start, length};
  }
  return now(std::move(r));
}

Response Registry::deny(const std::string& user, const std::string& action,
                        const std::string& repository, const std::string& reason) {
  if (denied_) denied_(user, action, repository, reason);
  return error_response(http::status::forbidden, "DENIED", reason);
}

bool Registry::managed_tag_protected(const std::string& repository, const std::string& tag) {
  auto origin = store_.tag_origin(repository, tag);
  if (!origin || *origin == "push") return false;
  for (const auto& p : options_.push_over_managed_tags)
    if (::fnmatch(p.c_str(), repository.c_str(), 0) == 0) return false;
  return true;
}

Prepared Registry::start_upload(const http::request_header<>& head, const Target& t) {
  auto mount = t.q("mount");
  if (mount) {
    auto digest = Digest::parse(*mount);
    if (!digest)
      return now(
          error_response(http::status::bad_request, "DIGEST_INVALID", digest.error().message));
    auto from = t.q("from").value_or("");
    if (!from.empty() && !oci::is_valid_repository_name(from))
      return now(error_response(http::status::bad_request, "NAME_INVALID",
                                "invalid 'from' repository name"));
    // Mounting reads the source repository: a user needs the right to pull from it.
    bool may_read_from = t.user.empty() || auth_.rights(t.user).may(Operation::pull, from);
    if (may_read_from && store_.mount_blob(t.name, from, *digest)) {
      Response r = empty(http::status::created);
      r.headers.emplace_back("Location", "/v2/" + t.name + "/blobs/" + digest->str());
      r.headers.emplace_back("Docker-Content-Digest", digest->str());
      r.headers.emplace_back("Content-Length", "0");
      return now(std::move(r));
    }
    // Not mountable: fall back to an ordinary upload session, as the spec says.
  }
  // The running hash uses the algorithm of the digest given for a one-request upload, else the
  // one announced with digest-algorithm= (distribution spec, end-4c), else sha256.
  std::optional<Digest> digest;
  if (auto dg = t.q("digest"); dg && !mount) {
    auto d = Digest::parse(*dg);
    if (!d)
      return now(error_response(http::status::bad_request, "DIGEST_INVALID", d.error().message));
    digest = *d;
  }
  auto algorithm = DigestAlgorithm::sha256;
  if (digest) {
    algorithm = digest->algorithm();
  } else if (auto a = t.q("digest-algorithm")) {
    auto parsed = parse_algorithm(*a);
    if (!parsed)
      return now(
          error_response(http::status::bad_request, "DIGEST_INVALID", parsed.error().message));
    algorithm = *parsed;
  }
  auto up = store_.start_upload(t.name, algorithm);
  if (!up) return now(up.error());
  if (digest) {
    auto w = store_.open_upload(t.name, up->uuid, 0);
    if (!w) return now(w.error());
    Prepared p;
    p.consumer =
        std::make_unique<UploadConsumer>(store_, t.name, up->uuid, std::move(*w),
                                         UploadConsumer::Mode::finish, *digest, std::nullopt);
    p.body_limit = std::numeric_limits<std::uint64_t>::max();
    return p;
  }
  Response r = empty(http::status::accepted);
  add_upload_headers(r, t.name, up->uuid, 0);
  return now(std::move(r));
}

Prepared Registry::upload(const http::request_header<>& head, const Target& t) {
  const auto& uuid = t.ref;
  bool uuid_ok = !uuid.empty() && uuid.size() <= 64;
  for (char c : uuid)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) uuid_ok = false;
  if (!uuid_ok)
    return now(
        error_response(http::status::not_found, "BLOB_UPLOAD_UNKNOWN", "malformed upload id"));
  switch (head.method()) {
    case http::verb::get: {
      auto st = store_.upload_status(t.name, uuid);
      if (!st) return now(st.error());
      Response r = empty(http::status::no_content);
      add_upload_headers(r, t.name, uuid, st->offset);
      return now(std::move(r));
    }
    case http::verb::delete_: {
      auto st = store_.cancel_upload(t.name, uuid);
      if (!st) return now(st.error());
      Response r = empty(http::status::no_content);
      r.headers.emplace_back("Content-Length", "0");
      return now(std::move(r));
    }
    default:
      break;
  }
  std::optional<Digest> digest;
  if (head.method() == http::verb::put) {
    auto dg = t.q("digest");
    if (!dg)
      return now(error_response(http::status::bad_request, "DIGEST_INVALID",
                                "PUT needs a digest parameter"));
    auto d = Digest::parse(*dg);
    if (!d)
      return now(error_response(http::status::bad_request, "DIGEST_INVALID", d.error().message));
    digest = *d;
  }
  std::optional<std::uint64_t> expected_start, expected_length;
  auto cr = head[http::field::content_range];
  if (!cr.empty()) {
    auto range = parse_content_range(std::string_view(cr.data(), cr.size()));
    if (!range) {
      auto st = store_.upload_status(t.name, uuid);
      Response r = error_response(http::status::range_not_satisfiable, "BLOB_UPLOAD_INVALID",
                                  "malformed Content-Range");
      if (st) add_upload_headers(r, t.name, uuid, st->offset);
      r.close = true;
      return now(std::move(r));
    }
    expected_start = range->first;
    expected_length = range->second - range->first + 1;
    auto cl = head[http::field::content_length];
    if (!cl.empty() && parse_u64(std::string_view(cl.data(), cl.size())) != expected_length) {
      Response r = error_response(http::status::range_not_satisfiable, "BLOB_UPLOAD_INVALID",
                                  "Content-Range and Content-Length disagree");
      r.close = true;
      return now(std::move(r));
    }
  }
  auto w = store_.open_upload(t.name, uuid, expected_start);
  if (!w) {
    Response r = error_response(w.error());
    if (w.error().code == Errc::range_invalid) {
      if (auto st = store_.upload_status(t.name, uuid); st)
        add_upload_headers(r, t.name, uuid, st->offset);
    }
    r.close = true;
    return now(std::move(r));
  }
  Prepared p;
  p.consumer = std::make_unique<UploadConsumer>(
      store_, t.name, uuid, std::move(*w),
      head.method() == http::verb::put ? UploadConsumer::Mode::finish : UploadConsumer::Mode::chunk,
      digest, expected_length);
  p.body_limit = std::numeric_limits<std::uint64_t>::max();
  return p;
}

Prepared Registry::manifest(const http::request_header<>& head, const Target& t) {
  bool by_digest = t.ref.find(':') != std::string::npos;
  // A reference that cannot name a manifest: a read finds nothing (404 MANIFEST_UNKNOWN, as the
  // distribution spec's conformance suite expects); a write is refused as invalid.
  bool reads = head.method() == http::verb::get || head.method() == http::verb::head;
  if (by_digest) {
    auto d = Digest::parse(t.ref);
    if (!d && reads)
      return now(error_response(http::status::not_found, "MANIFEST_UNKNOWN",
                                "no manifest " + t.ref.substr(0, 200)));
    if (!d)
      return now(error_response(http::status::bad_request, "DIGEST_INVALID", d.error().message));
  } else if (!oci::is_valid_tag(t.ref)) {
    if (reads)
      return now(error_response(http::status::not_found, "MANIFEST_UNKNOWN",
                                "no manifest " + t.ref.substr(0, 200)));
    return now(error_response(http::status::bad_request, "MANIFEST_INVALID",
                              "invalid tag '" + t.ref.substr(0, 200) + "'"));
  }
  // Tags to set along with a manifest pushed by digest (?tag=, end-7b).
  std::vector<std::string> tag_params;
  if (head.method() == http::verb::put && by_digest) {
    for (auto [it, end] = t.query.equal_range("tag"); it != end; ++it) {
      if (!oci::is_valid_tag(it->second))
        return now(error_response(http::status::bad_request, "MANIFEST_INVALID",
                                  "invalid tag '" + it->second.substr(0, 200) + "'"));
      tag_params.push_back(it->second);
    }
    if (tag_params.size() > kMaxTagParams) {
      auto r = error_response(
          http::status::uri_too_long, "MANIFEST_INVALID",
          "at most " + std::to_string(kMaxTagParams) + " tag parameters per request");
      return now(std::move(r));
    }
  }
  auto protected_tag = [&](const std::string& tag) -> std::optional<Response> {
    if (!managed_tag_protected(t.name, tag)) return std::nullopt;
    auto origin = store_.tag_origin(t.name, tag).value_or("");
    return deny(t.user, head.method() == http::verb::put ? "push to" : "delete in", t.name,
                "tag " + t.name + ":" + tag + " was written by " +
                    (origin == "heal" ? "a heal" : "a snapshot import") +
                    " and is protected from pushes and deletes (registry.push_over_managed_tags "
                    "opts a repository in)");
  };
  if (!by_digest && (head.method() == http::verb::put || head.method() == http::verb::delete_))
    if (auto r = protected_tag(t.ref)) return now(std::move(*r));
  for (const auto& tag : tag_params)
    if (auto r = protected_tag(tag)) return now(std::move(*r));
  switch (head.method()) {
    case http::verb::put: {
      auto cl = head[http::field::content_length];
      if (!cl.empty()) {
        auto len = parse_u64(std::string_view(cl.data(), cl.size()));
        if (len && *len > options_.max_manifest_bytes) {
          auto r = error_response(
              http::status::payload_too_large, "MANIFEST_INVALID",
              "manifest is larger than " + std::to_string(options_.max_manifest_bytes) + " bytes");
          r.close = true;
          return now(std::move(r));
        }
      }
      auto ct = head[http::field::content_type];
      Prepared p;
      p.consumer = std::make_unique<ManifestConsumer>(
          store_, t.name, t.ref, std::string(ct.data(), ct.size()), options_.max_manifest_bytes,
          std::move(tag_params));
      p.body_limit = options_.max_manifest_bytes + 1;
      return p;
    }
    case http::verb::delete_: {
      if (!options_.delete_enabled)
        return now(error_response(http::status::method_not_allowed, "UNSUPPORTED",
                                  "deletion is disabled"));
      auto st = store_.delete_manifest(t.name, t.ref);
      if (!st) return now(st.error());
      Response r = empty(http::status::accepted);
      r.headers.emplace_back("Content-Length", "0");
      return now(std::move(r));
    }
    default:
      break;
  }
  auto rec = store_.get_manifest(t.name, t.ref);
  if (!rec) return now(rec.error());
  Response r;
  r.headers.emplace_back("Content-Type", rec->media_type);
  r.headers.emplace_back("Docker-Content-Digest", rec->digest.str());
  r.headers.emplace_back("ETag", "\"" + rec->digest.str() + "\"");
  if (head.method() == http::verb::head)
    r.content_length = rec->bytes->size();
  else
    r.body = *rec->bytes;
  return now(std::move(r));
}

namespace {
// Parses n and last; returns the effective page size (0 = empty page requested).
std::optional<Error> page_params(const std::optional<std::string>& n_text, std::size_t max,
                                 std::size_t& n, bool& n_given) {
  n_given = n_text.has_value();
  n = max;
  if (n_text) {
    auto v = parse_u64(*n_text);
    if (!v) return make_error(Errc::invalid_argument, "n must be a non-negative integer");
    n = static_cast<std::size_t>(std::min<std::uint64_t>(*v, max));
  }
  return std::nullopt;
}

Response listing(const std::string& key, const std::optional<std::string>& name,
                 const std::vector<std::string>& items, std::size_t n, bool more_possible,
                 const std::string& link_base) {
  json body;
  if (name) body["name"] = *name;
  body[key] = items;
  Response r;
  r.body = body.dump();
  r.headers.emplace_back("Content-Type", "application/json");
  if (more_possible && !items.empty() && items.size() == n)
    r.headers.emplace_back("Link", "<" + link_base + "?n=" + std::to_string(n) +
                                       "&last=" + url_escape(items.back()) + ">; rel=\"next\"");
  return r;
}
}  // namespace

Prepared Registry::tags(const Target& t) {
  std::size_t n = 0;
  bool n_given = false;
  if (auto e = page_params(t.q("n"), options_.max_page_size, n, n_given)) return now(*e);
  auto last = t.q("last").value_or("");
  if (n == 0) {
    auto exists = store_.list_tags(t.name, 1, "");
    if (!exists) return now(exists.error());
    return now(listing("tags", t.name, {}, 0, false, ""));
  }
  auto list = store_.list_tags(t.name, n, last);
  if (!list) return now(list.error());
  return now(listing("tags", t.name, *list, n, true, "/v2/" + t.name + "/tags/list"));
}

Prepared Registry::catalog(const Target& t) {
  std::size_t n = 0;
  bool n_given = false;
  if (auto e = page_params(t.q("n"), options_.max_page_size, n, n_given)) return now(*e);
  if (n == 0) return now(listing("repositories", std::nullopt, {}, 0, false, ""));
  auto list = store_.catalog(n, t.q("last").value_or(""));
  if (!t.user.empty()) {  // only what the user may pull
    auto rights = auth_.rights(t.user);
    list.erase(
        std::remove_if(list.begin(), list.end(),
                       [&](const std::string& r) { return !rights.may(Operation::pull, r); }),
        list.end());
  }
  return now(listing("repositories", std::nullopt, list, n, true, "/v2/_catalog"));
}

Prepared Registry::referrers(const Target& t) {
  auto d = Digest::parse(t.ref);
  if (!d)
    return now(error_response(http::status::bad_request, "DIGEST_INVALID", d.error().message));
  auto filter = t.q("artifactType");
  auto list = store_.referrers(t.name, *d, filter);
  json manifests = json::array();
  for (const auto& ref : list) {
    json e = {{"mediaType", ref.media_type}, {"digest", ref.digest.str()}, {"size", ref.size}};
    if (ref.artifact_type) e["artifactType"] = *ref.artifact_type;
    auto ann = json::parse(ref.annotations_json, nullptr, false);
    if (ann.is_object() && !ann.empty()) e["annotations"] = ann;
    manifests.push_back(std::move(e));
  }
  json body = {
      {"schemaVersion", 2}, {"mediaType", oci::media::kOciIndex}, {"manifests", manifests}};
  Response r;
  r.body = body.dump();
  r.headers.emplace_back("Content-Type", std::string(oci::media::kOciIndex));
  if (filter) r.headers.emplace_back("OCI-Filters-Applied", "artifactType");
  return now(std::move(r));
}

}  // namespace airheal::registry
