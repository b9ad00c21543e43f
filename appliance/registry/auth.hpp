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

#include "core/result.hpp"

namespace airheal::registry {

// One line per user: "name:pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX".
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
  Status save(const std::filesystem::path& path) const;

 private:
  std::map<std::string, std::string> users_;
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
  // authorization is the raw Authorization header (may be empty).
  Decision decide(bool is_write, bool loopback, bool tls, std::string_view authorization);
  const AccessPolicy& policy() const { return policy_; }
  bool has_users() const { return !users_.empty(); }

 private:
  bool check_basic(std::string_view authorization);
  AccessPolicy policy_;
  UserFile users_;
  // PBKDF2 is deliberately slow: remember recently verified headers (by hash) for a while.
  std::mutex mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> verified_;
};

std::optional<std::string> base64_decode(std::string_view in);

}  // namespace airheal::registry
