// Content digests (OCI "algorithm:encoded"): sha256 and sha512, and streaming hashes.
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

// The digest algorithms the image spec registers: sha256 (the canonical one) and sha512.
enum class DigestAlgorithm { sha256, sha512 };

std::string_view algorithm_name(DigestAlgorithm a);
std::size_t algorithm_hex_length(DigestAlgorithm a);  // 64 or 128
// "sha256" or "sha512"; an error names anything else (unsupported when it is valid OCI grammar).
Result<DigestAlgorithm> parse_algorithm(std::string_view name);

// A validated digest. sha256 and sha512 are accepted; the OCI grammar for other algorithms is
// recognised so that a client gets "unsupported" rather than "invalid".
class Digest {
 public:
  static Result<Digest> parse(std::string_view text);
  static Digest from_hex(std::string hex);  // a sha256: hex must be 64 lowercase hex chars
  static Digest from_hex(DigestAlgorithm algorithm, std::string hex);

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const { return airheal::algorithm_name(algorithm_); }
  const std::string& hex() const { return hex_; }
  std::string str() const { return std::string(algorithm_name()) + ":" + hex_; }
  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest&) const = default;

 private:
  DigestAlgorithm algorithm_ = DigestAlgorithm::sha256;
  std::string hex_;
};

// True when text matches the OCI digest grammar with a sha256 algorithm and 64 hex chars.
bool is_sha256_digest(std::string_view text);

// A streaming hash of one of the digest algorithms.
class ContentHash {
 public:
  explicit ContentHash(DigestAlgorithm algorithm);
  ContentHash(const ContentHash& other);
  ContentHash& operator=(const ContentHash& other);
  ContentHash(ContentHash&&) noexcept = default;
  ContentHash& operator=(ContentHash&&) noexcept = default;
  ~ContentHash();

  DigestAlgorithm algorithm() const { return algorithm_; }
  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  Digest finish();  // consumes the state; further use is a logic error

  static Digest of(DigestAlgorithm algorithm, std::string_view data);
  static Result<Digest> of_file(DigestAlgorithm algorithm, const std::filesystem::path& path,
                                std::uint64_t* size = nullptr);

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  DigestAlgorithm algorithm_;
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// SHA-256, the canonical algorithm.
class Sha256 : public ContentHash {
 public:
  Sha256() : ContentHash(DigestAlgorithm::sha256) {}
  static Digest of(std::string_view data) { return ContentHash::of(DigestAlgorithm::sha256, data); }
  static Result<Digest> of_file(const std::filesystem::path& path, std::uint64_t* size = nullptr) {
    return ContentHash::of_file(DigestAlgorithm::sha256, path, size);
  }
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

  void submit(const void* data,
              std::size_t size);  // one block in flight at most: waits for the last
  void wait();                    // the last submitted block is hashed
  Digest finish();                // wait(), the digest, and a fresh hash for the next input

 private:
  void run();
  struct State;
  std::unique_ptr<State> s_;
};

std::string to_hex(const unsigned char* data, std::size_t size);
std::string random_hex(std::size_t bytes);

}  // namespace airheal
