// Signed checkpoints of the audit journal and the checks that prove a journal, or a slice of it,
// intact. A checkpoint says "record SEQ of this appliance's journal has hash HEAD" and is signed
// with the appliance's OpenPGP key (a detached, armoured signature over the checkpoint's bytes),
// so a slice that starts right after one checkpoint and ends at another is anchored at both ends:
// no record inside can be edited, removed, reordered or inserted without breaking the chain or a
// signature.
//   <state>/audit/checkpoints/<seq>.json      {"type", "seq", "head", "time", "key"}
//   <state>/audit/checkpoints/<seq>.json.asc  the signature
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/anchor_repository.hpp"
#include "audit/journal.hpp"
#include "core/result.hpp"

namespace airheal::store {
class Store;
}

namespace airheal::audit {

inline constexpr const char* kCheckpointType = "https://airheal.dev/audit/checkpoint/v1";
inline constexpr const char* kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct Checkpoint {
  std::int64_t seq = 0;
  std::string head;       // sha256 (hex) of record SEQ's line, without its newline
  std::int64_t time = 0;  // unix seconds
  std::string key;        // signer's fingerprint
  std::string bytes;      // the signed JSON document
  std::string signature;  // armoured detached OpenPGP signature over bytes
};

std::filesystem::path checkpoints_dir(const std::filesystem::path& state_dir);

// The checkpoint document for these values (compact JSON, keys sorted).
std::string checkpoint_bytes(std::int64_t seq, const std::string& head, std::int64_t time,
                             const std::string& key);
// Parses a checkpoint document; nullopt when it is not one.
std::optional<Checkpoint> parse_checkpoint(const std::string& bytes);

// Every checkpoint in DIR, by sequence (unreadable or malformed ones are reported as problems).
std::vector<Checkpoint> load_checkpoints(const std::filesystem::path& dir,
                                         std::vector<std::string>* problems = nullptr);

// Signs a checkpoint at the journal's current last record, unless the newest checkpoint already
// covers it; then appends an "audit.checkpoint" record (or restores it, when a crash came
// between the checkpoint's files and its record). SIGN returns an armoured signature. With a
// STORE, the metadata database keeps the newest checkpoint and the journal's length then as an
// anchor outside the audit folder (verify_journal compares them).
using Signer = std::function<Result<std::string>(const std::string& data)>;
Result<Checkpoint> make_checkpoint(const std::filesystem::path& state_dir, Journal& journal,
                                   const std::string& key_fingerprint, const Signer& sign,
                                   store::Store* store = nullptr);

// What the metadata database remembers of the newest checkpoint (audit/anchor_repository.hpp).
std::optional<Anchor> read_anchor(store::Store& store);

// The whole journal proved, or its breaks named: the hash chain from the first record; each
// checkpoint against its record, its own "audit.checkpoint" record and (CHECK_SIGNATURES) its
// signature by the key it names; each "audit.checkpoint" record against its checkpoint's files;
// the anchor in STORE against both; and a journal that is empty although the appliance's key
// (whose creation is journalled) exists.
struct JournalReport {
  std::int64_t records = 0;
  std::vector<Checkpoint> checkpoints;
  std::int64_t uncovered = 0;  // records after the newest checkpoint's record (all, without one)
  std::vector<std::string> problems;
  bool intact() const { return problems.empty(); }
};
JournalReport verify_journal(const std::filesystem::path& state_dir, const Journal& journal,
                             store::Store* store, bool check_signatures);

// The hash a record's successor carries in "prev".
std::string record_hash(std::string_view line);

// Checks LINES as consecutive journal records starting at FIRST_SEQ, the first one following a
// record whose hash is FIRST_PREV. Returns the first break in words ("record 12 ..."), or "".
std::string verify_chain(const std::vector<std::string>& lines, std::int64_t first_seq,
                         const std::string& first_prev);

// Checks a checkpoint against the chain: record seq (LINES[seq - FIRST_SEQ]) must hash to HEAD.
std::string verify_checkpoint_against(const Checkpoint& c, const std::vector<std::string>& lines,
                                      std::int64_t first_seq);

}  // namespace airheal::audit
