// Fixtures for snapshot tests: real OpenPGP keys in throw-away GnuPG homes, and a raw tar
// writer that can produce every malformed archive the importer must refuse.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace airheal::test {

// A GnuPG home with one fresh ed25519 signing key (no passphrase), made by gpg itself.
class Signer {
 public:
  Signer(std::filesystem::path home, const std::string& name);
  ~Signer();
  Signer(const Signer&) = delete;
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& public_key() const { return public_key_; }
  const std::filesystem::path& home() const { return home_; }
  std::string sign(const std::string& data) const;  // armoured detached signature
  std::string revocation_certificate() const;       // the one gpg wrote at key creation
  // Writes the public key to dir/NAME.asc and returns the path.
  std::filesystem::path write_public_key(const std::filesystem::path& dir) const;

 private:
  std::filesystem::path home_;
  std::string fingerprint_, public_key_;
};

struct RawEntry {
  enum class Type { file, symlink, hardlink, device, directory };
  RawEntry(std::string p, std::string d, Type t = Type::file, std::string l = {})
      : path(std::move(p)), data(std::move(d)), type(t), link(std::move(l)) {}
  std::string path;
  std::string data;
  Type type = Type::file;
  std::string link;
};

// Writes exactly these entries, in order, as a pax tar (zstd-compressed when asked).
void write_tar(const std::filesystem::path& file, const std::vector<RawEntry>& entries,
               bool zstd = false);

// One snapshot, assembled by hand so that each part can be broken on purpose.
struct Crafted {
  nlohmann::json manifest;
  std::vector<RawEntry> body;
  std::vector<const Signer*> signers;
  std::optional<std::string> manifest_bytes;  // overrides manifest.dump(2)
  std::optional<std::string> signed_bytes;    // what the signers sign (default: the manifest bytes)
  std::vector<std::pair<std::string, std::string>> extra_signatures;
  bool zstd = false;
  bool manifest_first = true;

  // Adds a body entry and lists it in the manifest with its true size and sha256.
  void add(const std::string& path, const std::string& data, const std::string& kind,
           const std::string& format = "");
  void write(const std::filesystem::path& file) const;
};

// A minimal valid manifest skeleton (no entries) for a channel and sequence, valid for 30 days.
nlohmann::json manifest_skeleton(const std::string& channel, std::int64_t sequence);

// Everything that must not change when an import is refused: every file under the state
// directory except the journal, GnuPG's own files, staging and lock files, plus a logical dump
// of every table of the metadata database.
std::string state_fingerprint(const std::filesystem::path& state_dir);

}  // namespace airheal::test
