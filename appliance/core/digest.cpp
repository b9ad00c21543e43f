#include "core/digest.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstring>
#include <stdexcept>
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

Result<Digest> Digest::parse(std::string_view text) {
  if (!matches_digest_grammar(text))
    return make_error(Errc::digest_invalid, "malformed digest '" + std::string(text.substr(0, 100)) + "'");
  if (text.substr(0, 7) != "sha256:")
    return make_error(Errc::unsupported, "unsupported digest algorithm in '" +
                                             std::string(text.substr(0, 100)) + "'; only sha256 is supported");
  if (!is_sha256_digest(text))
    return make_error(Errc::digest_invalid,
                      "sha256 digest must have 64 lowercase hex characters: '" + std::string(text.substr(0, 100)) + "'");
  Digest d;
  d.hex_ = std::string(text.substr(7));
  return d;
}

Digest Digest::from_hex(std::string hex) {
  if (hex.size() != 64 || !is_lower_hex(hex)) throw std::logic_error("Digest::from_hex: bad hex");
  Digest d;
  d.hex_ = std::move(hex);
  return d;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialise sha256");
}

Sha256::Sha256(const Sha256& other) : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_MD_CTX_copy_ex(ctx_.get(), other.ctx_.get()) != 1)
    throw std::runtime_error("OpenSSL: cannot copy sha256 state");
}

Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) {
    Sha256 copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, std::size_t size) {
  if (size && EVP_DigestUpdate(ctx_.get(), data, size) != 1)
    throw std::runtime_error("OpenSSL: sha256 update failed");
}

Digest Sha256::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out, &len) != 1)
    throw std::runtime_error("OpenSSL: sha256 final failed");
  return Digest::from_hex(to_hex(out, len));
}

Digest Sha256::of(std::string_view data) {
  Sha256 h;
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

Result<Digest> Sha256::of_file(const std::filesystem::path& path, std::uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::io_error, "cannot open " + path.string() + ": " + std::strerror(errno));
  Sha256 h;
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
