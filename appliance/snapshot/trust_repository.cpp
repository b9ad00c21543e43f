#include "snapshot/trust_repository.hpp"

namespace airheal::snapshot {

void TrustRepository::ensure_channel(sqlite::Connection& c, const std::string& channel,
                                     std::int64_t now) {
  c.prepare("INSERT OR IGNORE INTO channels(name, threshold, updated_at) VALUES (?, 1, ?)")
      .bind(1, channel)
      .bind(2, now)
      .run();
}

void TrustRepository::add_key(sqlite::Connection& c, const std::string& channel,
                              const std::string& fingerprint, std::int64_t now) {
  c.prepare(
       "INSERT OR IGNORE INTO channel_keys(channel, fingerprint, added_at, added_by) VALUES (?, ?, "
       "?, 'operator')")
      .bind(1, channel)
      .bind(2, fingerprint)
      .bind(3, now)
      .run();
}

bool TrustRepository::remove_key(sqlite::Connection& c, const std::string& channel,
                                 const std::string& fingerprint) {
  c.prepare("DELETE FROM channel_keys WHERE channel = ? AND fingerprint = ?")
      .bind(1, channel)
      .bind(2, fingerprint)
      .run();
  return c.changes() > 0;
}

std::int64_t TrustRepository::key_count(sqlite::Connection& c, const std::string& channel) {
  auto n = c.prepare("SELECT count(*) FROM channel_keys WHERE channel = ?");
  n.bind(1, channel);
  n.step();
  return n.get_int(0);
}

std::optional<std::int64_t> TrustRepository::threshold(sqlite::Connection& c,
                                                       const std::string& channel) {
  auto q = c.prepare("SELECT threshold FROM channels WHERE name = ?");
  q.bind(1, channel);
  if (!q.step()) return std::nullopt;
  return q.get_int(0);
}

void TrustRepository::set_threshold(sqlite::Connection& c, const std::string& channel,
                                    int threshold, std::int64_t now) {
  c.prepare("UPDATE channels SET threshold = ?, updated_at = ? WHERE name = ?")
      .bind(1, threshold)
      .bind(2, now)
      .bind(3, channel)
      .run();
}

void TrustRepository::revoke(sqlite::Connection& c, const std::string& fingerprint,
                             const std::string& reason, std::int64_t now) {
  c.prepare("INSERT OR REPLACE INTO revoked_keys(fingerprint, revoked_at, reason) VALUES (?, ?, ?)")
      .bind(1, fingerprint)
      .bind(2, now)
      .bind(3, reason)
      .run();
}

std::vector<Channel> TrustRepository::list(sqlite::Connection& c) {
  std::vector<Channel> out;
  auto q = c.prepare(
      "SELECT name, threshold, last_sequence, last_digest, last_expires FROM channels ORDER BY "
      "name");
  while (q.step()) {
    Channel ch;
    ch.name = q.get_text(0);
    ch.threshold = static_cast<int>(q.get_int(1));
    if (!q.is_null(2)) ch.last_sequence = q.get_int(2);
    ch.last_digest = q.get_optional_text(3).value_or("");
    if (!q.is_null(4)) ch.last_expires = q.get_int(4);
    out.push_back(std::move(ch));
  }
  for (auto& ch : out) {
    auto k = c.prepare(
        "SELECT k.fingerprint, k.added_by, r.fingerprint IS NOT NULL FROM channel_keys k LEFT JOIN "
        "revoked_keys r ON r.fingerprint = k.fingerprint WHERE k.channel = ? ORDER BY "
        "k.fingerprint");
    k.bind(1, ch.name);
    while (k.step())
      ch.keys.push_back(ChannelKey{k.get_text(0), {}, k.get_text(1), k.get_int(2) != 0, false});
  }
  return out;
}

namespace {
std::set<std::string> fingerprints(sqlite::Statement& st) {
  std::set<std::string> out;
  while (st.step()) out.insert(st.get_text(0));
  return out;
}
}  // namespace

std::set<std::string> TrustRepository::trusted_anywhere(sqlite::Connection& c) {
  auto st = c.prepare("SELECT DISTINCT fingerprint FROM channel_keys");
  return fingerprints(st);
}

std::set<std::string> TrustRepository::revoked(sqlite::Connection& c) {
  auto st = c.prepare("SELECT fingerprint FROM revoked_keys");
  return fingerprints(st);
}

std::set<std::string> TrustRepository::keys(sqlite::Connection& c, const std::string& channel) {
  auto st = c.prepare("SELECT fingerprint FROM channel_keys WHERE channel = ?");
  st.bind(1, channel);
  return fingerprints(st);
}

std::optional<TrustRepository::Progress> TrustRepository::progress(sqlite::Connection& c,
                                                                   const std::string& channel) {
  auto q = c.prepare("SELECT threshold, last_sequence, last_digest FROM channels WHERE name = ?");
  q.bind(1, channel);
  if (!q.step()) return std::nullopt;
  enum Col { threshold, last_sequence, last_digest };
  Progress p;
  p.threshold = static_cast<int>(q.get_int(threshold));
  if (!q.is_null(last_sequence)) p.last_sequence = q.get_int(last_sequence);
  p.last_digest = q.get_optional_text(last_digest).value_or("");
  return p;
}

void TrustRepository::record_import(sqlite::Connection& c, const std::string& channel,
                                    std::int64_t sequence, const std::string& digest,
                                    std::int64_t expires, int threshold, std::int64_t now) {
  c.prepare(
       "UPDATE channels SET last_sequence = ?, last_digest = ?, last_expires = ?, threshold = ?, "
       "updated_at = ? WHERE name = ?")
      .bind(1, sequence)
      .bind(2, digest)
      .bind(3, expires)
      .bind(4, static_cast<std::int64_t>(threshold))
      .bind(5, now)
      .bind(6, channel)
      .run();
}

void TrustRepository::rotate_keys(sqlite::Connection& c, const std::string& channel,
                                  const std::set<std::string>& old_keys,
                                  const std::set<std::string>& new_keys,
                                  const std::string& snapshot_digest, std::int64_t now) {
  for (const auto& f : old_keys)
    if (!new_keys.count(f)) remove_key(c, channel, f);
  for (const auto& f : new_keys)
    c.prepare(
         "INSERT OR IGNORE INTO channel_keys(channel, fingerprint, added_at, added_by) VALUES (?, "
         "?, ?, ?)")
        .bind(1, channel)
        .bind(2, f)
        .bind(3, now)
        .bind(4, snapshot_digest)
        .run();
}

}  // namespace airheal::snapshot
