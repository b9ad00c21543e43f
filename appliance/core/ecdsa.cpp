#include "core/ecdsa.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include "core/digest.hpp"
#include "core/fs.hpp"

namespace airheal::ecdsa {
namespace {

std::string openssl_error(const std::string& what) {
  char buf[256] = {};
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  ERR_clear_error();
  return what + ": " + buf;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

std::string bio_string(BIO* b) {
  char* data = nullptr;
  auto n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// The key must be EC on prime256v1: a swapped file of another kind is refused, not used.
Status check_p256(EVP_PKEY* k, const std::string& where) {
  if (EVP_PKEY_base_id(k) != EVP_PKEY_EC)
    return make_error(Errc::invalid_argument, where + ": not an EC key");
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &len) != 1 ||
      std::string_view(group) != "prime256v1")
    return make_error(Errc::invalid_argument,
                      where + ": not a P-256 key (" + std::string(group) + ")");
  return {};
}

}  // namespace

Result<Key> Key::load_or_create(const std::filesystem::path& private_pem,
                                const std::filesystem::path& public_pem, bool* created) {
  if (created) *created = false;
  Key key;
  std::error_code ec;
  if (std::filesystem::exists(private_pem, ec)) {
    auto text = fs::read_file(private_pem, 64 * 1024);
    if (!text) return text.error();
    Bio in(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr);
    if (!k) return make_error(Errc::invalid_argument, openssl_error(private_pem.string()));
    key.key_.reset(k, EVP_PKEY_free);
    if (auto st = check_p256(k, private_pem.string()); !st) return st.error();
  } else {
    EVP_PKEY* k = EVP_EC_gen("P-256");
    if (!k) return make_error(Errc::io_error, openssl_error("cannot make a P-256 key"));
    key.key_.reset(k, EVP_PKEY_free);
    Bio out(BIO_new(BIO_s_mem()));
    if (PEM_write_bio_PrivateKey(out.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1)
      return make_error(Errc::io_error, openssl_error("cannot encode the P-256 key"));
    // Written 0600 from the start: the private key is never readable by others, not even briefly.
    auto tmp = private_pem;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return make_error(Errc::io_error, "cannot create " + tmp.string());
    auto pem = bio_string(out.get());
    bool ok =
        ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), private_pem.c_str()) != 0) {
      ::unlink(tmp.c_str());
      return make_error(Errc::io_error, "cannot write " + private_pem.string());
    }
    if (created) *created = true;
  }
  Bio pub(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(pub.get(), key.key_.get()) != 1)
    return make_error(Errc::io_error, openssl_error("cannot encode the public key"));
  key.public_pem_ = bio_string(pub.get());
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key.key_.get(), &der);
  if (n <= 0) return make_error(Errc::io_error, openssl_error("cannot encode the public key"));
  key.key_id_ = Sha256::of(std::string_view(reinterpret_cast<char*>(der), n)).hex();
  OPENSSL_free(der);
  auto existing = fs::read_file(public_pem, 64 * 1024);
  if (!existing || *existing != key.public_pem_)
    if (auto st = fs::write_file_atomic(public_pem, key.public_pem_); !st) return st.error();
  return key;
}

Result<std::string> Key::sign(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1)
    return make_error(Errc::io_error, openssl_error("ECDSA signing failed"));
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return make_error(Errc::io_error, openssl_error("ECDSA signing failed"));
  sig.resize(len);
  return sig;
}

Result<bool> verify(std::string_view public_pem, std::string_view data,
                    std::string_view signature) {
  if (public_pem.size() > 64 * 1024)
    return make_error(Errc::invalid_argument, "the public key is larger than 64 KiB");
  Bio in(BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> k(
      PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!k) return make_error(Errc::invalid_argument, openssl_error("not a PEM public key"));
  if (auto st = check_p256(k.get(), "the public key"); !st) return st.error();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, k.get()) != 1)
    return make_error(Errc::io_error, openssl_error("ECDSA verification failed"));
  int r = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                           signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                           data.size());
  ERR_clear_error();
  return r == 1;
}

}  // namespace airheal::ecdsa
