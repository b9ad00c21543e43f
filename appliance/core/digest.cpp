#include "core/digest.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace airheal {

namespace {
bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// OCI: algorithm ::= algorithm-component (algorithm-separator algorithm-component)*
//      algorithm-component ::= [a-z0-9]+ ; separator ::= [+._-] ; encoded ::= [a-zA-Z0-9=_-]+
bool matches_digest_grammar(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) return false;
  auto alg = text.substr(0, colon);
  bool prev_sep = true;
  for (char c : alg) {
    bool comp = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    bool sep = c == '+' || c == '.' || c == '_' || c == '-';
    if (!comp && !sep) return false;
    if (sep && prev_sep) return false;
    prev_sep = sep;
  }
  if (prev_sep) return false;
  for (char c : text.substr(colon + 1)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '=' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

bool is_sha256_digest(std::string_view text) {
  return text.size() == 71 && text.substr(0, 7) == "sha256:" && is_lower_hex(text.substr(7));
}

std::string_view algorithm_name(DigestAlgorithm a) {
  return a == DigestAlgorithm::sha512 ? "sha512" : "sha256";
}

std::size_t algorithm_hex_length(DigestAlgorithm a) {
  return a == DigestAlgorithm::sha512 ? 128 : 64;
}

Result<DigestAlgorithm> parse_algorithm(std::string_view name) {
  if (name == "sha256") return DigestAlgorithm::sha256;
  if (name == "sha512") return DigestAlgorithm::sha512;
  std::string shown(name.substr(0, 100));
  if (!matches_digest_grammar(std::string(name) + ":x"))
    return make_error(Errc::digest_invalid, "malformed digest algorithm '" + shown + "'");
  return make_error(Errc::unsupported, "unsupported digest algorithm '" + shown +
                                           "'; sha256 and sha512 are supported");
}

Result<Digest> Digest::parse(std::string_view text) {
  if (!matches_digest_grammar(text))
    return make_error(Errc::digest_invalid,
                      "malformed digest '" + std::string(text.substr(0, 100)) + "'");
  auto colon = text.find(':');
  auto algorithm = parse_algorithm(text.substr(0, colon));
  if (!algorithm)
    return make_error(algorithm.error().code, "unsupported digest algorithm in '" +
                                                  std::string(text.substr(0, 100)) +
                                                  "'; sha256 and sha512 are supported");
  auto hex = text.substr(colon + 1);
  if (hex.size() != algorithm_hex_length(*algorithm) || !is_lower_hex(hex))
    return make_error(Errc::digest_invalid,
                      std::string(airheal::algorithm_name(*algorithm)) + " digest must have " +
                          std::to_string(algorithm_hex_length(*algorithm)) +
                          " lowercase hex characters: '" + std::string(text.substr(0, 150)) + "'");
  Digest d;
  d.algorithm_ = *algorithm;
  d.hex_ = std::string(hex);
  return d;
}

Digest Digest::from_hex(std::string hex) {
  return from_hex(DigestAlgorithm::sha256, std::move(hex));
}

Digest Digest::from_hex(DigestAlgorithm algorithm, std::string hex) {
  if (hex.size() != algorithm_hex_length(algorithm) || !is_lower_hex(hex))
    throw std::logic_error("Digest::from_hex: bad hex");
  Digest d;
  d.algorithm_ = algorithm;
  d.hex_ = std::move(hex);
  return d;
}

namespace {
const EVP_MD* evp_of(DigestAlgorithm a) {
  return a == DigestAlgorithm::sha512 ? EVP_sha512() : EVP_sha256();
}
}  // namespace

ContentHash::ContentHash(DigestAlgorithm algorithm)
    : algorithm_(algorithm), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), evp_of(algorithm), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialise " +
                             std::string(algorithm_name(algorithm)));
}

ContentHash::ContentHash(const ContentHash& other)
    : algorithm_(other.algorithm_), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_MD_CTX_copy_ex(ctx_.get(), other.ctx_.get()) != 1)
    throw std::runtime_error("OpenSSL: cannot copy hash state");
}

ContentHash& ContentHash::operator=(const ContentHash& other) {
  if (this != &other) {
    ContentHash copy(other);
    *this = std::move(copy);
  }
  return *this;
}

ContentHash::~ContentHash() = default;

void ContentHash::update(const void* data, std::size_t size) {
  if (size && EVP_DigestUpdate(ctx_.get(), data, size) != 1)
    throw std::runtime_error("OpenSSL: hash update failed");
}

Digest ContentHash::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out, &len) != 1)
    throw std::runtime_error("OpenSSL: hash final failed");
  return Digest::from_hex(algorithm_, to_hex(out, len));
}

Digest ContentHash::of(DigestAlgorithm algorithm, std::string_view data) {
  ContentHash h(algorithm);
  h.update(data);
  return h.finish();
}

struct BackgroundSha256::State {
  std::mutex mu;
  std::condition_variable cv;
  const void* data = nullptr;  // the block in flight, or null
  std::size_t size = 0;
  bool stop = false;
  Sha256 hash;
  std::thread thread;
};

BackgroundSha256::BackgroundSha256() : s_(std::make_unique<State>()) {
  s_->thread = std::thread([this] { run(); });
}

BackgroundSha256::~BackgroundSha256() {
  {
    std::unique_lock lock(s_->mu);
    s_->cv.wait(lock, [&] { return s_->data == nullptr; });
    s_->stop = true;
  }
  s_->cv.notify_all();
  s_->thread.join();
}

void BackgroundSha256::run() {
  std::unique_lock lock(s_->mu);
  for (;;) {
    s_->cv.wait(lock, [&] { return s_->stop || s_->data != nullptr; });
    if (s_->data == nullptr) return;  // stopped with nothing in flight
    const void* data = s_->data;
    std::size_t size = s_->size;
    lock.unlock();
    s_->hash.update(data, size);  // only this thread touches the hash while a block is in flight
    lock.lock();
    s_->data = nullptr;
    s_->cv.notify_all();
  }
}

void BackgroundSha256::submit(const void* data, std::size_t size) {
  wait();
  if (size < kInlineBytes) {
    s_->hash.update(data, size);
    return;
  }
  {
    std::lock_guard lock(s_->mu);
    s_->data = data;
    s_->size = size;
  }
  s_->cv.notify_all();
}

void BackgroundSha256::wait() {
  std::unique_lock lock(s_->mu);
  s_->cv.wait(lock, [&] { return s_->data == nullptr; });
}

Digest BackgroundSha256::finish() {
  wait();
  auto d = s_->hash.finish();
  s_->hash = Sha256();
  return d;
}

Result<Digest> ContentHash::of_file(DigestAlgorithm algorithm, const std::filesystem::path& path,
                                    std::uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(Errc::io_error, "cannot open " + path.string() + ": " + std::strerror(errno));
  ContentHash h(algorithm);
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return make_error(Errc::io_error, "cannot read " + path.string() + ": " + std::strerror(e));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  if (size) *size = total;
  return h.finish();
}

std::string to_hex(const unsigned char* data, std::size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("OpenSSL: RAND_bytes failed");
  return to_hex(buf.data(), bytes);
}

}  // namespace airheal
