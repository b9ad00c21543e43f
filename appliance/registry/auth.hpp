// Registry credentials: a users file of salted PBKDF2-SHA256 hashes, and the access policy.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"

namespace airheal::registry {

// What a user may do, per repository pattern (fnmatch globs, '*' also matches '/': "apps/*",
// "library/*", "*"). A user with no rights line (older files) may pull everything and nothing else.
enum class Operation { pull, push, del };
const char* to_string(Operation op);

// Roles on the operations surface (API, dashboard, airhealctl), one set per user:
//   viewer          reads status, findings, heals, evidence (every user has it)
//   operator        starts, holds and rolls back heals; exports evidence and needs
//   approver        approves (promotes) staged heals
//   security-admin  grants and revokes exceptions, makes VEX statements, changes trust
inline constexpr const char* kRoles[] = {"viewer", "operator", "approver", "security-admin"};
bool valid_role(std::string_view role);

struct Rights {
  std::vector<std::string> pull, push, del;
  std::vector<std::string> roles;  // beyond viewer, sorted; see kRoles
  bool api_write = false;          // any role beyond viewer

  bool has_role(std::string_view role) const;
  // "pull=apps/*,library/*;push=apps/team-a/*;delete=;roles=operator,approver" (the users file's
  // third field). Older files' "api=write" means operator, approver and security-admin.
  static Result<Rights> parse(std::string_view spec);
  std::string str() const;
  bool may(Operation op, std::string_view repository) const;
  static bool valid_pattern(std::string_view pattern);
};

// One line per user: "name:pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX[:RIGHTS]".
class UserFile {
 public:
  static constexpr int kIterations = 210000;  // OWASP 2023 figure for PBKDF2-HMAC-SHA256
  static Result<UserFile> load(const std::filesystem::path& path);  // a missing file is empty
  static std::string hash_password(std::string_view password, int iterations = kIterations);
  static bool verify_hash(std::string_view encoded, std::string_view password);
  static bool valid_user_name(std::string_view name);

  bool empty() const { return users_.empty(); }
  bool verify(const std::string& user, std::string_view password) const;
  std::map<std::string, std::string>& users() { return users_; }
  const std::map<std::string, std::string>& users() const { return users_; }
  // The user's rights (pull-only for a user without a rights field).
  Rights rights(const std::string& user) const;
  void set_rights(const std::string& user, Rights r) { rights_[user] = std::move(r); }
  Status save(const std::filesystem::path& path) const;

 private:
  std::map<std::string, std::string> users_;
  std::map<std::string, Rights> rights_;
};

struct AccessPolicy {
  bool anonymous_pull = true;
  bool loopback_push_without_credentials = true;
  bool read_only = false;
  std::map<std::string, std::string> local_users;  // Unix user -> airheal user (auth.local_users)
};

// The airheal user a local Unix user acts as (airhealctl on this host): its auth.local_users
// mapping, else "root" for root; "" for anyone else.
std::string local_user_for(const std::map<std::string, std::string>& local_users,
                           const std::string& unix_name);
// A local user's rights: the users file's, and every role for an implicit root (root owns the
// state directory anyway).
Rights local_rights(const UserFile& users, const std::string& user);
// The name of the Unix user UID ("" when it has none).
std::string unix_user_name(unsigned uid);

enum class Decision { allow, need_credentials, bad_credentials, credentials_need_tls, read_only };

class Authenticator {
 public:
  Authenticator(AccessPolicy policy, UserFile users) : policy_(policy), users_(std::move(users)) {}
  // authorization is the raw Authorization header (may be empty). USER: the authenticated user
  // when the decision rests on credentials (empty when the policy exempted the request).
  Decision decide(bool is_write, bool loopback, bool tls, std::string_view authorization,
                  std::string* user = nullptr);
  const AccessPolicy& policy() const { return policy_; }
  bool has_users() const { return !users_.empty(); }
  Rights rights(const std::string& user) const { return users_.rights(user); }
  const UserFile& users() const { return users_; }

 private:
  std::optional<std::string> check_basic(std::string_view authorization);
  AccessPolicy policy_;
  UserFile users_;
  // PBKDF2 is deliberately slow: remember recently verified headers (by hash) for a while.
  std::mutex mu_;
  std::unordered_map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>>
      verified_;
};

std::optional<std::string> base64_decode(std::string_view in);

}  // namespace airheal::registry
