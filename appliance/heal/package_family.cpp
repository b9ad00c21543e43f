#include "heal/package_family.hpp"

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
