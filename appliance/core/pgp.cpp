#include "core/pgp.hpp"

#include <fcntl.h>
#include <gpgme.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace airheal::pgp {
namespace {

Error gpg_failure(const std::string& what, gpgme_error_t err) {
  return make_error(Errc::io_error, what + ": " + gpgme_strerror(err));
}

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    gpgme_check_version(nullptr);
    gpgme_set_locale(nullptr, LC_CTYPE, "C");
  });
}

struct CtxFree {
  void operator()(gpgme_ctx_t c) const { gpgme_release(c); }
};
struct DataFree {
  void operator()(gpgme_data_t d) const { gpgme_data_release(d); }
};
struct KeyFree {
  void operator()(gpgme_key_t k) const { gpgme_key_unref(k); }
};
using Ctx = std::unique_ptr<gpgme_context, CtxFree>;
using Data = std::unique_ptr<gpgme_data, DataFree>;
using Key = std::unique_ptr<_gpgme_key, KeyFree>;

Result<Ctx> make_ctx(const std::filesystem::path& home) {
  init_once();
  gpgme_ctx_t raw = nullptr;
  if (auto err = gpgme_new(&raw)) return gpg_failure("cannot create a GPGME context", err);
  Ctx ctx(raw);
  if (auto err = gpgme_set_protocol(raw, GPGME_PROTOCOL_OpenPGP))
    return gpg_failure("OpenPGP protocol", err);
  if (auto err = gpgme_ctx_set_engine_info(raw, GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str()))
    return gpg_failure("GnuPG home " + home.string(), err);
  gpgme_set_offline(raw, 1);  // never fetch keys or CRLs from anywhere
  gpgme_set_armor(raw, 1);
  return ctx;
}

Result<Data> data_from(const std::string& bytes) {
  gpgme_data_t d = nullptr;
  if (auto err = gpgme_data_new_from_mem(&d, bytes.data(), bytes.size(), 0))
    return gpg_failure("GPGME data", err);
  return Data(d);
}

std::string take(gpgme_data_t d) {
  std::size_t len = 0;
  char* buf = gpgme_data_release_and_get_mem(d, &len);
  std::string out(buf ? buf : "", len);
  gpgme_free(buf);
  return out;
}

KeyInfo info_of(gpgme_key_t k) {
  KeyInfo i;
  i.fingerprint = k->fpr ? k->fpr : (k->subkeys && k->subkeys->fpr ? k->subkeys->fpr : "");
  for (auto u = k->uids; u; u = u->next)
    if (u->uid) i.user_ids.emplace_back(u->uid);
  i.revoked = k->revoked;
  i.expired = k->expired;
  i.disabled = k->disabled;
  i.invalid = k->invalid;
  i.can_sign = k->can_sign;
  i.expires = k->subkeys ? k->subkeys->expires : 0;
  return i;
}

gpgme_error_t passphrase_cb(void* hook, const char*, const char*, int prev_bad, int fd) {
  if (prev_bad) return gpg_error(GPG_ERR_BAD_PASSPHRASE);
  auto* pass = static_cast<const std::string*>(hook);
  std::string line = *pass + "\n";
  gpgme_io_writen(fd, line.data(), line.size());
  return 0;
}

// Limits for reading the signature packets ourselves (the entry is at most 64 KiB anyway).
constexpr std::size_t kMaxSignaturePackets = 64;

int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Result<std::string> dearmor(std::string_view text) {
  constexpr std::string_view begin = "-----BEGIN PGP SIGNATURE-----";
  auto b = text.find(begin);
  if (b == std::string_view::npos) return std::string(text);  // already binary
  auto pos = text.find('\n', b);
  if (pos == std::string_view::npos)
    return make_error(Errc::invalid_argument, "the armoured signature is truncated");
  ++pos;
  // Armour headers ("Comment: ...") end at the first empty line; gpg writes one even without
  // headers.
  auto end = text.find("-----END", pos);
  for (auto blank : {std::string_view("\n\n"), std::string_view("\n\r\n")}) {
    auto at = text.find(blank, pos - 1);
    if (at != std::string_view::npos && at < end) {
      pos = at + blank.size();
      break;
    }
  }
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (; pos < text.size(); ++pos) {
    unsigned char c = static_cast<unsigned char>(text[pos]);
    if (c == '=' || c == '-') break;  // padding, the CRC line or the END line
    int v = b64_value(c);
    if (v < 0) {
      if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
      return make_error(Errc::invalid_argument,
                        "the armoured signature has a character that is not base64");
    }
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

Result<std::vector<int>> signature_types(std::string_view armoured) {
  auto bin = dearmor(armoured);
  if (!bin) return bin.error();
  const auto& d = *bin;
  std::vector<int> types;
  std::size_t i = 0;
  auto need = [&](std::size_t n) { return i + n <= d.size(); };
  while (i < d.size()) {
    if (types.size() >= kMaxSignaturePackets)
      return make_error(
          Errc::invalid_argument,
          "more than " + std::to_string(kMaxSignaturePackets) + " OpenPGP packets in a signature");
    unsigned char h = static_cast<unsigned char>(d[i++]);
    if (!(h & 0x80)) return make_error(Errc::invalid_argument, "not an OpenPGP packet");
    int tag;
    std::size_t len;
    if (h & 0x40) {  // new format
      tag = h & 0x3f;
      if (!need(1)) return make_error(Errc::invalid_argument, "truncated OpenPGP packet");
      unsigned char o1 = static_cast<unsigned char>(d[i++]);
      if (o1 < 192) {
        len = o1;
      } else if (o1 < 224) {
        if (!need(1)) return make_error(Errc::invalid_argument, "truncated OpenPGP packet");
        len = ((o1 - 192u) << 8) + static_cast<unsigned char>(d[i++]) + 192u;
      } else if (o1 == 255) {
        if (!need(4)) return make_error(Errc::invalid_argument, "truncated OpenPGP packet");
        len = 0;
        for (int k = 0; k < 4; ++k) len = (len << 8) | static_cast<unsigned char>(d[i++]);
      } else {
        return make_error(Errc::invalid_argument, "a partial-length OpenPGP packet in a signature");
      }
    } else {  // old format
      tag = (h >> 2) & 0x0f;
      int lt = h & 3;
      if (lt == 3)
        return make_error(Errc::invalid_argument,
                          "an OpenPGP packet of indeterminate length in a signature");
      std::size_t n = lt == 0 ? 1 : lt == 1 ? 2 : 4;
      if (!need(n)) return make_error(Errc::invalid_argument, "truncated OpenPGP packet");
      len = 0;
      for (std::size_t k = 0; k < n; ++k) len = (len << 8) | static_cast<unsigned char>(d[i++]);
    }
    if (!need(len)) return make_error(Errc::invalid_argument, "truncated OpenPGP packet");
    if (tag == 2) {  // signature: v3 has the type at offset 2, v4 and later at offset 1
      if (len < 3) return make_error(Errc::invalid_argument, "truncated OpenPGP signature packet");
      unsigned char version = static_cast<unsigned char>(d[i]);
      types.push_back(static_cast<unsigned char>(d[i + (version == 3 ? 2 : 1)]));
    }
    i += len;
  }
  if (types.empty())
    return make_error(Errc::invalid_argument, "the signature file holds no OpenPGP signature");
  return types;
}

struct Keyring::AgentLease {
  std::filesystem::path home;
  static std::shared_ptr<AgentLease> acquire(const std::filesystem::path& home) {
    std::lock_guard lk(mu());
    auto& slot = leases()[home.string()];
    if (auto l = slot.lock()) return l;
    auto l = std::make_shared<AgentLease>();
    l->home = home;
    slot = l;
    return l;
  }
  ~AgentLease() {
    std::lock_guard lk(mu());  // held while stopping: no new Keyring of this home starts meanwhile
    auto it = leases().find(home.string());
    if (it != leases().end()) {
      if (!it->second.expired()) return;  // a new Keyring of this home took over
      leases().erase(it);
    }
    std::error_code ec;
    if (!std::filesystem::exists(home / "S.gpg-agent", ec)) return;
    stop_agents(home);
  }
  // `gpgconf --homedir HOME --kill all`, output discarded, bounded to 10 s. (posix_spawn, not the
  // subprocess helper: this file is also built into the fuzz targets, which link no Boost.)
  static void stop_agents(const std::filesystem::path& home) {
    std::string h = home.string();
    std::vector<std::string> args = {"gpgconf", "--homedir", h, "--kill", "all"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, "gpgconf", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return;  // no gpgconf: the agent ends with its home's removal
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, std::weak_ptr<AgentLease>>& leases() {
    static std::map<std::string, std::weak_ptr<AgentLease>> m;
    return m;
  }
};

Result<Keyring> Keyring::open(const std::filesystem::path& home) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(home, ec);
  if (ec) return make_error(Errc::io_error, "GnuPG home " + home.string() + ": " + ec.message());
  if (!std::filesystem::exists(abs)) {
    std::filesystem::create_directories(abs, ec);
    if (ec)
      return make_error(Errc::io_error,
                        "cannot create GnuPG home " + abs.string() + ": " + ec.message());
    ::chmod(abs.c_str(), 0700);
  } else if (!std::filesystem::is_directory(abs)) {
    return make_error(Errc::io_error, "GnuPG home " + abs.string() + " is not a directory");
  }
  init_once();
  if (auto err = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP))
    return gpg_failure("GnuPG (gpg) is not usable; install the gnupg package", err);
  return Keyring(abs, AgentLease::acquire(abs));
}

Result<std::vector<std::string>> Keyring::import_keys(const std::string& data) {
  auto ctx = make_ctx(home_);
  if (!ctx) return ctx.error();
  auto in = data_from(data);
  if (!in) return in.error();
  if (auto err = gpgme_op_import(ctx->get(), in->get())) return gpg_failure("key import", err);
  auto res = gpgme_op_import_result(ctx->get());
  std::vector<std::string> fprs;
  if (!res || res->considered == 0)
    return make_error(Errc::invalid_argument, "no OpenPGP keys found in the input");
  for (auto s = res->imports; s; s = s->next) {
    if (s->result != GPG_ERR_NO_ERROR) return gpg_failure("key import", s->result);
    if (s->fpr) fprs.emplace_back(s->fpr);
  }
  if (res->not_imported > 0)
    return make_error(Errc::invalid_argument,
                      std::to_string(res->not_imported) + " keys could not be imported");
  if (fprs.empty() && res->new_revocations > 0) {
    // A bare revocation certificate names no key in the import result: report revoked keys.
    auto all = list_keys();
    if (!all) return all.error();
    for (const auto& k : *all)
      if (k.revoked) fprs.push_back(k.fingerprint);
  }
  // Report primary fingerprints, whatever the import status listed.
  std::vector<std::string> primary;
  for (const auto& f : fprs) {
    auto k = key(f);
    auto p = k ? k->fingerprint : f;
    if (std::find(primary.begin(), primary.end(), p) == primary.end()) primary.push_back(p);
  }
  return primary;
}

Result<std::vector<KeyInfo>> Keyring::list_keys(bool secret) {
  auto ctx = make_ctx(home_);
  if (!ctx) return ctx.error();
  gpgme_set_keylist_mode(ctx->get(), GPGME_KEYLIST_MODE_LOCAL);
  if (auto err = gpgme_op_keylist_start(ctx->get(), nullptr, secret ? 1 : 0))
    return gpg_failure("key listing", err);
  std::vector<KeyInfo> out;
  while (true) {
    gpgme_key_t k = nullptr;
    auto err = gpgme_op_keylist_next(ctx->get(), &k);
    if (gpg_err_code(err) == GPG_ERR_EOF) break;
    if (err) return gpg_failure("key listing", err);
    Key owned(k);
    out.push_back(info_of(k));
  }
  return out;
}

Result<KeyInfo> Keyring::key(const std::string& fingerprint) {
  auto ctx = make_ctx(home_);
  if (!ctx) return ctx.error();
  gpgme_key_t k = nullptr;
  auto err = gpgme_get_key(ctx->get(), fingerprint.c_str(), &k, 0);
  if (err || !k)
    return make_error(Errc::not_found, "no key " + fingerprint + " in " + home_.string());
  Key owned(k);
  return info_of(k);
}

Result<std::string> Keyring::export_public(const std::string& fingerprint) {
  auto ctx = make_ctx(home_);
  if (!ctx) return ctx.error();
  gpgme_data_t out = nullptr;
  if (auto err = gpgme_data_new(&out)) return gpg_failure("GPGME data", err);
  if (auto err = gpgme_op_export(ctx->get(), fingerprint.c_str(), 0, out)) {
    gpgme_data_release(out);
    return gpg_failure("export of " + fingerprint, err);
  }
  auto s = take(out);
  if (s.empty())
    return make_error(Errc::not_found, "no public key " + fingerprint + " in " + home_.string());
  return s;
}

namespace {

// The signatures of the last verify operation on CTX, each with why it is not good.
Result<std::vector<SignatureCheck>> signature_checks(gpgme_ctx_t ctx) {
  auto res = gpgme_op_verify_result(ctx);
  std::vector<SignatureCheck> out;
  for (auto s = res ? res->signatures : nullptr; s; s = s->next) {
    SignatureCheck c;
    c.fingerprint = s->fpr ? s->fpr : "";
    auto code = gpg_err_code(s->status);
    c.bad = code == GPG_ERR_BAD_SIGNATURE;
    gpgme_key_t k = nullptr;
    if (s->fpr && gpgme_get_key(ctx, s->fpr, &k, 0) == 0 && k) {
      Key owned(k);
      auto info = info_of(k);
      c.fingerprint = info.fingerprint;
      if (info.revoked)
        c.problem = "key " + c.fingerprint + " is revoked";
      else if (info.expired)
        c.problem = "key " + c.fingerprint + " has expired";
      else if (info.disabled || info.invalid)
        c.problem = "key " + c.fingerprint + " is disabled or invalid";
      // The signing subkey has its own expiry and revocation.
      for (auto sk = k->subkeys; sk && c.problem.empty(); sk = sk->next) {
        if (!sk->fpr || std::string_view(sk->fpr) != s->fpr) continue;
        if (sk->revoked)
          c.problem = "the signing subkey " + std::string(sk->fpr) + " of key " + c.fingerprint +
                      " is revoked";
        else if (sk->expired)
          c.problem = "the signing subkey " + std::string(sk->fpr) + " of key " + c.fingerprint +
                      " has expired";
      }
    }
    if (c.problem.empty()) {
      if (code == GPG_ERR_NO_PUBKEY)
        c.problem = "signed by unknown key " + c.fingerprint;
      else if (code == GPG_ERR_BAD_SIGNATURE)
        c.problem = "bad signature by key " + c.fingerprint;
      else if (code == GPG_ERR_CERT_REVOKED || (s->summary & GPGME_SIGSUM_KEY_REVOKED))
        c.problem = "key " + c.fingerprint + " is revoked";
      else if (code == GPG_ERR_KEY_EXPIRED || (s->summary & GPGME_SIGSUM_KEY_EXPIRED))
        c.problem = "key " + c.fingerprint + " has expired";
      else if (code == GPG_ERR_SIG_EXPIRED || (s->summary & GPGME_SIGSUM_SIG_EXPIRED))
        c.problem = "signature by " + c.fingerprint + " has expired";
      else if (code != GPG_ERR_NO_ERROR || (s->summary & GPGME_SIGSUM_RED))
        c.problem = "signature by " + c.fingerprint + " is not valid: " + gpgme_strerror(s->status);
    }
    if (c.bad) c.problem = "bad signature by key " + c.fingerprint;
    c.good = c.problem.empty();
    out.push_back(std::move(c));
  }
  if (out.empty())
    return make_error(Errc::invalid_argument, "the signature file holds no OpenPGP signature");
  return out;
}

}  // namespace

Result<std::vector<SignatureCheck>> Keyring::verify_detached(const std::string& signature,
                                                             const std::string& data) {
  // One signed content must have one digest: a text-mode signature (type 0x01) also verifies
  // after line endings are converted, so only binary signatures (type 0x00) are taken.
  auto types = signature_types(signature);
  if (!types) return types.error();
  for (int t : *types)
    if (t != 0x00)
      return make_error(
          Errc::invalid_argument, std::string("a signature of type 0x") + (t < 16 ? "0" : "") +
                                      [&] {
                                        char b[8];
                                        std::snprintf(b, sizeof b, "%x", t);
                                        return std::string(b);
                                      }() +
                                      (t == 1 ? " (canonical text)" : "") +
                                      "; only binary signatures (type 0x00) are accepted");
  auto ctx = make_ctx(home_);
  if (!ctx) return ctx.error();
  auto sig = data_from(signature);
  if (!sig) return sig.error();
  auto text = data_from(data);
  if (!text) return text.error();
  auto err = gpgme_op_verify(ctx->get(), sig->get(), text->get(), nullptr);
  if (err)
    return make_error(Errc::invalid_argument,
                      std::string("not an OpenPGP signature: ") + gpgme_strerror(err));
  return signature_checks(ctx->get());
}

Result<ClearsignedCheck> Keyring::verify_clearsigned(const std::string& message) {
  if (message.size() > (64u << 20))
    return make_error(Errc::too_large, "the signed message is larger than 64 MiB");
  if (message.rfind("-----BEGIN PGP SIGNED MESSAGE-----", 0) != 0)
    return make_error(Errc::invalid_argument,
                      "not a clearsigned message (no BEGIN PGP SIGNED MESSAGE at its start)");
  auto ctx = make_ctx(home_);
  if (!ctx) return ctx.error();
  auto in = data_from(message);
  if (!in) return in.error();
  gpgme_data_t raw = nullptr;
  if (auto err = gpgme_data_new(&raw))
    return make_error(Errc::io_error, std::string("gpgme: ") + gpgme_strerror(err));
  Data plain(raw);
  auto err = gpgme_op_verify(ctx->get(), in->get(), nullptr, plain.get());
  if (err)
    return make_error(Errc::invalid_argument,
                      std::string("not a valid clearsigned message: ") + gpgme_strerror(err));
  auto checks = signature_checks(ctx->get());
  if (!checks) return checks.error();
  ClearsignedCheck out;
  out.signatures = std::move(*checks);
  gpgme_data_seek(plain.get(), 0, SEEK_SET);
  char buf[1 << 16];
  for (;;) {
    auto n = gpgme_data_read(plain.get(), buf, sizeof buf);
    if (n < 0) return make_error(Errc::io_error, "gpgme: reading the signed text failed");
    if (n == 0) break;
    out.text.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Result<std::string> Keyring::sign_detached(const std::string& data, const std::string& fingerprint,
                                           const std::optional<std::string>& passphrase,
                                           bool armor) {
  auto ctx = make_ctx(home_);
  if (!ctx) return ctx.error();
  gpgme_set_armor(ctx->get(), armor ? 1 : 0);
  gpgme_key_t k = nullptr;
  if (gpgme_get_key(ctx->get(), fingerprint.c_str(), &k, 1) != 0 || !k)
    return make_error(Errc::not_found, "no secret key " + fingerprint + " in " + home_.string());
  Key owned(k);
  if (auto err = gpgme_signers_add(ctx->get(), k)) return gpg_failure("signer " + fingerprint, err);
  if (passphrase) {
    gpgme_set_pinentry_mode(ctx->get(), GPGME_PINENTRY_MODE_LOOPBACK);
    gpgme_set_passphrase_cb(ctx->get(), passphrase_cb, const_cast<std::string*>(&*passphrase));
  }
  auto in = data_from(data);
  if (!in) return in.error();
  gpgme_data_t out = nullptr;
  if (auto err = gpgme_data_new(&out)) return gpg_failure("GPGME data", err);
  if (auto err = gpgme_op_sign(ctx->get(), in->get(), out, GPGME_SIG_MODE_DETACH)) {
    gpgme_data_release(out);
    return gpg_failure("signing with " + fingerprint, err);
  }
  return take(out);
}

Result<std::string> Keyring::create_signing_key(const std::string& user_id) {
  auto ctx = make_ctx(home_);
  if (!ctx) return ctx.error();
  auto flags =
      GPGME_CREATE_SIGN | GPGME_CREATE_NOPASSWD | GPGME_CREATE_NOEXPIRE | GPGME_CREATE_FORCE;
  if (auto err = gpgme_op_createkey(ctx->get(), user_id.c_str(), "ed25519", 0, 0, nullptr, flags))
    return gpg_failure("creating the key " + user_id, err);
  auto r = gpgme_op_genkey_result(ctx->get());
  if (!r || !r->fpr) return make_error(Errc::io_error, "GnuPG created no key for " + user_id);
  return std::string(r->fpr);
}

}  // namespace airheal::pgp
