#include "audit/checkpoint.hpp"

#include <ctime>
#include <set>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/pgp.hpp"
#include "core/time.hpp"
#include "store/store.hpp"

namespace airheal::audit {
namespace fsys = std::filesystem;
using nlohmann::json;

fsys::path checkpoints_dir(const fsys::path& state_dir) {
  return state_dir / "audit" / "checkpoints";
}

std::string record_hash(std::string_view line) { return Sha256::of(line).hex(); }

std::string checkpoint_bytes(std::int64_t seq, const std::string& head, std::int64_t time,
                             const std::string& key) {
  // nlohmann::json objects keep keys sorted: the bytes are canonical.
  return json{{"type", kCheckpointType}, {"seq", seq}, {"head", head}, {"time", time}, {"key", key}}
             .dump() +
         "\n";
}

std::optional<Checkpoint> parse_checkpoint(const std::string& bytes) {
  auto j = json::parse(bytes, nullptr, false);
  if (!j.is_object() || j.value("type", "") != kCheckpointType || !j.contains("seq") ||
      !j["seq"].is_number_integer() || !j.contains("head") || !j["head"].is_string() ||
      !j.contains("time") || !j["time"].is_number_integer() || !j.contains("key") ||
      !j["key"].is_string())
    return std::nullopt;
  Checkpoint c;
  c.seq = j["seq"].get<std::int64_t>();
  c.head = j["head"].get<std::string>();
  c.time = j["time"].get<std::int64_t>();
  c.key = j["key"].get<std::string>();
  c.bytes = bytes;
  if (c.seq < 1 || c.head.size() != 64) return std::nullopt;
  return c;
}

std::vector<Checkpoint> load_checkpoints(const fsys::path& dir,
                                         std::vector<std::string>* problems) {
  std::vector<Checkpoint> out;
  std::error_code ec;
  if (!fsys::is_directory(dir, ec)) return out;
  for (const auto& e : fsys::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (e.path().extension() != ".json") continue;
    auto bytes = fs::read_file(e.path(), 1 << 16);
    auto sig = fs::read_file(e.path().string() + ".asc", 1 << 16);
    auto c = bytes ? parse_checkpoint(*bytes) : std::nullopt;
    if (!c || !sig || name != std::to_string(c->seq) + ".json") {
      if (problems)
        problems->push_back("checkpoint " + name +
                            " is unreadable, malformed, misnamed or has no signature");
      continue;
    }
    c->signature = *sig;
    out.push_back(std::move(*c));
  }
  std::sort(out.begin(), out.end(),
            [](const Checkpoint& a, const Checkpoint& b) { return a.seq < b.seq; });
  return out;
}

namespace {

Status append_checkpoint_record(Journal& journal, const Checkpoint& c) {
  return journal.append({{"type", "audit.checkpoint"},
                         {"actor", "airheal"},
                         {"checkpoint", c.seq},
                         {"head", c.head},
                         {"key", c.key}});
}

// The checkpoint record at LINE, or nullopt when the line is not one.
std::optional<std::pair<std::int64_t, std::string>> checkpoint_record(const std::string& line) {
  auto j = json::parse(line, nullptr, false);
  if (!j.is_object() || j.value("type", "") != "audit.checkpoint" || !j.contains("checkpoint") ||
      !j["checkpoint"].is_number_integer())
    return std::nullopt;
  return std::make_pair(
      j["checkpoint"].get<std::int64_t>(),
      j.contains("head") && j["head"].is_string() ? j["head"].get<std::string>() : "");
}

void record_anchor(store::Store& store, const Checkpoint& c, std::int64_t records) {
  store.transaction([&](sqlite::Connection& db) {
    AnchorRepository::advance(db, Anchor{c.seq, c.head, records, c.time});
  });
}

}  // namespace

std::optional<Anchor> read_anchor(store::Store& store) {
  return store.read([](sqlite::Connection& db) { return AnchorRepository::read(db); });
}

Result<Checkpoint> make_checkpoint(const fsys::path& state_dir, Journal& journal,
                                   const std::string& key_fingerprint, const Signer& sign,
                                   store::Store* store) {
  auto lines = journal.lines();
  if (!lines) return lines.error();
  if (lines->empty())
    return make_error(Errc::not_found, "the audit journal is empty: nothing to checkpoint");
  auto dir = checkpoints_dir(state_dir);
  auto existing = load_checkpoints(dir);
  auto seq = static_cast<std::int64_t>(lines->size());
  if (!existing.empty()) {
    const auto& newest = existing.back();
    // Signed, but its record never written (a crash between the two): restore the record.
    if (newest.seq == seq && newest.head == record_hash(lines->back())) {
      if (auto st = append_checkpoint_record(journal, newest); !st) return st.error();
      if (store) record_anchor(*store, newest, seq + 1);
      return newest;
    }
    // The newest record is the newest checkpoint's own record: nothing new to cover.
    auto last = checkpoint_record(lines->back());
    if (newest.seq == seq - 1 && last && last->first == newest.seq) {
      if (store) record_anchor(*store, newest, seq);
      return newest;
    }
  }
  if (auto problem = verify_chain(*lines, 1, kGenesisHash); !problem.empty())
    return make_error(Errc::invalid_argument,
                      "the audit journal is broken, no checkpoint signed: " + problem);
  Checkpoint c;
  c.seq = seq;
  c.head = record_hash(lines->back());
  c.time = static_cast<std::int64_t>(std::time(nullptr));
  c.key = key_fingerprint;
  c.bytes = checkpoint_bytes(c.seq, c.head, c.time, c.key);
  auto sig = sign(c.bytes);
  if (!sig) return sig.error();
  c.signature = *sig;
  std::error_code ec;
  fsys::create_directories(dir, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  auto base = dir / std::to_string(c.seq);
  // The signature first: a checkpoint document is never visible without it.
  if (auto st = fs::write_file_atomic(base.string() + ".json.asc", c.signature); !st)
    return st.error();
  if (auto st = fs::write_file_atomic(base.string() + ".json", c.bytes); !st) return st.error();
  if (auto st = append_checkpoint_record(journal, c); !st) return st.error();
  if (store) record_anchor(*store, c, c.seq + 1);
  return c;
}

JournalReport verify_journal(const fsys::path& state_dir, const Journal& journal,
                             store::Store* store, bool check_signatures) {
  JournalReport r;
  auto lines = journal.lines();
  if (!lines) {
    r.problems.push_back(lines.error().message);
    return r;
  }
  r.records = static_cast<std::int64_t>(lines->size());
  if (auto p = verify_chain(*lines, 1, kGenesisHash); !p.empty()) r.problems.push_back(p);
  r.checkpoints = load_checkpoints(checkpoints_dir(state_dir), &r.problems);
  std::set<std::int64_t> files;
  for (const auto& c : r.checkpoints) files.insert(c.seq);

  std::optional<pgp::Keyring> kr;
  if (check_signatures && !r.checkpoints.empty()) {
    auto k = pgp::Keyring::open(state_dir / "keys" / "gnupg");
    if (k)
      kr.emplace(std::move(*k));
    else
      r.problems.push_back(k.error().message);
  }
  for (const auto& c : r.checkpoints) {
    auto n = std::to_string(c.seq);
    if (auto p = verify_checkpoint_against(c, *lines, 1); !p.empty()) r.problems.push_back(p);
    // Every checkpoint is followed by its own record: a journal cut back to the checkpoint (or
    // rewritten after it) loses or changes that record.
    if (c.seq < r.records) {
      auto rec = checkpoint_record((*lines)[static_cast<std::size_t>(c.seq)]);
      if (!rec || rec->first != c.seq || rec->second != c.head)
        r.problems.push_back("record " + std::to_string(c.seq + 1) + " is not checkpoint " + n +
                             "'s own record (records after the checkpoint were rewritten)");
    } else if (c.seq == r.records) {
      r.problems.push_back(
          "checkpoint " + n + "'s own record (record " + std::to_string(c.seq + 1) +
          ") is missing: the records after it were removed, or a crash came between the two "
          "(`airhealctl audit checkpoint` restores it)");
    }
    if (kr) {
      auto v = kr->verify_detached(c.signature, c.bytes);
      bool good = false;
      if (v)
        for (const auto& sc : *v) good = good || (sc.good && sc.fingerprint == c.key);
      if (!good)
        r.problems.push_back("checkpoint " + n + " has no good signature by the appliance key " +
                             c.key);
    }
  }
  // Every checkpoint the journal says was signed must still be there.
  for (std::size_t i = 0; i < lines->size(); ++i) {
    auto rec = checkpoint_record((*lines)[i]);
    if (rec && !files.count(rec->first))
      r.problems.push_back("record " + std::to_string(i + 1) + " says checkpoint " +
                           std::to_string(rec->first) +
                           " was signed, but audit/checkpoints has no checkpoint " +
                           std::to_string(rec->first) + " (deleted)");
  }
  if (store) {
    if (auto a = read_anchor(*store)) {
      auto n = std::to_string(a->checkpoint);
      if (!files.count(a->checkpoint))
        r.problems.push_back("the metadata database records checkpoint " + n + " (signed " +
                             format_time(a->time) + "), but audit/checkpoints has no checkpoint " +
                             n + " (deleted)");
      if (r.records < a->records)
        r.problems.push_back("the journal has " + std::to_string(r.records) +
                             " record(s), but it had " + std::to_string(a->records) +
                             " when checkpoint " + n + " was signed: records were removed");
    }
  }
  std::error_code ec;
  if (r.records == 0 && fsys::exists(state_dir / "keys" / "appliance.asc", ec))
    r.problems.push_back(
        "the journal is empty, but the appliance key exists and its creation is a journal record: "
        "the "
        "journal was emptied or deleted");
  if (!r.checkpoints.empty())
    r.uncovered = std::max<std::int64_t>(0, r.records - r.checkpoints.back().seq - 1);
  else
    r.uncovered = r.records;
  return r;
}

std::string verify_chain(const std::vector<std::string>& lines, std::int64_t first_seq,
                         const std::string& first_prev) {
  std::string prev = first_prev;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto n = first_seq + static_cast<std::int64_t>(i);
    auto where = "record " + std::to_string(n);
    auto j = json::parse(lines[i], nullptr, false);
    if (!j.is_object()) return where + " is not a JSON object (edited or corrupted)";
    if (!j.contains("seq") || !j["seq"].is_number_integer() || j["seq"].get<std::int64_t>() != n)
      return where + " carries sequence number " +
             (j.contains("seq") ? j["seq"].dump() : std::string("(none)")) +
             ": a record was removed, inserted or moved before it";
    if (!j.contains("prev") || !j["prev"].is_string() || j["prev"].get<std::string>() != prev)
      return where +
             " does not follow the record before it (that record was edited, removed, inserted or "
             "moved)";
    prev = record_hash(lines[i]);
  }
  return {};
}

std::string verify_checkpoint_against(const Checkpoint& c, const std::vector<std::string>& lines,
                                      std::int64_t first_seq) {
  auto idx = c.seq - first_seq;
  if (idx < 0 || idx >= static_cast<std::int64_t>(lines.size()))
    return "checkpoint " + std::to_string(c.seq) + " covers record " + std::to_string(c.seq) +
           ", which is missing (records were removed)";
  if (record_hash(lines[static_cast<std::size_t>(idx)]) != c.head)
    return "record " + std::to_string(c.seq) + " differs from what signed checkpoint " +
           std::to_string(c.seq) + " recorded";
  return {};
}

}  // namespace airheal::audit
