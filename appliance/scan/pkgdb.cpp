#include "scan/pkgdb.hpp"

#include <sqlite3.h>

#include <cstring>
#include <memory>

namespace airheal::scan {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <typename F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    f(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string without_leading_slashes(std::string_view p) {
  while (!p.empty() && (p.front() == '/' || p.substr(0, 2) == "./"))
    p.remove_prefix(p.front() == '/' ? 1 : 2);
  return std::string(p);
}

}  // namespace

nlohmann::json PackageRecord::to_json() const {
  nlohmann::json j = {{"name", name}, {"version", version}};
  if (!arch.empty()) j["arch"] = arch;
  if (!source.empty()) j["source"] = source;
  if (!source_version.empty()) j["source_version"] = source_version;
  if (!license.empty()) j["license"] = license;
  if (!files.empty()) j["files"] = files;
  return j;
}

PackageRecord PackageRecord::from_json(const nlohmann::json& j) {
  PackageRecord r;
  r.name = j.value("name", "");
  r.version = j.value("version", "");
  r.arch = j.value("arch", "");
  r.source = j.value("source", "");
  r.source_version = j.value("source_version", "");
  r.license = j.value("license", "");
  if (j.contains("files")) r.files = j["files"].get<std::vector<std::string>>();
  return r;
}

std::map<std::string, std::string> parse_os_release(std::string_view text) {
  std::map<std::string, std::string> out;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line[0] == '#') return;
    auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) return;
    auto key = line.substr(0, eq);
    auto v = line.substr(eq + 1);
    std::string value;
    if (!v.empty() && (v[0] == '"' || v[0] == '\'')) {
      char q = v[0];
      for (std::size_t i = 1; i < v.size() && v[i] != q; ++i) {
        if (q == '"' && v[i] == '\\' && i + 1 < v.size()) ++i;
        value += v[i];
      }
    } else {
      value = v;
    }
    out[std::string(key)] = value;
  });
  return out;
}

std::vector<PackageRecord> parse_dpkg_status(std::string_view text, bool require_status) {
  std::vector<PackageRecord> out;
  std::map<std::string, std::string> fields;
  std::string last;
  auto flush = [&] {
    if (fields.empty()) return;
    auto f = [&](const char* k) {
      auto it = fields.find(k);
      return it == fields.end() ? std::string() : it->second;
    };
    auto status = f("Status");
    bool installed = require_status
                         ? status.size() >= 10 && status.substr(status.size() - 10) == " installed"
                         : (status.empty() || status.find(" installed") != std::string::npos);
    if (installed && !f("Package").empty() && !f("Version").empty()) {
      PackageRecord r;
      r.name = f("Package");
      r.version = f("Version");
      r.arch = f("Architecture");
      r.license = f("License");
      auto src = f("Source");
      // "Source: name (version)" when the source version differs (binNMUs, epochs).
      auto paren = src.find('(');
      if (paren != std::string::npos) {
        auto close = src.find(')', paren);
        r.source_version = std::string(trim(src.substr(
            paren + 1, close == std::string::npos ? std::string::npos : close - paren - 1)));
        src = std::string(trim(src.substr(0, paren)));
      }
      r.source = src.empty() ? r.name : src;
      if (r.source_version.empty()) r.source_version = r.version;
      out.push_back(std::move(r));
    }
    fields.clear();
    last.clear();
  };
  for_each_line(text, [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) {
      flush();
      return;
    }
    if (line[0] == ' ' || line[0] == '\t') return;  // continuation (descriptions, conffiles)
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    last = std::string(line.substr(0, colon));
    fields[last] = std::string(trim(line.substr(colon + 1)));
  });
  flush();
  return out;
}

std::vector<std::string> parse_dpkg_list(std::string_view text) {
  std::vector<std::string> out;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line == "/." || line == "/") return;
    out.push_back(without_leading_slashes(line));
  });
  return out;
}

std::vector<std::string> parse_md5sums(std::string_view text) {
  std::vector<std::string> out;
  for_each_line(text, [&](std::string_view line) {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return;
    auto path = trim(line.substr(sp));
    if (!path.empty() && path[0] == '*') path.remove_prefix(1);  // binary-mode marker
    if (!path.empty()) out.push_back(without_leading_slashes(path));
  });
  return out;
}

std::vector<PackageRecord> parse_apk_installed(std::string_view text) {
  std::vector<PackageRecord> out;
  PackageRecord cur;
  std::string dir;
  auto flush = [&] {
    if (!cur.name.empty() && !cur.version.empty()) {
      if (cur.source.empty()) cur.source = cur.name;
      cur.source_version = cur.version;
      out.push_back(std::move(cur));
    }
    cur = {};
    dir.clear();
  };
  for_each_line(text, [&](std::string_view line) {
    if (line.size() < 2 || line[1] != ':') {
      if (trim(line).empty()) flush();
      return;
    }
    auto v = std::string(line.substr(2));
    switch (line[0]) {
      case 'P':
        cur.name = v;
        break;
      case 'V':
        cur.version = v;
        break;
      case 'A':
        cur.arch = v;
        break;
      case 'o':
        cur.source = v;
        break;
      case 'L':
        cur.license = v;
        break;
      case 'F':
        dir = v;
        break;
      case 'R':
        cur.files.push_back(dir.empty() ? v : dir + "/" + v);
        break;
      default:
        break;
    }
  });
  flush();
  return out;
}

Result<PackageRecord> parse_rpm_header(std::string_view blob) {
  auto be32 = [&](std::size_t off) {
    return (static_cast<std::uint32_t>(static_cast<std::uint8_t>(blob[off])) << 24) |
           (static_cast<std::uint32_t>(static_cast<std::uint8_t>(blob[off + 1])) << 16) |
           (static_cast<std::uint32_t>(static_cast<std::uint8_t>(blob[off + 2])) << 8) |
           static_cast<std::uint32_t>(static_cast<std::uint8_t>(blob[off + 3]));
  };
  if (blob.size() < 8) return Error{Errc::invalid_argument, "rpm header shorter than 8 bytes"};
  std::uint64_t il = be32(0), dl = be32(4);
  if (il > 100000 || 8 + il * 16 + dl > blob.size())
    return Error{Errc::invalid_argument, "rpm header sizes exceed the blob"};
  auto data = blob.substr(8 + il * 16, dl);
  PackageRecord r;
  std::string epoch, release, sourcerpm;
  for (std::uint64_t i = 0; i < il; ++i) {
    auto e = 8 + i * 16;
    auto tag = be32(e), type = be32(e + 4), off = be32(e + 8), count = be32(e + 12);
    if (off >= data.size() || count == 0) continue;
    auto str = [&] {
      auto s = data.substr(off);
      return std::string(s.substr(0, s.find('\0')));
    };
    switch (tag) {
      case 1000:
        if (type == 6) r.name = str();
        break;
      case 1001:
        if (type == 6) r.version = str();
        break;
      case 1002:
        if (type == 6) release = str();
        break;
      case 1003:
        if (type == 4 && off + 4 <= data.size()) {
          auto d = data.substr(off, 4);
          epoch =
              std::to_string((static_cast<std::uint32_t>(static_cast<std::uint8_t>(d[0])) << 24) |
                             (static_cast<std::uint32_t>(static_cast<std::uint8_t>(d[1])) << 16) |
                             (static_cast<std::uint32_t>(static_cast<std::uint8_t>(d[2])) << 8) |
                             static_cast<std::uint32_t>(static_cast<std::uint8_t>(d[3])));
        }
        break;
      case 1014:
        if (type == 6) r.license = str();
        break;
      case 1022:
        if (type == 6) r.arch = str();
        break;
      case 1044:
        if (type == 6) sourcerpm = str();
        break;
      default:
        break;
    }
  }
  if (r.name.empty() || r.version.empty())
    return Error{Errc::invalid_argument, "rpm header without NAME or VERSION"};
  if (r.name == "gpg-pubkey") return Error{Errc::not_found, "gpg-pubkey pseudo-package"};
  r.version =
      (epoch.empty() ? "" : epoch + ":") + r.version + (release.empty() ? "" : "-" + release);
  // "openssl-3.0.7-27.el9.src.rpm" -> source "openssl"; its EVR is the binary's own.
  for (std::string_view suffix : {".src.rpm", ".nosrc.rpm"}) {
    if (sourcerpm.size() <= suffix.size() ||
        sourcerpm.compare(sourcerpm.size() - suffix.size(), suffix.size(), suffix))
      continue;
    auto s = sourcerpm.substr(0, sourcerpm.size() - suffix.size());
    auto rel = s.rfind('-');
    auto ver = rel == std::string::npos || rel == 0 ? std::string::npos : s.rfind('-', rel - 1);
    if (ver != std::string::npos && ver > 0) r.source = s.substr(0, ver);
    break;
  }
  if (r.source.empty()) r.source = r.name;
  r.source_version = r.version;
  return r;
}

Result<std::vector<PackageRecord>> parse_rpmdb_sqlite(std::string_view bytes) {
  if (bytes.size() < 100 || bytes.substr(0, 16) != std::string_view("SQLite format 3\0", 16))
    return Error{Errc::invalid_argument, "rpmdb.sqlite is not an SQLite database"};
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return Error{Errc::io_error, "cannot open an in-memory database"};
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  auto size = static_cast<sqlite3_int64>(bytes.size());
  auto* copy = static_cast<unsigned char*>(sqlite3_malloc64(bytes.size()));
  if (!copy) return Error{Errc::io_error, "out of memory reading rpmdb.sqlite"};
  std::memcpy(copy, bytes.data(), bytes.size());
  // rpm keeps its database in WAL mode; an in-memory image must read as a rollback-journal one.
  if (copy[18] == 2) copy[18] = 1;
  if (copy[19] == 2) copy[19] = 1;
  if (sqlite3_deserialize(db.get(), "main", copy, size, size,
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) !=
      SQLITE_OK)
    return Error{Errc::invalid_argument, "rpmdb.sqlite cannot be loaded"};
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT blob FROM Packages", -1, &st, nullptr) != SQLITE_OK)
    return Error{Errc::invalid_argument, std::string("rpmdb.sqlite: ") + sqlite3_errmsg(db.get())};
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(st, &sqlite3_finalize);
  std::vector<PackageRecord> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(st, 0));
    auto n = sqlite3_column_bytes(st, 0);
    if (!p || n <= 0) continue;
    auto r = parse_rpm_header(std::string_view(p, static_cast<std::size_t>(n)));
    if (r) out.push_back(std::move(*r));
  }
  if (rc != SQLITE_DONE)
    return Error{Errc::invalid_argument, std::string("rpmdb.sqlite: ") + sqlite3_errmsg(db.get())};
  return out;
}

}  // namespace airheal::scan
