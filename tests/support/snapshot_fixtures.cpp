#include "support/snapshot_fixtures.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/pgp.hpp"
#include "core/sqlite.hpp"
#include "snapshot/format.hpp"
#include "support/test_support.hpp"

namespace airheal::test {
namespace fsys = std::filesystem;
using nlohmann::json;

Signer::Signer(fsys::path home, const std::string& name) : home_(std::move(home)) {
  fsys::create_directories(home_);
  fsys::permissions(home_, fsys::perms::owner_all, fsys::perm_options::replace);
  auto params = home_ / "keyparams";
  auto email = name;
  std::transform(email.begin(), email.end(), email.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  (void)fs::write_file_atomic(
      params, "%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\nName-Real: " +
                  name + "\nName-Email: " + email + "@example.test\nExpire-Date: 0\n%commit\n");
  auto r = run({"gpg", "--homedir", home_.string(), "--batch", "--gen-key", params.string()});
  if (r.exit_code != 0) throw std::runtime_error("gpg --gen-key failed: " + r.err);
  auto list = run({"gpg", "--homedir", home_.string(), "--batch", "--with-colons", "--list-keys"});
  auto pos = list.out.find("\nfpr:");
  if (pos == std::string::npos) throw std::runtime_error("no fingerprint in gpg output");
  auto line = list.out.substr(pos + 1, list.out.find('\n', pos + 1) - pos - 1);
  // fpr:::::::::FINGERPRINT:
  std::size_t field = 0, start = 0;
  for (std::size_t i = 0; i < line.size(); ++i)
    if (line[i] == ':' && ++field == 9) start = i + 1;
  fingerprint_ = line.substr(start, line.find(':', start) - start);
  auto exp =
      run({"gpg", "--homedir", home_.string(), "--batch", "--armor", "--export", fingerprint_});
  public_key_ = exp.out;
}

Signer::~Signer() {
  run({"gpgconf", "--homedir", home_.string(), "--kill", "all"}, std::chrono::seconds(20));
}

std::string Signer::sign(const std::string& data) const {
  auto kr = pgp::Keyring::open(home_);
  if (!kr) throw std::runtime_error(kr.error().message);
  auto s = kr->sign_detached(data, fingerprint_);
  if (!s) throw std::runtime_error(s.error().message);
  return *s;
}

std::string Signer::revocation_certificate() const {
  auto text = fs::read_file(home_ / "openpgp-revocs.d" / (fingerprint_ + ".rev"), 1 << 20);
  if (!text) throw std::runtime_error(text.error().message);
  // gpg prefixes the armour line with ':' so that it cannot be imported by accident.
  auto out = *text;
  auto p = out.find(":-----BEGIN");
  if (p != std::string::npos) out.erase(p, 1);
  return out;
}

fsys::path Signer::write_public_key(const fsys::path& dir) const {
  auto p = dir / (home_.filename().string() + ".asc");
  (void)fs::write_file_atomic(p, public_key_);
  return p;
}

void write_tar(const fsys::path& file, const std::vector<RawEntry>& entries, bool zstd) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (zstd) archive_write_add_filter_zstd(a);
  if (archive_write_open_filename(a, file.c_str()) != ARCHIVE_OK)
    throw std::runtime_error("cannot write tar");
  for (const auto& e : entries) {
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_mtime(ae, 1700000000, 0);
    switch (e.type) {
      case RawEntry::Type::file:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
        break;
      case RawEntry::Type::symlink:
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, e.link.c_str());
        break;
      case RawEntry::Type::hardlink:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_hardlink(ae, e.link.c_str());
        break;
      case RawEntry::Type::device:
        archive_entry_set_filetype(ae, AE_IFCHR);
        archive_entry_set_rdev(ae, makedev(1, 3));
        break;
      case RawEntry::Type::directory:
        archive_entry_set_filetype(ae, AE_IFDIR);
        break;
    }
    if (archive_write_header(a, ae) != ARCHIVE_OK)
      throw std::runtime_error(archive_error_string(a));
    if (e.type == RawEntry::Type::file && !e.data.empty())
      archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
}

json manifest_skeleton(const std::string& channel, std::int64_t sequence) {
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  return json{{"format", "airheal-snapshot"},
              {"version", 1},
              {"channel", channel},
              {"sequence", sequence},
              {"created", snapshot::format_time(now - 60)},
              {"expires", snapshot::format_time(now + 30 * 86400)},
              {"entries", json::array()}};
}

void Crafted::add(const std::string& path, const std::string& data, const std::string& kind,
                  const std::string& format) {
  json e{{"path", path}, {"size", data.size()}, {"sha256", sha256_hex(data)}, {"kind", kind}};
  if (!format.empty()) e["format"] = format;
  manifest["entries"].push_back(e);
  body.push_back(RawEntry{path, data});
}

void Crafted::write(const fsys::path& file) const {
  auto bytes = manifest_bytes ? *manifest_bytes : manifest.dump(2);
  auto to_sign = signed_bytes ? *signed_bytes : bytes;
  std::vector<RawEntry> all;
  RawEntry m{std::string(snapshot::kManifestName), bytes};
  if (manifest_first) all.push_back(m);
  for (const auto* s : signers)
    all.push_back(RawEntry{"signatures/" + s->fingerprint() + ".asc", s->sign(to_sign)});
  for (const auto& [name, sig] : extra_signatures) all.push_back(RawEntry{name, sig});
  all.insert(all.end(), body.begin(), body.end());
  if (!manifest_first) all.push_back(m);
  write_tar(file, all, zstd);
}

std::string state_fingerprint(const fsys::path& state) {
  std::vector<std::string> parts;
  for (auto it = fsys::recursive_directory_iterator(state);
       it != fsys::recursive_directory_iterator(); ++it) {
    auto rel = fsys::relative(it->path(), state).generic_string();
    auto top = rel.substr(0, rel.find('/'));
    if (top == "audit" || top == "trust" || top == "staging" || top == "tmp") {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (rel.rfind("metadata.db", 0) == 0 ||
        (rel.size() > 5 && rel.substr(rel.size() - 5) == ".lock"))
      continue;
    if (it->is_directory()) {
      parts.push_back("d " + rel);
      continue;
    }
    auto content = fs::read_file(it->path(), 1ull << 32);
    parts.push_back("f " + rel + " " + (content ? sha256_hex(*content) : "unreadable"));
  }
  std::sort(parts.begin(), parts.end());
  sqlite::Connection c(state / "metadata.db", sqlite::Connection::Mode::read_only);
  std::vector<std::string> tables;
  {
    auto q = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    while (q.step()) tables.push_back(q.get_text(0));
  }
  for (const auto& t : tables) {
    auto q = c.prepare("SELECT * FROM \"" + t + "\"");
    std::vector<std::string> rows;
    while (q.step()) {
      std::string row;
      for (int i = 0; i < q.columns(); ++i)
        row += (q.is_null(i) ? std::string("NULL") : q.get_text(i)) + "|";
      rows.push_back(row);
    }
    std::sort(rows.begin(), rows.end());
    parts.push_back("table " + t);
    parts.insert(parts.end(), rows.begin(), rows.end());
  }
  std::string all;
  for (const auto& p : parts) all += p + "\n";
  return all;
}

}  // namespace airheal::test
