#include "audit/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
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
#include "core/time.hpp"

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

namespace {
std::mutex& syslog_mu() {
  static std::mutex m;
  return m;
}
std::filesystem::path& syslog_socket() {
  static std::filesystem::path p;
  return p;
}

// RFC 5424 PRINTUSASCII without spaces, at most N characters; "-" when empty.
std::string header_field(const std::string& v, std::size_t n) {
  std::string out;
  for (char c : v)
    if (c > 32 && c < 127 && out.size() < n) out += c;
  return out.empty() ? "-" : out;
}

// An SD-PARAM value: '"', '\\' and ']' escaped (RFC 5424 6.3.3).
std::string sd_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

void send_syslog(const nlohmann::json& record) {
  std::filesystem::path target;
  {
    std::lock_guard lk(syslog_mu());
    target = syslog_socket();
  }
  if (target.empty() || target.string().size() >= sizeof(sockaddr_un::sun_path)) return;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  auto msg = rfc5424_message(record, host, static_cast<int>(::getpid()));
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, target.c_str(), target.string().size());
  (void)::sendto(fd, msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                 sizeof addr);
  ::close(fd);
}
}  // namespace

std::string rfc5424_message(const nlohmann::json& record, const std::string& hostname, int pid) {
  auto t = record.value("time", std::int64_t{0});
  std::string out = "<109>1 " + format_time(t) + " " + header_field(hostname, 255) + " airheal " +
                    std::to_string(pid) + " " + header_field(record.value("type", ""), 32) +
                    " [airheal@32473 seq=\"" +
                    std::to_string(record.value("seq", std::int64_t{0})) + "\" prev=\"" +
                    sd_value(record.value("prev", "")) + "\"] ";
  return out + "\xEF\xBB\xBF" + record.dump();  // BOM: the message is UTF-8
}

void Journal::forward_syslog(std::filesystem::path socket) {
  std::lock_guard lk(syslog_mu());
  syslog_socket() = std::move(socket);
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
  send_syslog(record);
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
