// The appliance's append-only journal of security-relevant events (snapshot imports and
// refusals, scans, heals, exceptions, VEX, checkpoints). One JSON object per line; each carries the sha256 of the line before it, so
// that removing or editing a record breaks the chain. Appends are serialised across processes
// with a lock and are durable (fsync) before append() returns.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "core/result.hpp"

namespace airheal::audit {

// <state>/audit/journal.jsonl
std::filesystem::path journal_path(const std::filesystem::path& state_dir);

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

 private:
  std::filesystem::path file_;
};

}  // namespace airheal::audit
