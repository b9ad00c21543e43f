#include "audit/checkpoint.hpp"

#include <ctime>

#include "core/digest.hpp"
#include "core/fs.hpp"

namespace airheal::audit {
namespace fsys = std::filesystem;
using nlohmann::json;

fsys::path checkpoints_dir(const fsys::path& state_dir) { return state_dir / "audit" / "checkpoints"; }

std::string record_hash(std::string_view line) { return Sha256::of(line).hex(); }

std::string checkpoint_bytes(std::int64_t seq, const std::string& head, std::int64_t time, const std::string& key) {
  // nlohmann::json objects keep keys sorted: the bytes are canonical.
  return json{{"type", kCheckpointType}, {"seq", seq}, {"head", head}, {"time", time}, {"key", key}}.dump() + "\n";
}

std::optional<Checkpoint> parse_checkpoint(const std::string& bytes) {
  auto j = json::parse(bytes, nullptr, false);
  if (!j.is_object() || j.value("type", "") != kCheckpointType || !j.contains("seq") || !j["seq"].is_number_integer() ||
      !j.contains("head") || !j["head"].is_string() || !j.contains("time") || !j["time"].is_number_integer() ||
      !j.contains("key") || !j["key"].is_string())
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

std::vector<Checkpoint> load_checkpoints(const fsys::path& dir, std::vector<std::string>* problems) {
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
      if (problems) problems->push_back("checkpoint " + name + " is unreadable, malformed, misnamed or has no signature");
      continue;
    }
    c->signature = *sig;
    out.push_back(std::move(*c));
  }
  std::sort(out.begin(), out.end(), [](const Checkpoint& a, const Checkpoint& b) { return a.seq < b.seq; });
  return out;
}

Result<Checkpoint> make_checkpoint(const fsys::path& state_dir, Journal& journal, const std::string& key_fingerprint,
                                   const Signer& sign) {
  auto lines = journal.lines();
  if (!lines) return lines.error();
  if (lines->empty()) return make_error(Errc::not_found, "the audit journal is empty: nothing to checkpoint");
  auto dir = checkpoints_dir(state_dir);
  auto existing = load_checkpoints(dir);
  auto seq = static_cast<std::int64_t>(lines->size());
  // The newest record may be the previous checkpoint's own "audit.checkpoint" record.
  if (!existing.empty()) {
    auto last = json::parse(lines->back(), nullptr, false);
    if (existing.back().seq == seq ||
        (existing.back().seq == seq - 1 && last.is_object() && last.value("type", "") == "audit.checkpoint"))
      return existing.back();
  }
  if (auto problem = verify_chain(*lines, 1, kGenesisHash); !problem.empty())
    return make_error(Errc::invalid_argument, "the audit journal is broken, no checkpoint signed: " + problem);
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
  if (auto st = fs::write_file_atomic(base.string() + ".json.asc", c.signature); !st) return st.error();
  if (auto st = fs::write_file_atomic(base.string() + ".json", c.bytes); !st) return st.error();
  if (auto st = journal.append({{"type", "audit.checkpoint"}, {"actor", "airheal"}, {"checkpoint", c.seq}, {"head", c.head},
                                {"key", c.key}});
      !st)
    return st.error();
  return c;
}

std::string verify_chain(const std::vector<std::string>& lines, std::int64_t first_seq, const std::string& first_prev) {
  std::string prev = first_prev;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto n = first_seq + static_cast<std::int64_t>(i);
    auto where = "record " + std::to_string(n);
    auto j = json::parse(lines[i], nullptr, false);
    if (!j.is_object()) return where + " is not a JSON object (edited or corrupted)";
    if (!j.contains("seq") || !j["seq"].is_number_integer() || j["seq"].get<std::int64_t>() != n)
      return where + " carries sequence number " + (j.contains("seq") ? j["seq"].dump() : std::string("(none)")) +
             ": a record was removed, inserted or moved before it";
    if (!j.contains("prev") || !j["prev"].is_string() || j["prev"].get<std::string>() != prev)
      return where + " does not follow the record before it (that record was edited, removed, inserted or moved)";
    prev = record_hash(lines[i]);
  }
  return {};
}

std::string verify_checkpoint_against(const Checkpoint& c, const std::vector<std::string>& lines, std::int64_t first_seq) {
  auto idx = c.seq - first_seq;
  if (idx < 0 || idx >= static_cast<std::int64_t>(lines.size()))
    return "checkpoint " + std::to_string(c.seq) + " covers record " + std::to_string(c.seq) + ", which is missing (records were removed)";
  if (record_hash(lines[static_cast<std::size_t>(idx)]) != c.head)
    return "record " + std::to_string(c.seq) + " differs from what signed checkpoint " + std::to_string(c.seq) + " recorded";
  return {};
}

}  // namespace airheal::audit
