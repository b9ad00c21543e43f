#include "format/verify.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "audit/checkpoint.hpp"
#include "core/archive_path.hpp"
#include "core/digest.hpp"
#include "core/fs.hpp"
#include "core/pgp.hpp"
#include "core/subprocess.hpp"

namespace airheal::evidence {
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t kMaxBundle = 8ull << 30;

std::string normal_fpr(std::string f) {
  std::string out;
  for (char c : f)
    if (c != ' ') out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

struct TempHome {
  fsys::path dir;
  TempHome() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = (fsys::path(t && *t ? t : "/tmp") / "airheal-evidence-XXXXXX").string();
    if (char* d = ::mkdtemp(tmpl.data())) dir = d;
  }
  ~TempHome() {
    if (dir.empty()) return;
    // Stop the agent GnuPG may have started for this home before removing it.
    try {
      ProcessOptions po;
      po.timeout = std::chrono::seconds(20);
      (void)run_process({"gpgconf", "--homedir", dir.string(), "--kill", "all"}, po);
    } catch (...) {
    }
    std::error_code ec;
    fsys::remove_all(dir, ec);
  }
};

std::vector<std::string> split_lines(const std::string& text, bool& torn) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  torn = false;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) {
      torn = true;
      out.push_back(text.substr(pos));
      break;
    }
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> read_bundle(const fsys::path& bundle,
                                               std::vector<std::string>& problems,
                                               bool& unreadable) {
  std::map<std::string, std::string> files;
  unreadable = false;
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(),
                                                                  &archive_read_free);
  // A bundle is a plain tar, exactly as exported: one content, one digest (no compression, no
  // bytes after the end-of-archive marker).
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_none(a.get());
  if (archive_read_open_filename(a.get(), bundle.c_str(), 1 << 16) != ARCHIVE_OK) {
    unreadable = true;
    problems.push_back(bundle.string() +
                       " cannot be read as a bundle (tar): " + archive_error_string(a.get()));
    return files;
  }
  struct archive_entry* e = nullptr;
  std::uint64_t total = 0;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    std::string path = entry_pathname(e);
    while (path.rfind("./", 0) == 0) path = path.substr(2);
    auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) continue;
    bool safe = !path.empty() && path[0] != '/' &&
                ("/" + path + "/").find("/../") == std::string::npos &&
                path.find('\0') == std::string::npos && path.find("//") == std::string::npos;
    if (!safe) {
      problems.push_back("the bundle holds a member with an unsafe path: " + path);
      continue;
    }
    if (type != AE_IFREG || *entry_hardlink(e)) {
      problems.push_back("the bundle holds " + path +
                         ", which is not a regular file (links are not allowed)");
      continue;
    }
    auto size = archive_entry_size(e);
    total += static_cast<std::uint64_t>(std::max<la_int64_t>(size, 0));
    if (size < 0 || total > kMaxBundle) {
      problems.push_back("the bundle is larger than " + std::to_string(kMaxBundle >> 30) +
                         " GiB; not read");
      unreadable = true;
      return files;
    }
    std::string bytes(static_cast<std::size_t>(size), '\0');
    auto n = size ? archive_read_data(a.get(), bytes.data(), bytes.size()) : 0;
    if (n != size) {
      problems.push_back("the bundle is truncated or corrupt at " + path);
      unreadable = true;
      return files;
    }
    if (files.count(path))
      problems.push_back("the bundle holds " + path + " twice (a second copy was added)");
    files[path] = std::move(bytes);
  }
  if (rc != ARCHIVE_EOF) {
    problems.push_back(
        "the bundle is truncated or corrupt: " +
        std::string(archive_error_string(a.get()) ? archive_error_string(a.get()) : ""));
    unreadable = files.empty();
    return files;
  }
  // After the end-of-archive marker only tar's zero padding may follow (to at most one 10 KiB
  // record).
  auto end = archive_read_header_position(a.get());
  std::error_code ec;
  auto size = static_cast<std::int64_t>(fsys::file_size(bundle, ec));
  if (!ec && end >= 0 && size > end) {
    std::ifstream in(bundle, std::ios::binary);
    in.seekg(end);
    std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool zeros = tail.find_first_not_of('\0') == std::string::npos;
    if (!zeros || tail.size() > 10240 + 1024)
      problems.push_back("the bundle has " + std::to_string(tail.size()) +
                         " bytes after the end of the tar archive" +
                         (zeros ? "" : " that are not padding") + " (something was appended)");
  }
  return files;
}

Result<std::vector<std::string>> fingerprints_in(const fsys::path& keyring) {
  auto bytes = fs::read_file(keyring, 16u << 20);
  if (!bytes)
    return make_error(Errc::invalid_argument,
                      "cannot read the keyring " + keyring.string() + ": " + bytes.error().message);
  TempHome home;
  auto kr = pgp::Keyring::open(home.dir);
  if (home.dir.empty() || !kr)
    return make_error(Errc::io_error,
                      "cannot create a temporary GnuPG home to read " + keyring.string());
  auto fprs = kr->import_keys(*bytes);
  if (!fprs || fprs->empty())
    return make_error(Errc::invalid_argument, keyring.string() + " holds no OpenPGP public key");
  std::vector<std::string> out;
  for (const auto& f : *fprs)
    if (auto k = kr->key(f)) out.push_back(k->fingerprint);
  return out;
}

Verdict verify_bundle(const fsys::path& bundle, const std::vector<std::string>& expected_keys) {
  Verdict v;
  auto files = read_bundle(bundle, v.problems, v.unreadable);
  if (v.unreadable) return v;
  v.files = files.size();
  auto need = [&](const std::string& p) -> const std::string* {
    auto it = files.find(p);
    if (it == files.end()) {
      v.problems.push_back(p + " is missing");
      return nullptr;
    }
    return &it->second;
  };
  const auto* manifest = need("MANIFEST.sha256");
  const auto* signature = need("MANIFEST.sha256.asc");
  const auto* pub = need("keys/appliance.asc");
  const auto* bundle_json = need("bundle.json");
  if (!manifest || !signature || !pub) {
    v.unreadable = !manifest && !signature && !bundle_json;
    if (v.unreadable)
      v.problems.insert(v.problems.begin(), bundle.string() + " is not an airheal evidence bundle");
    return v;
  }
  // 1. The signature over the manifest, by the appliance key the bundle carries; that key must
  //    be the one the auditor expects.
  TempHome home;
  auto kr = pgp::Keyring::open(home.dir);
  if (home.dir.empty() || !kr) {
    v.unreadable = true;
    v.problems.push_back("cannot create a temporary GnuPG home to check signatures");
    return v;
  }
  auto imported = kr->import_keys(*pub);
  if (!imported || imported->empty())
    v.problems.push_back("keys/appliance.asc holds no usable OpenPGP public key");
  std::set<std::string> expected;
  for (const auto& k : expected_keys) expected.insert(normal_fpr(k));
  auto good_by = [&](const std::string& sig, const std::string& data) -> std::string {
    auto checks = kr->verify_detached(sig, data);
    if (!checks) return "";
    for (const auto& c : *checks)
      if (c.good) return normal_fpr(c.fingerprint);
    return "";
  };
  v.key = good_by(*signature, *manifest);
  if (v.key.empty()) {
    v.problems.push_back(
        "MANIFEST.sha256 has no good signature by the key in keys/appliance.asc: the manifest or "
        "its signature was altered, or the signature is by an unknown key");
  } else {
    v.checks.push_back("MANIFEST.sha256 is signed by " + v.key);
    if (!expected.empty()) {
      v.key_checked = expected.count(v.key) > 0;
      if (!v.key_checked)
        v.problems.push_back("the bundle is signed by " + v.key +
                             ", which is not the appliance key you expect; do not trust it");
    }
  }
  if (bundle_json) {
    auto bj = json::parse(*bundle_json, nullptr, false);
    if (!bj.is_object() || bj.value("format", "") != "airheal-evidence/1")
      v.problems.push_back("bundle.json does not describe an airheal-evidence/1 bundle");
    else if (!v.key.empty() && normal_fpr(bj.value("appliance_key", "")) != v.key)
      v.problems.push_back("bundle.json names appliance key " + bj.value("appliance_key", "") +
                           " but the bundle is signed by " + v.key);
  }
  // 2. Every file against the manifest; nothing missing, nothing extra.
  std::map<std::string, std::string> listed;
  bool torn = false;
  std::size_t n = 0;
  for (const auto& line : split_lines(*manifest, torn)) {
    ++n;
    if (line.size() < 67 || line.compare(64, 2, "  ") != 0) {
      v.problems.push_back("MANIFEST.sha256 line " + std::to_string(n) + " is malformed");
      continue;
    }
    auto hex = line.substr(0, 64), path = line.substr(66);
    if (listed.count(path)) v.problems.push_back("MANIFEST.sha256 lists " + path + " twice");
    listed[path] = hex;
  }
  std::size_t matched = 0;
  for (const auto& [path, hex] : listed) {
    auto it = files.find(path);
    if (it == files.end()) {
      v.problems.push_back(
          path + " is listed in the signed manifest but missing from the bundle (removed)");
      continue;
    }
    auto actual = Sha256::of(it->second).hex();
    if (actual != hex)
      v.problems.push_back(path + " was modified: its sha256 is " + actual +
                           ", the signed manifest says " + hex);
    else
      ++matched;
  }
  for (const auto& [path, bytes] : files)
    if (!listed.count(path) && path != "MANIFEST.sha256" && path != "MANIFEST.sha256.asc")
      v.problems.push_back(path + " is in the bundle but not in the signed manifest (added)");
  v.checks.push_back(std::to_string(matched) + " of " + std::to_string(listed.size()) +
                     " files match the signed manifest");
  // 3. The audit slice: its hash chain, anchored by signed checkpoints at both ends.
  auto bj = bundle_json ? json::parse(*bundle_json, nullptr, false) : json();
  auto au = bj.is_object() ? bj.value("audit", json::object()) : json::object();
  if (au.value("records", 0) > 0) {
    auto first = au.value("first_seq", std::int64_t{0}),
         last = au.value("last_seq", std::int64_t{0});
    auto start = au.value("start_checkpoint", std::int64_t{0}),
         end = au.value("end_checkpoint", std::int64_t{0});
    v.first_seq = first;
    v.last_seq = last;
    const auto* journal = need("audit/journal.jsonl");
    auto checkpoint = [&](std::int64_t seq) -> std::optional<audit::Checkpoint> {
      auto base = "audit/checkpoints/" + std::to_string(seq) + ".json";
      const auto* b = need(base);
      const auto* s = need(base + ".asc");
      if (!b || !s) return std::nullopt;
      auto c = audit::parse_checkpoint(*b);
      if (!c || c->seq != seq) {
        v.problems.push_back(base + " is not a checkpoint of record " + std::to_string(seq));
        return std::nullopt;
      }
      auto by = good_by(*s, *b);
      if (by.empty() || (!v.key.empty() && by != v.key) || normal_fpr(c->key) != by) {
        v.problems.push_back(
            base +
            " has no good signature by the appliance key: the checkpoint was altered or forged");
        return std::nullopt;
      }
      return c;
    };
    if (journal) {
      auto lines = split_lines(*journal, torn);
      if (torn)
        v.problems.push_back("audit/journal.jsonl ends in the middle of a record (truncated)");
      if (static_cast<std::int64_t>(lines.size()) != last - first + 1)
        v.problems.push_back("audit/journal.jsonl holds " + std::to_string(lines.size()) +
                             " records; the slice " + std::to_string(first) + ".." +
                             std::to_string(last) + " has " + std::to_string(last - first + 1) +
                             " (records were removed or inserted)");
      std::string first_prev = audit::kGenesisHash;
      bool anchored = true;
      if (start) {
        auto c = checkpoint(start);
        if (c && c->seq + 1 != first)
          v.problems.push_back("the slice does not start right after checkpoint " +
                               std::to_string(start));
        if (c)
          first_prev = c->head;
        else
          anchored = false;
      } else if (first != 1) {
        v.problems.push_back("the slice starts at record " + std::to_string(first) +
                             " with no checkpoint before it");
        anchored = false;
      }
      if (anchored) {
        if (auto p = audit::verify_chain(lines, first, first_prev); !p.empty())
          v.problems.push_back("audit journal: " + p);
      }
      if (auto c = checkpoint(end)) {
        if (c->seq != last)
          v.problems.push_back("the slice does not end at checkpoint " + std::to_string(end));
        else if (auto p = audit::verify_checkpoint_against(*c, lines, first); !p.empty())
          v.problems.push_back("audit journal: " + p);
      }
      v.checks.push_back("audit records " + std::to_string(first) + " to " + std::to_string(last) +
                         ": hash chain checked between signed checkpoints " +
                         (start ? std::to_string(start) + " and " : "") + std::to_string(end));
    }
  } else if (files.count("audit/journal.jsonl")) {
    v.problems.push_back(
        "bundle.json says the bundle has no audit records, yet it holds audit/journal.jsonl");
  }
  v.ok = v.problems.empty();
  return v;
}

}  // namespace airheal::evidence
