#include "support/apk_fixtures.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "core/apk.hpp"
#include "core/subprocess.hpp"

namespace airheal::test {
namespace fsys = std::filesystem;

namespace {

std::string hex(const unsigned char* d, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += digits[d[i] >> 4];
    s += digits[d[i] & 15];
  }
  return s;
}

std::string digest(const EVP_MD* md, std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string octal(std::uint64_t v, std::size_t width) {
  char b[32];
  std::snprintf(b, sizeof b, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(v));
  return std::string(b, width - 1) + std::string(1, '\0');
}

// A ustar header block (name at most 100 bytes here: the fixtures' paths are short).
std::string header(const std::string& name, char type, int mode, std::uint64_t size,
                   const std::string& link = {}, std::uint32_t uid = 0, std::uint32_t gid = 0) {
  if (name.size() > 100 || link.size() > 100)
    throw std::runtime_error("tar name too long: " + name);
  std::string h(512, '\0');
  h.replace(0, name.size(), name);
  h.replace(100, 8, octal(static_cast<std::uint64_t>(mode), 8));
  h.replace(108, 8, octal(uid, 8));
  h.replace(116, 8, octal(gid, 8));
  h.replace(124, 12, octal(size, 12));
  h.replace(136, 12, octal(1616682882, 12));
  h.replace(148, 8, std::string(8, ' '));
  h[156] = type;
  h.replace(157, link.size(), link);
  h.replace(257, 6, std::string("ustar\0", 6));
  h.replace(263, 2, "00");
  h.replace(265, 4, "root");
  h.replace(297, 4, "root");
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char cs[8];
  std::snprintf(cs, sizeof cs, "%06o", sum);
  h.replace(148, 8, std::string(cs, 6) + std::string("\0 ", 2));
  return h;
}

std::string pad(std::string data) {
  data.resize((data.size() + 511) / 512 * 512, '\0');
  return data;
}

std::string pax_record(const std::string& key, const std::string& value) {
  auto body = " " + key + "=" + value + "\n";
  auto len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}

// A file entry, as abuild-tar writes data members: a pax header carrying the SHA-1, then the file.
std::string file_entry(const std::string& name, char type, int mode, const std::string& data,
                       const std::string& link, const std::string& sha1_hex) {
  std::string out;
  if (!sha1_hex.empty()) {
    auto pax = pax_record("APK-TOOLS.checksum.SHA1", sha1_hex);
    out += header("PaxHeaders/" + name.substr(0, 80), 'x', 0644, pax.size()) + pad(pax);
  }
  out += header(name, type, mode, type == '0' ? data.size() : 0, link);
  if (type == '0') out += pad(data);
  return out;
}

std::string gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string read_all(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs ARGV; throws with its output when it fails (no Catch here: bench tools link this file).
void must_run(const std::vector<std::string>& argv) {
  auto r = run_process(argv);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error(cmd + " failed: " + r.err);
  }
}

}  // namespace

fsys::path write_apk_from_root(const fsys::path& root, const std::string& name,
                               const fsys::path& dir, const std::optional<ApkSigningKey>& key) {
  auto db = read_all(root / "lib/apk/db/installed");
  auto records = apk::parse_database(db);
  if (!records) throw std::runtime_error(records.error().message);
  const apk::Record* rec = nullptr;
  for (const auto& r : *records)
    if (r.name == name) rec = &r;
  if (!rec) throw std::runtime_error(name + " is not installed in " + root.string());
  // The record's lines, in order.
  std::multimap<char, std::string> fields;
  std::string data;  // the data stream (tar, with end blocks)
  std::string dir_path;
  std::string pending_name;
  int pending_mode = 0644;
  std::string pending_z;
  auto flush_file = [&] {
    if (pending_name.empty()) return;
    auto rel = dir_path.empty() ? pending_name : dir_path + "/" + pending_name;
    auto full = root / rel;
    struct stat st {};
    if (lstat(full.c_str(), &st) != 0) throw std::runtime_error(rel + " is not in the root");
    if (S_ISLNK(st.st_mode)) {
      auto target = fsys::read_symlink(full).string();
      auto sum = digest(EVP_sha1(), target);
      if (apk::q1(sum) != pending_z) throw std::runtime_error(rel + ": symlink checksum differs");
      data += file_entry(rel, '2', 0777, {}, target,
                         hex(reinterpret_cast<const unsigned char*>(sum.data()), 20));
    } else {
      auto bytes = read_all(full);
      auto sum = digest(EVP_sha1(), bytes);
      // A configuration file changed after apk installed it (alpine-baselayout's etc/shadow in
      // the minirootfs) is packed as the root has it; its recorded checksum then differs.
      data += file_entry(rel, '0', pending_mode, bytes, {},
                         hex(reinterpret_cast<const unsigned char*>(sum.data()), 20));
    }
    pending_name.clear();
    pending_mode = 0644;
    pending_z.clear();
  };
  std::istringstream lines(rec->text);
  std::string line;
  std::string pending_dir;
  int pending_dir_mode = 0755;
  auto flush_dir = [&] {
    if (pending_dir.empty()) return;
    data += header(pending_dir + "/", '5', pending_dir_mode, 0);
    pending_dir.clear();
    pending_dir_mode = 0755;
  };
  while (std::getline(lines, line)) {
    if (line.size() < 2) continue;
    char k = line[0];
    auto v = line.substr(2);
    if (k == 'F') {
      flush_file();
      flush_dir();
      dir_path = v;
      pending_dir = v;
    } else if (k == 'M') {
      pending_dir_mode = std::stoi(v.substr(v.rfind(':') + 1), nullptr, 8);
    } else if (k == 'R') {
      flush_file();
      flush_dir();
      pending_name = v;
    } else if (k == 'a') {
      pending_mode = std::stoi(v.substr(v.rfind(':') + 1), nullptr, 8);
    } else if (k == 'Z') {
      pending_z = v;
    } else {
      fields.emplace(k, v);
    }
  }
  flush_file();
  flush_dir();
  data += std::string(1024, '\0');
  auto data_gz = gzip(data);
  auto field = [&](char k) {
    auto it = fields.find(k);
    return it == fields.end() ? std::string() : it->second;
  };
  std::string pkginfo = "# Generated by airheal's test fixture from an installed apk record\n";
  auto kv = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) pkginfo += k + " = " + v + "\n";
  };
  kv("pkgname", field('P'));
  kv("pkgver", field('V'));
  kv("pkgdesc", field('T'));
  kv("url", field('U'));
  kv("builddate", field('t'));
  kv("size", field('I'));
  kv("arch", field('A'));
  kv("origin", field('o'));
  kv("commit", field('c'));
  kv("maintainer", field('m'));
  kv("license", field('L'));
  for (char k : {'r', 'p', 'D', 'i'}) {
    std::istringstream words(field(k));
    std::string w;
    const char* key = k == 'r'   ? "replaces"
                      : k == 'p' ? "provides"
                      : k == 'D' ? "depend"
                                 : "install_if";
    if (k == 'i') {
      if (!field('i').empty()) kv("install_if", field('i'));
      continue;
    }
    while (words >> w) kv(key, w);
  }
  auto dh = digest(EVP_sha256(), data_gz);
  kv("datahash", hex(reinterpret_cast<const unsigned char*>(dh.data()), 32));
  // The control stream: no end blocks (apk v2 concatenates the streams).
  auto control_gz = gzip(header(".PKGINFO", '0', 0644, pkginfo.size()) + pad(pkginfo));
  std::string file_bytes;
  if (key) file_bytes += apk_signature_member(control_gz, *key);
  file_bytes += control_gz + data_gz;
  fsys::create_directories(dir);
  auto out = dir / (field('P') + "-" + field('V') + ".apk");
  std::ofstream(out, std::ios::binary) << file_bytes;
  return out;
}

std::string apk_signature_member(const std::string& signed_gz, const ApkSigningKey& key) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(key.private_pem.c_str(), "r"), std::fclose);
  if (!f) throw std::runtime_error("cannot read " + key.private_pem.string());
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pk(
      PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!pk) throw std::runtime_error("not a private key");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t len = 0;
  EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha1(), nullptr, pk.get());
  EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(signed_gz.data()),
                 signed_gz.size());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(signed_gz.data()),
                     signed_gz.size()) != 1)
    throw std::runtime_error("signing failed");
  sig.resize(len);
  auto sname = ".SIGN.RSA." + key.name;
  return gzip(header(sname, '0', 0644, sig.size()) + pad(sig));
}

ApkSigningKey make_apk_signing_key(const fsys::path& dir, const std::string& name) {
  fsys::create_directories(dir);
  ApkSigningKey k{dir / name, name + ".pub"};
  must_run({"openssl", "genrsa", "-out", k.private_pem.string(), "2048"});
  must_run({"openssl", "rsa", "-in", k.private_pem.string(), "-pubout", "-out",
            (dir / k.name).string()});
  return k;
}

fsys::path alpine_minirootfs(const std::string& release) {
  auto p = fsys::path(AIRHEAL_SOURCE_DIR) / "tests/data/alpine-rootfs" /
           ("alpine-minirootfs-" + release + "-x86_64.tar.gz");
  return fsys::exists(p) ? p : fsys::path();
}

fsys::path unpack_alpine_minirootfs(const std::string& release, const fsys::path& dir) {
  auto tarball = alpine_minirootfs(release);
  if (tarball.empty()) throw std::runtime_error("no Alpine " + release + " minirootfs");
  fsys::create_directories(dir);
  must_run({"tar", "--numeric-owner", "-xpzf", tarball.string(), "-C", dir.string()});
  return dir;
}

}  // namespace airheal::test
