#include "registry/auth.hpp"

#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pwd.h>

#include <algorithm>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/oci.hpp"

namespace airheal::registry {

namespace {
std::optional<std::string> from_hex(std::string_view h) {
  if (h.size() % 2) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < h.size(); i += 2) {
    auto v = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int a = v(h[i]), b = v(h[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out.push_back(static_cast<char>(a * 16 + b));
  }
  return out;
}

std::string pbkdf2(std::string_view password, std::string_view salt, int iterations) {
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), sizeof out, out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}
}  // namespace

std::optional<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && (in.back() == ' ' || in.back() == '\r' || in.back() == '\n'))
    in.remove_suffix(1);
  if (in.size() % 4 != 0 || in.size() > 8192) return std::nullopt;
  std::string out((in.size() / 4) * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

const char* to_string(Operation op) {
  switch (op) {
    case Operation::pull:
      return "pull from";
    case Operation::push:
      return "push to";
    case Operation::del:
      return "delete in";
  }
  return "?";
}

bool Rights::valid_pattern(std::string_view p) { return oci::is_valid_repository_pattern(p); }

Result<Rights> Rights::parse(std::string_view spec) {
  Rights r;
  while (!spec.empty()) {
    auto semi = spec.find(';');
    auto part = spec.substr(0, semi);
    spec = semi == std::string_view::npos ? std::string_view() : spec.substr(semi + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      return make_error(Errc::invalid_argument,
                        "rights '" + std::string(part) + "' need KIND=PATTERNS");
    auto kind = part.substr(0, eq);
    auto values = part.substr(eq + 1);
    if (kind == "api") {
      if (values != "write" && values != "read")
        return make_error(Errc::invalid_argument, "api= takes read or write");
      if (values == "write" && r.roles.empty())
        r.roles = {"approver", "operator", "security-admin"};
      continue;
    }
    if (kind == "roles") {
      r.roles.clear();
      while (!values.empty()) {
        auto comma = values.find(',');
        auto v = values.substr(0, comma);
        values = comma == std::string_view::npos ? std::string_view() : values.substr(comma + 1);
        if (v.empty() || v == "viewer") continue;
        if (!valid_role(v))
          return make_error(
              Errc::invalid_argument,
              "unknown role '" + std::string(v) + "' (viewer, operator, approver, security-admin)");
        r.roles.emplace_back(v);
      }
      continue;
    }
    std::vector<std::string>* list = kind == "pull"     ? &r.pull
                                     : kind == "push"   ? &r.push
                                     : kind == "delete" ? &r.del
                                                        : nullptr;
    if (!list)
      return make_error(Errc::invalid_argument, "unknown right '" + std::string(kind) +
                                                    "' (pull, push, delete, roles, api)");
    while (!values.empty()) {
      auto comma = values.find(',');
      auto v = values.substr(0, comma);
      values = comma == std::string_view::npos ? std::string_view() : values.substr(comma + 1);
      if (v.empty()) continue;
      if (!valid_pattern(v))
        return make_error(Errc::invalid_argument, "repository pattern '" + std::string(v) +
                                                      "' may hold a-z 0-9 . _ - / * ? only");
      list->emplace_back(v);
    }
  }
  std::sort(r.roles.begin(), r.roles.end());
  r.roles.erase(std::unique(r.roles.begin(), r.roles.end()), r.roles.end());
  r.api_write = !r.roles.empty();
  return r;
}

std::string local_user_for(const std::map<std::string, std::string>& local_users,
                           const std::string& unix_name) {
  if (auto it = local_users.find(unix_name); it != local_users.end()) return it->second;
  return unix_name == "root" ? "root" : "";
}

Rights local_rights(const UserFile& users, const std::string& user) {
  if (users.users().count(user)) return users.rights(user);
  Rights r;
  if (user == "root") {
    r.pull = {"*"};
    r.roles = {"approver", "operator", "security-admin"};
    r.api_write = true;
  }
  return r;
}

std::string unix_user_name(unsigned uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return {};
  return found->pw_name;
}

bool valid_role(std::string_view role) {
  for (const char* r : kRoles)
    if (role == r) return true;
  return false;
}

bool Rights::has_role(std::string_view role) const {
  return role == "viewer" || std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::string Rights::str() const {
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  return "pull=" + join(pull) + ";push=" + join(push) + ";delete=" + join(del) +
         ";roles=" + join(roles.empty() ? std::vector<std::string>{"viewer"} : roles);
}

bool Rights::may(Operation op, std::string_view repository) const {
  const auto& list = op == Operation::pull ? pull : op == Operation::push ? push : del;
  std::string repo(repository);
  for (const auto& p : list)
    if (::fnmatch(p.c_str(), repo.c_str(), 0) == 0) return true;
  return false;
}

Rights UserFile::rights(const std::string& user) const {
  if (auto it = rights_.find(user); it != rights_.end()) return it->second;
  Rights r;
  r.pull = {"*"};
  return r;
}

bool UserFile::valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

std::string UserFile::hash_password(std::string_view password, int iterations) {
  auto salt = random_hex(16);
  auto raw_salt = *from_hex(salt);
  auto h = pbkdf2(password, raw_salt, iterations);
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + salt + "$" +
         to_hex(reinterpret_cast<const unsigned char*>(h.data()), h.size());
}

bool UserFile::verify_hash(std::string_view encoded, std::string_view password) {
  // pbkdf2-sha256$ITER$SALT$HASH
  auto p1 = encoded.find('$');
  if (p1 == std::string_view::npos || encoded.substr(0, p1) != "pbkdf2-sha256") return false;
  auto p2 = encoded.find('$', p1 + 1);
  auto p3 = p2 == std::string_view::npos ? p2 : encoded.find('$', p2 + 1);
  if (p3 == std::string_view::npos) return false;
  int iterations = 0;
  try {
    iterations = std::stoi(std::string(encoded.substr(p1 + 1, p2 - p1 - 1)));
  } catch (...) {
    return false;
  }
  if (iterations < 1000 || iterations > 10'000'000) return false;
  auto salt = from_hex(encoded.substr(p2 + 1, p3 - p2 - 1));
  auto want = from_hex(encoded.substr(p3 + 1));
  if (!salt || !want || want->size() != 32) return false;
  auto got = pbkdf2(password, *salt, iterations);
  return CRYPTO_memcmp(got.data(), want->data(), 32) == 0;
}

Result<UserFile> UserFile::load(const std::filesystem::path& path) {
  UserFile f;
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return f;
  auto text = fs::read_file(path, 16u << 20);
  if (!text) return text.error();
  std::size_t line_no = 0, pos = 0;
  while (pos < text->size()) {
    auto end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos || !valid_user_name(line.substr(0, colon)) ||
        (line.compare(colon + 1, 14, "pbkdf2-sha256$") != 0 &&
         line.compare(colon + 1, 2, "!:") != 0 && line.substr(colon + 1) != "!"))
      return make_error(Errc::invalid_argument,
                        path.string() + ":" + std::to_string(line_no) +
                            ": expected NAME:pbkdf2-sha256$ITER$SALT$HASH[:RIGHTS] (or NAME:! for "
                            "a user without a password)");
    auto name = line.substr(0, colon);
    auto rest = line.substr(colon + 1);
    if (auto second = rest.find(':'); second != std::string::npos) {
      auto rights = Rights::parse(rest.substr(second + 1));
      if (!rights)
        return make_error(Errc::invalid_argument, path.string() + ":" + std::to_string(line_no) +
                                                      ": " + rights.error().message);
      f.rights_[name] = std::move(*rights);
      rest = rest.substr(0, second);
    }
    f.users_[name] = rest;
  }
  return f;
}

Status UserFile::save(const std::filesystem::path& path) const {
  std::string out =
      "# airheal registry users: "
      "NAME:pbkdf2-sha256$ITERATIONS$SALT$HASH:pull=PATTERNS;push=PATTERNS;delete=PATTERNS;roles="
      "viewer|operator,approver,security-admin\n"
      "# (a password field of ! : the user acts only through airhealctl on this host)\n"
      "# (airhealctl user add NAME --pull 'apps/*' --push 'apps/team-a/*'); a line without rights "
      "may only pull\n";
  for (const auto& [u, h] : users_) out += u + ":" + h + ":" + rights(u).str() + "\n";
  return fs::write_file_atomic(path, out);
}

bool UserFile::verify(const std::string& user, std::string_view password) const {
  auto it = users_.find(user);
  if (it == users_.end()) {
    // Spend the same time as for a real user so names cannot be probed by timing.
    (void)pbkdf2(password, "airheal-dummy-salt", kIterations);
    return false;
  }
  return verify_hash(it->second, password);
}

std::optional<std::string> Authenticator::check_basic(std::string_view authorization) {
  if (authorization.size() < 6 || authorization.substr(0, 6) != "Basic ") return std::nullopt;
  auto key = Sha256::of(authorization).hex();
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    auto it = verified_.find(key);
    if (it != verified_.end() && it->second.second > now) return it->second.first;
  }
  auto decoded = base64_decode(authorization.substr(6));
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto user = decoded->substr(0, colon);
  if (!users_.verify(user, std::string_view(*decoded).substr(colon + 1))) return std::nullopt;
  std::lock_guard lk(mu_);
  if (verified_.size() > 10000) verified_.clear();
  verified_[key] = {user, now + std::chrono::minutes(5)};
  return user;
}

Decision Authenticator::decide(bool is_write, bool loopback, bool tls,
                               std::string_view authorization, std::string* user) {
  if (is_write && policy_.read_only) return Decision::read_only;
  bool exempt =
      is_write ? (loopback && policy_.loopback_push_without_credentials) : policy_.anonymous_pull;
  if (!authorization.empty()) {
    if (!tls && !loopback) return Decision::credentials_need_tls;
    if (auto who = check_basic(authorization)) {
      if (user) *user = *who;
      return Decision::allow;
    }
    return Decision::bad_credentials;
  }
  return exempt ? Decision::allow : Decision::need_credentials;
}

}  // namespace airheal::registry
