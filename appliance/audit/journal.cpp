#include "audit/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

#include "audit/checkpoint.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"

namespace airheal::audit {
namespace {
constexpr const char* kGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) break;  // a torn final line (crash mid-write) is ignored
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}
std::mutex& watch_mu() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::function<void(std::int64_t)>>& watchers() {
  static std::map<std::string, std::function<void(std::int64_t)>> m;
  return m;
}
}  // namespace

void Journal::watch(const std::filesystem::path& file, std::function<void(std::int64_t)> fn) {
  std::lock_guard lk(watch_mu());
  if (fn)
    watchers()[file.lexically_normal().string()] = std::move(fn);
  else
    watchers().erase(file.lexically_normal().string());
}

std::filesystem::path journal_path(const std::filesystem::path& state_dir) {
  return state_dir / "audit" / "journal.jsonl";
}

Status Journal::append(nlohmann::json record) {
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  fs::UniqueFd fd(::open(file_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd)
    return make_error(Errc::io_error,
                      "cannot open journal " + file_.string() + ": " + std::strerror(errno));
  if (::flock(fd.get(), LOCK_EX) != 0)
    return make_error(Errc::io_error, "cannot lock journal " + file_.string());
  auto text = fs::read_file(file_, 1ull << 34);
  if (!text) return text.error();
  auto lines = lines_of(*text);
  // Drop a torn tail so the new record starts on its own line.
  std::size_t complete = 0;
  for (const auto& l : lines) complete += l.size() + 1;
  if (complete != text->size() && ::ftruncate(fd.get(), static_cast<off_t>(complete)) != 0)
    return make_error(Errc::io_error, "cannot repair journal " + file_.string());
  std::int64_t seq = 1;
  std::string prev = kGenesis;
  if (!lines.empty()) {
    // The last record is read, not trusted: a malformed one (tampering, a disk error) must not stop
    // every later record. The chain still links to it, so `audit verify` reports it.
    auto last =
        parse_json(lines.back(), JsonLimits{16u << 20, 64, false}, "the journal's last record");
    const nlohmann::json* s =
        last && last->is_object() && last->contains("seq") ? &(*last)["seq"] : nullptr;
    if (s && s->is_number_integer() && s->get<std::int64_t>() >= 0 &&
        s->get<std::int64_t>() < (std::int64_t{1} << 53))
      seq = s->get<std::int64_t>() + 1;
    else
      seq = static_cast<std::int64_t>(lines.size()) + 1;
    prev = Sha256::of(lines.back()).hex();
  }
  record["seq"] = seq;
  record["time"] = static_cast<std::int64_t>(std::time(nullptr));
  record["prev"] = prev;
  auto line = record.dump() + "\n";
  if (auto st = fs::write_all(fd.get(), line.data(), line.size(), file_.string()); !st) return st;
  if (::fsync(fd.get()) != 0)
    return make_error(Errc::io_error, "cannot sync journal " + file_.string());
  fd = fs::UniqueFd();  // unlocked before the watcher runs (it may append, e.g. a checkpoint's
                        // record)
  std::function<void(std::int64_t)> fn;
  {
    std::lock_guard lk(watch_mu());
    if (auto it = watchers().find(file_.lexically_normal().string()); it != watchers().end())
      fn = it->second;
  }
  if (fn) fn(seq);
  return {};
}

Result<std::vector<std::string>> Journal::lines() const {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) return std::vector<std::string>{};
  auto text = fs::read_file(file_, 1ull << 34);
  if (!text) return text.error();
  return lines_of(*text);
}

Result<std::vector<nlohmann::json>> Journal::read_all() const {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) return std::vector<nlohmann::json>{};
  auto text = fs::read_file(file_, 1ull << 34);
  if (!text) return text.error();
  std::vector<nlohmann::json> out;
  for (const auto& l : lines_of(*text)) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::string Journal::verify() const {
  auto l = lines();
  if (!l) return l.error().message;
  return verify_chain(*l, 1, kGenesis);
}

}  // namespace airheal::audit
