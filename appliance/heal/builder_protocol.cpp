#include "heal/builder_protocol.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <regex>

#include "core/digest.hpp"

namespace airheal::heal::builder {
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

const char* op_name(Op op) {
  return op == Op::add_layer  ? "add_layer"
         : op == Op::check    ? "check"
         : op == Op::reset    ? "reset"
         : op == Op::host_rpm ? "host_rpm"
                              : "versions";
}

json failure_json(const Failure& f) { return {{"class", to_slug(f.cls)}, {"lines", f.lines}}; }

// Typed field readers that refuse what is not of the shape asked for.
struct Reader {
  const json& j;
  std::string where;
  std::optional<std::string> problem;

  void fail(const std::string& why) {
    if (!problem) problem = where + ": " + why;
  }
  std::string str(const char* key, bool required = true) {
    if (!j.contains(key)) {
      if (required) fail(std::string("no \"") + key + "\"");
      return {};
    }
    if (!j[key].is_string()) {
      fail(std::string("\"") + key + "\" is not a string");
      return {};
    }
    auto s = j[key].get<std::string>();
    if (s.size() > kMaxStringBytes || s.find('\0') != std::string::npos) {
      fail(std::string("\"") + key + "\" is too long or holds a NUL byte");
      return {};
    }
    return s;
  }
  std::vector<std::string> strings(const json& a, const char* what, std::size_t max) {
    std::vector<std::string> out;
    if (!a.is_array() || a.size() > max) {
      fail(std::string(what) + " is not a list of at most " + std::to_string(max));
      return out;
    }
    for (const auto& x : a) {
      if (!x.is_string() || x.get_ref<const std::string&>().size() > kMaxStringBytes ||
          x.get_ref<const std::string&>().find('\0') != std::string::npos) {
        fail(std::string(what) + " holds something that is not a string");
        return {};
      }
      out.push_back(x.get<std::string>());
    }
    return out;
  }
  std::int64_t integer(const char* key, std::int64_t lo, std::int64_t hi) {
    if (!j.contains(key)) return 0;
    if (!j[key].is_number_integer()) {
      fail(std::string("\"") + key + "\" is not an integer");
      return 0;
    }
    auto v = j[key].get<std::int64_t>();
    if (v < lo || v > hi) fail(std::string("\"") + key + "\" is out of range");
    return v;
  }
  const json& array(const char* key) {
    static const json empty = json::array();
    if (!j.contains(key)) return empty;
    if (!j[key].is_array() || j[key].size() > kMaxItems) {
      fail(std::string("\"") + key + "\" is not a list of at most " + std::to_string(kMaxItems));
      return empty;
    }
    return j[key];
  }
};

bool valid_name(const std::string& s) {
  static const std::regex re("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  return std::regex_match(s, re);
}

// An absolute, normalised path with no "." or ".." component (inside the image or on the host).
bool clean_absolute(const std::string& p) {
  if (p.empty() || p[0] != '/' || p.size() > 4096) return false;
  std::size_t i = 1;
  while (i <= p.size()) {
    auto slash = p.find('/', i);
    auto part = p.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
    if (part.empty() ? slash != std::string::npos : (part == "." || part == "..")) return false;
    if (slash == std::string::npos) break;
    i = slash + 1;
  }
  return true;
}

// P resolved (symlinks followed) lies inside ROOT resolved; nullopt when not, or when P does not
// exist.
std::optional<fsys::path> inside(const fsys::path& p, const fsys::path& root) {
  std::error_code ec;
  auto rp = fsys::canonical(p, ec);
  if (ec) return std::nullopt;
  auto rr = fsys::canonical(root, ec);
  if (ec) return std::nullopt;
  auto rel = rp.lexically_relative(rr);
  if (rel.empty() || rel.native().starts_with("..") || rel == ".") return std::nullopt;
  return rp;
}

}  // namespace

json to_json(const Request& r) {
  json j = {{"version", kProtocolVersion}, {"op", op_name(r.op)}};
  if (r.op == Op::add_layer) {
    const auto& l = r.layer;
    auto copies = json::array(), mounts = json::array();
    for (const auto& c : l.copies)
      copies.push_back({{"source", c.source.string()}, {"target", c.target}, {"mode", c.mode}});
    for (const auto& m : l.mounts)
      mounts.push_back(
          {{"host", m.host.string()}, {"target", m.target}, {"read_only", m.read_only}});
    j["layer"] = {
        {"name", l.name}, {"work", l.work.string()},      {"in", l.in},       {"image", l.image},
        {"out", l.out},   {"base_layers", l.base_layers}, {"copies", copies}, {"mounts", mounts},
        {"env", l.env},   {"commands", l.commands}};
  } else if (r.op == Op::check) {
    const auto& c = r.check;
    auto runs = json::array();
    for (const auto& x : c.runs)
      runs.push_back({{"argv", x.argv}, {"timeout_ms", x.timeout.count()}});
    j["check"] = {{"name", c.name},   {"work", c.work.string()}, {"in", c.in},
                  {"image", c.image}, {"memory", c.memory},      {"env", c.env},
                  {"runs", runs}};
  } else if (r.op == Op::host_rpm) {
    auto paths = [](const std::vector<fsys::path>& v) {
      auto a = json::array();
      for (const auto& p : v) a.push_back(p.string());
      return a;
    };
    j["rpm"] = {{"work", r.rpm.work.string()},
                {"root", r.rpm.root},
                {"dbpath", r.rpm.dbpath},
                {"packages", paths(r.rpm.packages)},
                {"signed", paths(r.rpm.signed_packages)}};
  }
  return j;
}

json to_json(const Reply& r) {
  json j = {{"ok", r.ok}, {"log", r.log}, {"failure", failure_json(r.failure)}};
  if (!r.error.empty()) j["error"] = r.error;
  if (r.layer)
    j["layer"] = {{"media_type", r.layer->media_type},
                  {"digest", r.layer->digest.str()},
                  {"diff_id", r.layer->diff_id.str()},
                  {"size", r.layer->size},
                  {"file", r.layer->file.string()}};
  auto outcomes = json::array();
  for (const auto& o : r.outcomes)
    outcomes.push_back({{"passed", o.passed}, {"timed_out", o.timed_out}, {"failure", o.failure}});
  j["outcomes"] = outcomes;
  if (!r.versions.empty()) j["versions"] = r.versions;
  return j;
}

Result<Request> request_from_json(const json& j) {
  if (!j.is_object()) return make_error(Errc::invalid_argument, "request: not a JSON object");
  Reader top{j, "request"};
  if (top.integer("version", 1, 1000) != kProtocolVersion)
    return make_error(Errc::unsupported,
                      "request: protocol version " + std::to_string(kProtocolVersion) + " only");
  auto op = top.str("op");
  if (top.problem) return make_error(Errc::invalid_argument, *top.problem);
  Request r;
  if (op == "reset" || op == "versions") {
    r.op = op == "reset" ? Op::reset : Op::versions;
    return r;
  }
  if (op != "add_layer" && op != "check" && op != "host_rpm")
    return make_error(Errc::invalid_argument, "request: unknown op \"" + op + "\"");
  const char* key = op == "add_layer" ? "layer" : op == "check" ? "check" : "rpm";
  if (!j.contains(key) || !j[key].is_object())
    return make_error(Errc::invalid_argument, std::string("request: no \"") + key + "\" object");
  Reader f{j[key], key};
  if (op == "host_rpm") {
    r.op = Op::host_rpm;
    auto& h = r.rpm;
    h.work = f.str("work");
    h.root = f.str("root");
    h.dbpath = f.str("dbpath");
    for (const auto& p : f.strings(f.array("packages"), "packages", kMaxItems))
      h.packages.push_back(p);
    for (const auto& p : f.strings(f.array("signed"), "signed", kMaxItems))
      h.signed_packages.push_back(p);
  } else if (op == "add_layer") {
    r.op = Op::add_layer;
    auto& l = r.layer;
    l.name = f.str("name");
    l.work = f.str("work");
    l.in = f.str("in");
    l.image = f.str("image");
    l.out = f.str("out");
    l.base_layers = static_cast<std::size_t>(f.integer("base_layers", 0, 1000));
    for (const auto& c : f.array("copies")) {
      if (!c.is_object()) {
        f.fail("a copy is not an object");
        break;
      }
      Reader cr{c, "copy"};
      CopyIn ci;
      ci.source = cr.str("source");
      ci.target = cr.str("target");
      ci.mode = static_cast<int>(cr.integer("mode", 0, 07777));
      if (cr.problem) f.fail(*cr.problem);
      l.copies.push_back(std::move(ci));
    }
    for (const auto& m : f.array("mounts")) {
      if (!m.is_object()) {
        f.fail("a mount is not an object");
        break;
      }
      Reader mr{m, "mount"};
      BuildMount bm;
      bm.host = mr.str("host");
      bm.target = mr.str("target");
      if (m.contains("read_only") && !m["read_only"].is_boolean())
        mr.fail("\"read_only\" is not a boolean");
      else
        bm.read_only = m.value("read_only", true);
      if (mr.problem) f.fail(*mr.problem);
      l.mounts.push_back(std::move(bm));
    }
    l.env = f.strings(f.array("env"), "env", kMaxItems);
    const auto& commands = f.array("commands");
    if (commands.size() > kMaxCommands) f.fail("too many commands");
    for (const auto& c : commands) l.commands.push_back(f.strings(c, "a command", kMaxArgs));
  } else {
    r.op = Op::check;
    auto& c = r.check;
    c.name = f.str("name");
    c.work = f.str("work");
    c.in = f.str("in");
    c.image = f.str("image");
    c.memory = static_cast<std::uint64_t>(f.integer("memory", 0, std::int64_t{1} << 50));
    c.env = f.strings(f.array("env"), "env", kMaxItems);
    for (const auto& x : f.array("runs")) {
      if (!x.is_object() || !x.contains("argv")) {
        f.fail("a run is not an object with argv");
        break;
      }
      Reader xr{x, "run"};
      CheckRun run;
      run.argv = xr.strings(x["argv"], "argv", kMaxArgs);
      run.timeout = std::chrono::milliseconds(xr.integer("timeout_ms", 0, 86400000));
      if (xr.problem) f.fail(*xr.problem);
      c.runs.push_back(std::move(run));
    }
  }
  if (f.problem) return make_error(Errc::invalid_argument, *f.problem);
  return r;
}

Result<Reply> reply_from_json(const json& j) {
  if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean())
    return make_error(Errc::invalid_argument, "builder reply: not an object with \"ok\"");
  Reply r;
  r.ok = j["ok"].get<bool>();
  Reader top{j, "builder reply"};
  r.error = top.str("error", false);
  if (j.contains("log") && j["log"].is_string()) r.log = j["log"].get<std::string>();
  if (j.contains("failure") && j["failure"].is_object()) {
    r.failure.cls = failure_class_from_slug(j["failure"].value("class", ""));
    r.failure.lines = j["failure"].value("lines", "");
  }
  if (j.contains("layer") && j["layer"].is_object()) {
    const auto& l = j["layer"];
    Reader lr{l, "builder reply layer"};
    LayerBlob b;
    b.media_type = lr.str("media_type");
    auto d = Digest::parse(lr.str("digest"));
    auto di = Digest::parse(lr.str("diff_id"));
    b.file = lr.str("file");
    b.size = static_cast<std::uint64_t>(lr.integer("size", 0, std::int64_t{1} << 50));
    if (lr.problem || !d || !di)
      return make_error(Errc::invalid_argument, "builder reply: a malformed layer");
    b.digest = *d;
    b.diff_id = *di;
    r.layer = b;
  }
  for (const auto& o : top.array("outcomes")) {
    if (!o.is_object()) return make_error(Errc::invalid_argument, "builder reply: bad outcome");
    CheckOutcome c;
    c.passed = o.value("passed", false);
    c.timed_out = o.value("timed_out", false);
    c.failure = o.value("failure", "");
    r.outcomes.push_back(std::move(c));
  }
  if (j.contains("versions") && j["versions"].is_object()) {
    if (j["versions"].size() > 16)
      return make_error(Errc::invalid_argument, "builder reply: too many tool versions");
    for (const auto& [tool, line] : j["versions"].items()) {
      if (!line.is_string() || tool.size() > 64 || line.get<std::string>().size() > 512)
        return make_error(Errc::invalid_argument, "builder reply: a malformed tool version");
      r.versions[tool] = line.get<std::string>();
    }
  }
  if (top.problem) return make_error(Errc::invalid_argument, *top.problem);
  return r;
}

namespace {

// The work folder: a folder inside the work root, named without "..", reached without symlinks,
// and not the builder's own storage (heal/buildah). Its real path goes to REAL.
std::optional<std::string> check_work(const fsys::path& work, const Policy& policy,
                                      fsys::path& real) {
  auto rel = work.lexically_relative(policy.work_root);
  if (!clean_absolute(work.string()) || rel.empty() || rel.native().starts_with("..") ||
      rel == "." || *rel.begin() == "buildah")
    return "the work folder " + work.string() + " is not inside " + policy.work_root.string();
  auto real_work = inside(work, policy.work_root);
  std::error_code ec;
  if (!real_work || *real_work != fsys::weakly_canonical(policy.work_root) / rel ||
      !fsys::is_directory(*real_work, ec))
    return "the work folder " + work.string() + " is not a folder inside " +
           policy.work_root.string() + " reached without symlinks";
  real = *real_work;
  return std::nullopt;
}

// Only what the store holds by digest: blobs/sha256/HE/HEX whose content hashes to HEX.
std::optional<std::string> check_blob(const fsys::path& source, const Policy& policy,
                                      const std::string& what) {
  auto hex = source.filename().string();
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos ||
      source.parent_path() != policy.blobs_root / hex.substr(0, 2))
    return what + " " + source.string() + " is not a blob of the store";
  std::error_code ec;
  auto real = inside(source, policy.blobs_root);
  if (!real || !fsys::is_regular_file(*real, ec))
    return what + " " + source.string() + " is not a blob of the store";
  auto sum = Sha256::of_file(*real);
  if (!sum || sum->hex() != hex)
    return what + " (blob " + hex.substr(0, 12) + ") does not have the digest it is named by";
  return std::nullopt;
}

// A relative path of plain names: no "..", ".", empty or absolute part, at most 16 deep.
bool clean_relative(const std::string& p) {
  if (p.empty() || p.size() > 1024 || p.front() == '/' || p.back() == '/') return false;
  std::size_t parts = 0, at = 0;
  while (at <= p.size()) {
    auto next = p.find('/', at);
    if (next == std::string::npos) next = p.size();
    auto part = p.substr(at, next - at);
    if (part.empty() || part == "." || part == ".." || ++parts > 16 ||
        part.find_first_of(std::string("\0\n", 2)) != std::string::npos)
      return false;
    at = next + 1;
  }
  return true;
}

std::optional<std::string> validate_host_rpm(const HostRpmRequest& h, const Policy& policy) {
  fsys::path real_work;
  if (auto why = check_work(h.work, policy, real_work)) return why;
  if (!valid_name(h.root)) return "the staging root \"" + h.root + "\" is not of the form allowed";
  if (!clean_relative(h.dbpath))
    return "the rpm database path \"" + h.dbpath + "\" is not a plain relative path";
  std::error_code ec;
  auto root = h.work / h.root;
  if (fsys::is_symlink(root, ec) || !fsys::is_directory(root, ec))
    return "the staging root " + root.string() + " is not a folder in the work folder";
  if (h.packages.empty()) return "an rpm request without packages";
  for (const auto& p : h.packages)
    if (auto why = check_blob(p, policy, "the package")) return why;
  for (const auto& p : h.signed_packages)
    if (std::find(h.packages.begin(), h.packages.end(), p) == h.packages.end())
      return "the signed package " + p.string() + " is not one of the request's packages";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> validate(const Request& request, const Policy& policy) {
  if (request.op == Op::reset || request.op == Op::versions) return std::nullopt;
  if (request.op == Op::host_rpm) return validate_host_rpm(request.rpm, policy);
  bool layer = request.op == Op::add_layer;
  const auto& name = layer ? request.layer.name : request.check.name;
  const auto& work = layer ? request.layer.work : request.check.work;
  if (!valid_name(name)) return "the container name \"" + name + "\" is not of the form allowed";
  for (const auto& n :
       layer ? std::vector<std::string>{request.layer.in, request.layer.image, request.layer.out}
             : std::vector<std::string>{request.check.in, request.check.image})
    if (!valid_name(n)) return "the layout or image name \"" + n + "\" is not of the form allowed";
  fsys::path real_work;
  if (auto why = check_work(work, policy, real_work)) return why;
  std::error_code ec;
  const auto& env = layer ? request.layer.env : request.check.env;
  static const std::regex env_re("[A-Za-z_][A-Za-z0-9_]{0,127}=[^\n]*");
  for (const auto& e : env)
    if (!std::regex_match(e, env_re))
      return "the environment entry \"" + e + "\" is not NAME=VALUE";
  if (layer) {
    const auto& l = request.layer;
    if (l.commands.empty() && l.copies.empty()) return "a layer request that does nothing";
    for (const auto& c : l.commands)
      if (c.empty() || c[0].empty()) return "an empty command";
    for (const auto& c : l.copies) {
      if (!clean_absolute(c.target) || c.target == "/")
        return "the copy target " + c.target + " is not an absolute path inside the image";
      if (auto why = check_blob(c.source, policy, "the copied file")) return why;
    }
    for (const auto& m : l.mounts) {
      if (!clean_absolute(m.target) || m.target == "/")
        return "the mount point " + m.target + " is not an absolute path inside the image";
      // Mounts are the heal's own local repository and scratch folders, inside its work folder.
      if (!clean_absolute(m.host.string()) || !inside(m.host, real_work) ||
          fsys::is_symlink(m.host, ec))
        return "the mounted folder " + m.host.string() + " is not inside the work folder";
    }
  } else {
    for (const auto& r : request.check.runs)
      if (r.argv.empty() || r.argv[0].empty()) return "an empty check command";
  }
  return std::nullopt;
}

Status write_frame(int fd, const std::string& bytes) {
  if (bytes.size() > 0xffffffffu) return make_error(Errc::too_large, "frame over 4 GiB");
  unsigned char head[4] = {static_cast<unsigned char>(bytes.size() >> 24),
                           static_cast<unsigned char>(bytes.size() >> 16),
                           static_cast<unsigned char>(bytes.size() >> 8),
                           static_cast<unsigned char>(bytes.size())};
  auto send_all = [&](const char* p, std::size_t n) -> Status {
    while (n) {
      auto w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return make_error(Errc::io_error, std::string("send: ") + std::strerror(errno));
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return {};
  };
  if (auto st = send_all(reinterpret_cast<const char*>(head), 4); !st) return st;
  return send_all(bytes.data(), bytes.size());
}

Result<std::string> read_frame(int fd, std::size_t max) {
  auto recv_all = [&](char* p, std::size_t n) -> Status {
    while (n) {
      auto r = ::recv(fd, p, n, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return make_error(Errc::io_error, "the connection closed");
      if (r < 0) return make_error(Errc::io_error, std::string("recv: ") + std::strerror(errno));
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return {};
  };
  unsigned char head[4];
  if (auto st = recv_all(reinterpret_cast<char*>(head), 4); !st) return st.error();
  std::size_t n = (std::size_t{head[0]} << 24) | (std::size_t{head[1]} << 16) |
                  (std::size_t{head[2]} << 8) | head[3];
  if (n > max)
    return make_error(Errc::too_large, "a frame of " + std::to_string(n) +
                                           " bytes, over the limit of " + std::to_string(max));
  std::string bytes(n, '\0');
  if (auto st = recv_all(bytes.data(), n); !st) return st.error();
  return bytes;
}

}  // namespace airheal::heal::builder
