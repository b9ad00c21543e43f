#include "heal/package_family.hpp"

#include <spdlog/spdlog.h>

#include <fstream>

#include "heal/apk/apk_family.hpp"
#include "heal/deb/dpkg_family.hpp"
#include "heal/rpm/rpm_family.hpp"

namespace airheal::heal {

bool PackageFamily::database_path(std::string_view path) const {
  for (const auto& d : database_paths())
    if (path == d || (path.size() > d.size() && path.starts_with(d) && path[d.size()] == '/'))
      return true;
  return false;
}

std::map<std::string, SourceNeed> findings_by_source(const PackageFamily& family,
                                                     const FamilyPlanInput& input,
                                                     FamilyPlan& out) {
  std::map<std::string, SourceNeed> sources;
  for (const auto& f : input.findings) {
    auto id = f.value("advisory", std::string());
    auto fixed = f.value("fixed", std::string());
    if (fixed.empty() || !family.database_path(f.value("location", std::string()))) {
      out.deferred.insert(id);
      continue;
    }
    auto source = f.value("source", std::string());
    if (source.empty()) source = f.value("package", std::string());
    auto& need = sources[source];
    if (need.fixed.empty() || family.compare_versions(fixed, need.fixed).value_or(0) > 0)
      need.fixed = fixed;
    need.ids.insert(id);
  }
  return sources;
}

void defer_source(FamilyPlan& out, const std::string& source, const SourceNeed& need,
                  const std::string& reason, const std::vector<std::string>& missing) {
  out.deferred.insert(need.ids.begin(), need.ids.end());
  std::string m;
  for (const auto& x : missing) m += " " + x;
  out.missing.push_back(source + " " + need.fixed + ":" + m);
  out.deferrals.push_back({{"source", source},
                           {"fixed", need.fixed},
                           {"ids", need.ids},
                           {"reason", reason},
                           {"missing", missing}});
}

std::vector<std::pair<const ImportedContent*, nlohmann::json>> imported_metadata(
    const FamilyPlanInput& input, PlanSources& io) {
  std::vector<std::pair<const ImportedContent*, nlohmann::json>> out;
  if (!input.imported) return out;
  for (const auto& c : *input.imported) {
    auto text = io.package_metadata
                    ? io.package_metadata(c.digest)
                    : Result<std::string>(make_error(Errc::not_found, "no package reader"));
    if (!text) {
      spdlog::warn("imported package {} {} is not usable: {}", c.name, c.version,
                   text.error().message);
      continue;
    }
    auto meta = nlohmann::json::parse(*text, nullptr, false);
    if (meta.is_object()) out.emplace_back(&c, std::move(meta));
  }
  return out;
}

Status place_in_repository(const std::filesystem::path& file, const std::filesystem::path& dir,
                           const std::string& name) {
  namespace fsys = std::filesystem;
  std::error_code ec;
  auto to = dir / name;
  fsys::remove(to, ec);
  fsys::create_hard_link(file, to, ec);
  if (ec) fsys::copy_file(file, to, fsys::copy_options::overwrite_existing, ec);
  if (ec)
    return make_error(Errc::io_error,
                      "cannot place " + name + " in the local repository: " + ec.message());
  fsys::permissions(
      to, fsys::perms::owner_read | fsys::perms::group_read | fsys::perms::others_read, ec);
  return {};
}

namespace {
const deb::DpkgFamily kDpkg;
const alpine::ApkFamily kApk;
const rpmfamily::RpmFamily kRpm;
const PackageFamily* const kFamilies[] = {&kDpkg, &kApk, &kRpm};
}  // namespace

const PackageFamily* package_family(std::string_view name) {
  for (const auto* f : kFamilies)
    if (f->name() == name) return f;
  return nullptr;
}

const PackageFamily* package_family_of_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof magic);
  if (in.gcount() == 8 && std::string_view(magic, 8) == "!<arch>\n") return &kDpkg;
  if (in.gcount() >= 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
      static_cast<unsigned char>(magic[1]) == 0x8b)
    return &kApk;
  if (in.gcount() >= 4 && std::string_view(magic, 4) == std::string_view("\xed\xab\xee\xdb", 4))
    return &kRpm;
  return nullptr;
}

const PackageFamily* package_family_for_component(std::string_view type) {
  for (const auto* f : kFamilies)
    if (f->component_type() == type) return f;
  return nullptr;
}

}  // namespace airheal::heal
