// The air-gapped side: a fail-closed snapshot import. Signatures are checked before a single
// entry is extracted; every entry is hashed while it streams into staging on the store's file
// system; content is validated; then blobs are moved into the store and everything else is
// committed in one SQLite transaction. A refusal changes nothing but the journal.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit/journal.hpp"
#include "core/pgp.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace airheal::snapshot {

struct ImportOptions {
  std::string origin = "airhealctl";           // who asked: journal field
  std::uint64_t reserve_bytes = 256ull << 20;  // free space to leave
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct ImportResult {
  bool already_imported = false;
  Digest digest;
  std::string channel;
  std::int64_t sequence = 0;
  std::vector<std::string> signers;
  nlohmann::json counts = nlohmann::json::object();
  std::string message;
};

class Importer {
 public:
  Importer(store::Store& store, pgp::Keyring& keyring, audit::Journal& journal)
      : store_(store), keyring_(keyring), journal_(journal) {}
  // An error is a refusal; its message is the one precise reason.
  Result<ImportResult> import(const std::filesystem::path& file, const ImportOptions& options = {});
  audit::Journal& journal() { return journal_; }
  // Removes what a crashed import left in the store's staging folder (none is running). Returns
  // how many staged imports were removed.
  std::size_t clean_staging();

 private:
  store::Store& store_;
  pgp::Keyring& keyring_;
  audit::Journal& journal_;
};

}  // namespace airheal::snapshot
