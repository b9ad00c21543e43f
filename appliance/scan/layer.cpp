#include "scan/layer.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "core/archive_path.hpp"
#include "scan/app_manifest.hpp"
#include "scan/binary.hpp"
#include "scan/java.hpp"
#include "scan/lockfile.hpp"
#include "scan/pkgdb.hpp"

namespace airheal::scan {

std::optional<std::string> normalise_path(std::string_view p) { return normalise_archive_path(p); }

namespace {

nlohmann::json parse_record(const std::string& kind, const std::string& bytes,
                            std::vector<std::string>& problems, const std::string& path) {
  auto packages = [](const std::vector<PackageRecord>& v) {
    auto a = nlohmann::json::array();
    for (const auto& p : v) a.push_back(p.to_json());
    return a;
  };
  if (kind == "os-release") return parse_os_release(bytes);
  if (kind == "dpkg-status") return packages(parse_dpkg_status(bytes, true));
  if (kind == "dpkg-statusd") return packages(parse_dpkg_status(bytes, false));
  if (kind == "dpkg-list") return parse_dpkg_list(bytes);
  if (kind == "md5sums") return parse_md5sums(bytes);
  if (kind == "deb-copyright") return parse_debian_copyright(bytes);
  if (kind == "apk") return packages(parse_apk_installed(bytes));
  if (kind == "go-mod" || kind == "npm-lock") {
    std::vector<std::string> local;
    auto deps = kind == "go-mod" ? parse_go_mod(bytes, local) : parse_package_lock(bytes, local);
    for (const auto& p : local) problems.push_back(path + ": " + p);
    auto a = nlohmann::json::array();
    for (const auto& d : deps) a.push_back(d.to_json());
    return a;
  }
  if (kind == "node-package" || kind == "python-package") {
    std::vector<std::string> local;
    auto d = kind == "node-package" ? parse_node_package(bytes, local)
                                    : parse_python_metadata(bytes, local);
    for (const auto& p : local) problems.push_back(path + ": " + p);
    auto a = nlohmann::json::array();
    if (d) a.push_back(d->to_json());
    return a;
  }
  if (kind == "gemspec" || kind == "dotnet-deps" || kind == "nupkg" ||
      kind == "composer-installed" || kind == "cargo-lock") {
    std::vector<std::string> local;
    auto slash = path.rfind('/');
    auto file = slash == std::string::npos ? path : path.substr(slash + 1);
    auto deps = kind == "gemspec"       ? parse_gemspec(bytes, file, local)
                : kind == "dotnet-deps" ? parse_deps_json(bytes, local)
                : kind == "nupkg"       ? parse_nupkg(bytes, local)
                : kind == "cargo-lock"  ? parse_cargo_lock(bytes, local)
                                        : parse_composer_installed(bytes, local);
    for (const auto& p : local) problems.push_back(path + ": " + p);
    auto a = nlohmann::json::array();
    for (const auto& d : deps) a.push_back(d.to_json());
    return a;
  }
  if (kind == "python-record") {  // the files a distribution owns
    auto a = nlohmann::json::array();
    for (const auto& row : parse_record_rows(bytes))
      if (!row.empty() && !row[0].empty()) a.push_back(row[0]);
    return a;
  }
  if (kind == "java-archive") {
    std::vector<std::string> local;
    auto slash = path.rfind('/');
    auto pkgs = parse_java_archive(
        bytes, slash == std::string::npos ? path : path.substr(slash + 1), local);
    for (const auto& p : local) problems.push_back(path + ": " + p);
    auto a = nlohmann::json::array();
    for (const auto& p : pkgs) a.push_back(p.to_json());
    return a;
  }
  if (kind == "rpm") {
    auto r = parse_rpmdb_sqlite(bytes);
    if (!r) {
      problems.push_back(path + ": " + r.error().message);
      return nlohmann::json::array();
    }
    return packages(*r);
  }
  return nullptr;
}

nlohmann::json binary_json(const BinaryInfo& b) {
  nlohmann::json j = nlohmann::json::object();
  if (b.go) {
    auto mod = [](const GoModule& m) {
      return nlohmann::json{{"path", m.path}, {"version", m.version}, {"sum", m.sum}};
    };
    nlohmann::json deps = nlohmann::json::array();
    for (const auto& d : b.go->deps) deps.push_back(mod(d));
    nlohmann::json settings = nlohmann::json::object();
    for (const auto& [k, v] : b.go->settings) settings[k] = v;
    j["go"] = {{"go_version", b.go->go_version},
               {"path", b.go->path},
               {"main", mod(b.go->main)},
               {"deps", deps},
               {"settings", settings}};
  }
  if (b.package_note) j["package_note"] = *b.package_note;
  if (!b.rust.empty()) {
    auto a = nlohmann::json::array();
    for (const auto& r : b.rust)
      a.push_back(
          {{"name", r.name}, {"version", r.version}, {"source", r.source}, {"root", r.root}});
    j["rust"] = a;
  }
  return j;
}

}  // namespace

std::string classify_path(const std::string& p) {
  if (p == "etc/os-release" || p == "usr/lib/os-release") return "os-release";
  if (p == "var/lib/dpkg/status") return "dpkg-status";
  if (p == "lib/apk/db/installed" || p == "usr/lib/apk/db/installed") return "apk";
  if (p == "var/lib/rpm/rpmdb.sqlite" || p == "usr/lib/sysimage/rpm/rpmdb.sqlite") return "rpm";
  constexpr std::string_view statusd = "var/lib/dpkg/status.d/";
  if (p.starts_with(statusd)) {
    auto rest = p.substr(statusd.size());
    auto slash = rest.find('/');
    if (slash == std::string::npos) return rest.ends_with(".md5sums") ? "md5sums" : "dpkg-statusd";
    auto leaf = rest.substr(slash + 1);  // directory form: status.d/<pkg>/{control,md5sums}
    if (leaf == "control") return "dpkg-statusd";
    if (leaf == "md5sums") return "md5sums";
    return {};
  }
  constexpr std::string_view info = "var/lib/dpkg/info/";
  if (p.starts_with(info) && p.ends_with(".list") && p.find('/', info.size()) == std::string::npos)
    return "dpkg-list";
  constexpr std::string_view doc = "usr/share/doc/", copyright = "/copyright";
  if (p.starts_with(doc) && p.ends_with(copyright) && p.size() > doc.size() + copyright.size() &&
      p.find('/', doc.size()) == p.size() - copyright.size())
    return "deb-copyright";
  if (auto k = lockfile_kind(p); !k.empty()) return k;
  if (node_package_path(p)) return "node-package";
  if (java_archive_path(p)) return "java-archive";
  if (auto k = app_manifest_kind(p); !k.empty()) return k;
  if (python_record_path(p)) return "python-record";
  return python_package_path(p) ? "python-package" : std::string();
}

namespace {

using LayerArchive = std::unique_ptr<struct archive, decltype(&archive_read_free)>;

// A layer blob opened for streaming: tar (ustar, pax, GNU), plain, gzip or zstd.
Result<LayerArchive> open_layer(const std::filesystem::path& blob) {
  LayerArchive a(archive_read_new(), &archive_read_free);
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_none(a.get());
  if (archive_read_open_filename(a.get(), blob.c_str(), 1 << 20) != ARCHIVE_OK)
    return Error{Errc::invalid_argument,
                 "layer " + blob.filename().string() + ": " + archive_error_string(a.get())};
  return a;
}

}  // namespace

Result<LayerInventory> read_layer(const std::filesystem::path& blob,
                                  const LayerReadOptions& options) {
  auto opened = open_layer(blob);
  if (!opened) return opened.error();
  auto& a = *opened;
  LayerInventory inv;
  struct archive_entry* e = nullptr;
  while (true) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      return Error{Errc::invalid_argument,
                   "layer " + blob.filename().string() + " is not a readable tar: " +
                       (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?")};
    const char* raw = entry_pathname(e);
    auto norm = raw ? normalise_path(raw) : std::nullopt;
    if (!norm) {
      inv.problems.push_back(std::string("entry escapes the root, ignored: ") +
                             (raw ? raw : "(no name)"));
      continue;
    }
    auto& path = *norm;
    if (path.empty()) continue;
    auto slash = path.rfind('/');
    auto base = slash == std::string::npos ? path : path.substr(slash + 1);
    auto dir = slash == std::string::npos ? std::string() : path.substr(0, slash);
    if (base == ".wh..wh..opq") {
      inv.opaque.push_back(dir);
      continue;
    }
    if (base.starts_with(".wh.")) {
      inv.whiteouts.push_back(dir.empty() ? base.substr(4) : dir + "/" + base.substr(4));
      continue;
    }
    LayerFile f;
    f.path = path;
    auto type = archive_entry_filetype(e);
    if (*entry_hardlink(e)) {
      f.type = 'h';
      auto t = normalise_path(entry_hardlink(e));
      f.link = t ? *t : "";
    } else if (type == AE_IFREG) {
      f.type = 'f';
    } else if (type == AE_IFDIR) {
      f.type = 'd';
    } else if (type == AE_IFLNK) {
      f.type = 'l';
      f.link = entry_symlink(e);
    } else {
      f.type = 'o';
    }
    f.size = f.type == 'f'
                 ? static_cast<std::uint64_t>(std::max<la_int64_t>(archive_entry_size(e), 0))
                 : 0;
    inv.files.push_back(f);
    if (f.type != 'f' || f.size == 0) continue;

    auto kind = classify_path(path);
    bool candidate_binary = kind.empty() && f.size >= 64 && f.size <= options.max_binary_bytes;
    if (kind.empty() && !candidate_binary) continue;
    if (!kind.empty() && f.size > options.max_database_bytes) {
      inv.problems.push_back(path + ": package database larger than the limit, not read");
      continue;
    }
    std::string bytes;
    const void* buf;
    size_t len;
    la_int64_t off;
    bool first = true, skip = false;
    while ((rc = archive_read_data_block(a.get(), &buf, &len, &off)) == ARCHIVE_OK) {
      auto view = std::string_view(static_cast<const char*>(buf), len);
      if (first && candidate_binary && !looks_like_elf(view)) {
        skip = true;
        break;
      }
      first = false;
      if (static_cast<std::uint64_t>(off) > bytes.size())
        bytes.resize(static_cast<std::size_t>(off));  // sparse
      bytes.append(view);
      if (bytes.size() > f.size) break;
    }
    if (skip) continue;
    if (rc < ARCHIVE_WARN)
      return Error{Errc::invalid_argument,
                   "layer " + blob.filename().string() + " is truncated or corrupt at " + path +
                       ": " +
                       (archive_error_string(a.get()) ? archive_error_string(a.get()) : "?")};
    inv.bytes_read += bytes.size();
    if (candidate_binary) {
      auto info = read_binary(bytes);
      for (const auto& p : info.problems) inv.problems.push_back(path + ": " + p);
      if (!info.empty()) inv.records[path] = {"binary", binary_json(info)};
    } else {
      inv.records[path] = {kind, parse_record(kind, bytes, inv.problems, path)};
    }
  }
  return inv;
}

nlohmann::json LayerInventory::to_json() const {
  auto files_j = nlohmann::json::array();
  for (const auto& f : files) {
    auto row = nlohmann::json::array({f.path, std::string(1, f.type), f.size});
    if (!f.link.empty()) row.push_back(f.link);
    files_j.push_back(std::move(row));
  }
  auto rec = nlohmann::json::object();
  for (const auto& [p, r] : records) rec[p] = {{"kind", r.kind}, {"data", r.data}};
  return {{"parser", kLayerParserVersion},
          {"files", files_j},
          {"whiteouts", whiteouts},
          {"opaque", opaque},
          {"records", rec},
          {"problems", problems},
          {"bytes_read", bytes_read}};
}

LayerInventory LayerInventory::from_json(const nlohmann::json& j) {
  LayerInventory inv;
  for (const auto& row : j.at("files")) {
    LayerFile f;
    f.path = row.at(0).get<std::string>();
    f.type = row.at(1).get<std::string>()[0];
    f.size = row.at(2).get<std::uint64_t>();
    if (row.size() > 3) f.link = row.at(3).get<std::string>();
    inv.files.push_back(std::move(f));
  }
  inv.whiteouts = j.at("whiteouts").get<std::vector<std::string>>();
  inv.opaque = j.at("opaque").get<std::vector<std::string>>();
  for (const auto& [p, r] : j.at("records").items())
    inv.records[p] = {r.at("kind").get<std::string>(), r.at("data")};
  inv.problems = j.at("problems").get<std::vector<std::string>>();
  inv.bytes_read = j.value("bytes_read", std::uint64_t{0});
  return inv;
}

Result<std::string> read_layer_file(const std::filesystem::path& blob, const std::string& path,
                                    std::uint64_t max_bytes) {
  auto opened = open_layer(blob);
  if (!opened) return opened.error();
  auto& a = *opened;
  struct archive_entry* e = nullptr;
  std::optional<std::string> found;
  while (true) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      return Error{Errc::invalid_argument,
                   "layer " + blob.filename().string() + " is not a readable tar"};
    const char* raw = entry_pathname(e);
    auto norm = raw ? normalise_path(raw) : std::nullopt;
    if (!norm || *norm != path || archive_entry_filetype(e) != AE_IFREG) continue;
    if (static_cast<std::uint64_t>(archive_entry_size(e)) > max_bytes)
      return Error{Errc::too_large,
                   path + " is larger than " + std::to_string(max_bytes) + " bytes"};
    std::string bytes;
    bytes.reserve(static_cast<std::size_t>(archive_entry_size(e)));
    const void* buf;
    size_t len;
    la_int64_t off;
    while ((rc = archive_read_data_block(a.get(), &buf, &len, &off)) == ARCHIVE_OK) {
      if (bytes.size() + len > max_bytes)
        return Error{Errc::too_large,
                     path + " is larger than " + std::to_string(max_bytes) + " bytes"};
      bytes.append(static_cast<const char*>(buf), len);
    }
    if (rc != ARCHIVE_EOF)
      return Error{Errc::invalid_argument,
                   "layer " + blob.filename().string() + ": truncated at " + path};
    found = std::move(bytes);  // a later entry for the same path wins, as when the layer is applied
  }
  if (!found) return Error{Errc::not_found, path + " is not in layer " + blob.filename().string()};
  return *found;
}

}  // namespace airheal::scan
