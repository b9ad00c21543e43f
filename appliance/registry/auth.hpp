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

struct Rights {
  std::vector<std::string> pull, push, del;
  bool api_write = false;  // heal approvals, exceptions, VEX, evidence through the API

  // "pull=apps/*,library/*;push=apps/team-a/*;delete=;api=write" (the users file's third field).
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
};

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
