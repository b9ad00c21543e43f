#include "heal/pins.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include <map>
#include <memory>

#include "core/archive_path.hpp"
#include "core/fs.hpp"
#include "heal/attest.hpp"
#include "scan/layer.hpp"
#include "scan/lockfile.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;
using nlohmann::json;

std::string sri_sha512(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha512(), nullptr);
  return "sha512-" + base64_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::optional<std::string> go_mod_from_zip(const fsys::path& zip, const std::string& module,
                                           const std::string& version) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(),
                                                                  &archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), zip.c_str(), 1 << 16) != ARCHIVE_OK) return std::nullopt;
  auto want = module + "@" + version + "/go.mod";
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    if (want != entry_pathname(e)) continue;
    if (archive_entry_size(e) > (1 << 20)) return std::nullopt;
    std::string out(static_cast<std::size_t>(archive_entry_size(e)), '\0');
    auto n = archive_read_data(a.get(), out.data(), out.size());
    if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

namespace {

// The lockfile's bytes in the image: the topmost layer that has it.
Result<std::string> read_image_file(store::Store& store, const std::string& manifest,
                                    const std::string& path) {
  auto d = Digest::parse(manifest);
  if (!d) return make_error(Errc::invalid_argument, manifest + " is not a digest");
  auto bytes = fs::read_file(store.blob_path(*d), 8 << 20);
  if (!bytes) return bytes.error();
  auto m = oci::parse_manifest(*bytes, oci::media::kOciManifest);
  if (!m) return m.error();
  for (auto it = m->layers.rbegin(); it != m->layers.rend(); ++it) {
    auto r = scan::read_layer_file(store.blob_path(it->digest), path, 64ull << 20);
    if (r) return r;
    if (r.error().code != Errc::not_found) return r.error();
  }
  return make_error(Errc::not_found, "/" + path + " is in no layer of " + manifest);
}

Status write(const fsys::path& p, std::string_view data) {
  std::error_code ec;
  fsys::create_directories(p.parent_path(), ec);
  if (ec)
    return make_error(Errc::io_error,
                      "cannot create " + p.parent_path().string() + ": " + ec.message());
  return fs::write_file_atomic(p, data);
}

std::string npm_file_name(const std::string& package, const std::string& version) {
  std::string n = package;
  if (!n.empty() && n[0] == '@') n = n.substr(1);
  for (auto& ch : n)
    if (ch == '/') ch = '-';
  return n + "-" + version + ".tgz";
}

}  // namespace

Status write_dependency_pins(store::Store& store, const fsys::path& dir,
                             const std::string& original_manifest, const Plan& plan) {
  if (plan.dependencies.empty()) return {};
  auto root = dir / "dependencies";
  std::map<std::string, std::string> lockfiles;  // path -> text with the pins applied so far
  std::string readme = "Dependency pins written by airheal for " + original_manifest + ".\n\n" +
                       "The image's lockfiles name vulnerable versions; fixed versions were "
                       "imported into the air gap in signed\n"
                       "snapshots. The application must be rebuilt from source with the patched "
                       "lockfiles below.\n\n";
  bool go = false, npm = false;
  for (const auto& d : plan.dependencies) {
    auto digest = Digest::parse(d.digest);
    if (!digest)
      return make_error(Errc::invalid_argument, "artefact digest " + d.digest + " is not a digest");
    auto blob = store.blob_path(*digest);
    auto norm = scan::normalise_path(d.lockfile);
    if (!norm || norm->empty())
      return make_error(Errc::invalid_argument, "lockfile path /" + d.lockfile + " is not usable");
    if (!lockfiles.count(*norm)) {
      auto text = read_image_file(store, original_manifest, *norm);
      if (!text) return text.error();
      lockfiles[*norm] = *text;
    }
    auto& text = lockfiles[*norm];
    auto bytes = fs::read_file(blob, 1ull << 30);
    if (!bytes) return bytes.error();
    if (d.ecosystem == "Go") {
      go = true;
      auto pinned = scan::pin_go_mod(text, d.package, d.version);
      if (!pinned)
        return make_error(Errc::invalid_argument, "/" + *norm + " does not require " + d.package);
      text = *pinned;
      // A GOPROXY=file:// tree: the module zip, its go.mod and version info.
      auto at = root / "goproxy" / scan::go_escape_path(d.package) / "@v";
      auto mod = go_mod_from_zip(blob, d.package, d.version).value_or("module " + d.package + "\n");
      if (auto st = write(at / (d.version + ".zip"), *bytes); !st) return st;
      if (auto st = write(at / (d.version + ".mod"), mod); !st) return st;
      if (auto st = write(at / (d.version + ".info"), json{{"Version", d.version}}.dump() + "\n");
          !st)
        return st;
      if (auto st = write(at / "list", d.version + "\n"); !st) return st;
    } else if (d.ecosystem == "npm") {
      npm = true;
      auto file = npm_file_name(d.package, d.version);
      if (auto st = write(root / "npm" / file, *bytes); !st) return st;
      auto pinned = scan::pin_package_lock(text, d.package, d.version, "file:airheal-deps/" + file,
                                           sri_sha512(*bytes));
      if (!pinned)
        return make_error(Errc::invalid_argument, "/" + *norm + " lists no " + d.package);
      text = *pinned;
    } else {
      return make_error(Errc::invalid_argument, "no pin writer for ecosystem " + d.ecosystem);
    }
    readme += "  /" + *norm + ": " + d.package + " " + d.installed + " -> " + d.version +
              " (fixes " + d.fixes + "; imported as " + d.name + ", " + d.digest + ")\n";
  }
  for (const auto& [path, text] : lockfiles)
    if (auto st = write(root / "lockfiles" / path, text); !st) return st;
  readme += "\nTo rebuild with no network access:\n";
  if (go)
    readme +=
        "  Go: copy lockfiles/<path>/go.mod over the project's go.mod, then in the project folder\n"
        "      GOFLAGS=-mod=mod GOPROXY=file://$PWD/../dependencies/goproxy GOSUMDB=off go mod "
        "download\n"
        "      (adjust the path to this folder); go.sum gains the new module's hashes, then build "
        "as usual.\n";
  if (npm)
    readme +=
        "  npm: copy lockfiles/<path>/package-lock.json over the project's, copy npm/ to the "
        "project as\n"
        "      airheal-deps/, then  npm ci --offline\n";
  return write(root / "README.txt", readme);
}

}  // namespace airheal::heal
