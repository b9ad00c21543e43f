// Content digests (OCI "algorithm:encoded") and streaming SHA-256.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace airheal {

// A validated sha256 digest. Only sha256 is accepted for storage; the OCI grammar for other
// algorithms is recognised so that a client gets "unsupported" rather than "invalid".
class Digest {
 public:
  static Result<Digest> parse(std::string_view text);
  static Digest from_hex(std::string hex);  // hex must be 64 lowercase hex chars

  const std::string& hex() const { return hex_; }
  std::string str() const { return "sha256:" + hex_; }
  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest&) const = default;

 private:
  std::string hex_;
};

// True when text matches the OCI digest grammar with a sha256 algorithm and 64 hex chars.
bool is_sha256_digest(std::string_view text);

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);
  Sha256(Sha256&&) noexcept = default;
  Sha256& operator=(Sha256&&) noexcept = default;
  ~Sha256();

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  Digest finish();  // consumes the state; further use is a logic error

  static Digest of(std::string_view data);
  static Result<Digest> of_file(const std::filesystem::path& path, std::uint64_t* size = nullptr);

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// SHA-256 on a helper thread, for a caller that does something else with the same bytes at the
// same time (writes them out): submit() a block, use it, wait(). The block must stay valid and
// unchanged until wait() returns. Blocks under kInlineBytes are hashed at once in submit().
class BackgroundSha256 {
 public:
  static constexpr std::size_t kInlineBytes = 256 * 1024;
  BackgroundSha256();   // starts the helper thread
  ~BackgroundSha256();  // waits for the block in flight and stops the thread
  BackgroundSha256(const BackgroundSha256&) = delete;
  BackgroundSha256& operator=(const BackgroundSha256&) = delete;

  void submit(const void* data, std::size_t size);  // one block in flight at most: waits for the last
  void wait();                                      // the last submitted block is hashed
  Digest finish();                                  // wait(), the digest, and a fresh hash for the next input

 private:
  void run();
  struct State;
  std::unique_ptr<State> s_;
};

std::string to_hex(const unsigned char* data, std::size_t size);
std::string random_hex(std::size_t bytes);

}  // namespace airheal
