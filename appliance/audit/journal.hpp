// The appliance's append-only journal of security-relevant events (snapshot imports and
// refusals, scans, heals, exceptions, VEX, checkpoints). One JSON object per line; each carries the
// sha256 of the line before it, so that removing or editing a record breaks the chain. Appends are
// serialised across processes with a lock and are durable (fsync) before append() returns.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/result.hpp"

namespace airheal::audit {

// <state>/audit/journal.jsonl
std::filesystem::path journal_path(const std::filesystem::path& state_dir);

// RECORD (as appended: with seq, time and prev) as one RFC 5424 syslog message.
std::string rfc5424_message(const nlohmann::json& record, const std::string& hostname, int pid);

class Journal {
 public:
  explicit Journal(std::filesystem::path file) : file_(std::move(file)) {}
  const std::filesystem::path& file() const { return file_; }

  // Adds "seq", "time" (unix seconds) and "prev" to the record and appends it.
  Status append(nlohmann::json record);
  Result<std::vector<nlohmann::json>> read_all() const;
  // The complete records as they are stored (a torn final line left by a crash is not one).
  Result<std::vector<std::string>> lines() const;
  // Checks the chain; returns a description of the first break, or empty.
  std::string verify() const;
  // FN runs after every append to FILE made in this process (by any Journal object), with the
  // new record's sequence number; nullptr removes it.
  static void watch(const std::filesystem::path& file, std::function<void(std::int64_t seq)> fn);
  // Every record appended in this process is also sent, as it is written, to the syslog socket
  // SOCKET (a Unix datagram socket: /dev/log, where journald or rsyslog listen) as one RFC 5424
  // message: facility "log audit" (13), severity notice, APP-NAME airheal, MSGID the record's
  // type, structured data [airheal@32473 seq=".." prev=".."], and the record's JSON as the
  // message. Empty: off. A socket that does not answer never delays or fails an append.
  static void forward_syslog(std::filesystem::path socket);

 private:
  std::filesystem::path file_;
};

}  // namespace airheal::audit
