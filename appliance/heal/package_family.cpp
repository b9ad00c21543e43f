#include "heal/package_family.hpp"

#include "heal/deb/dpkg_family.hpp"

namespace airheal::heal {

bool PackageFamily::database_path(std::string_view path) const {
  for (const auto& d : database_paths())
    if (path == d || (path.size() > d.size() && path.starts_with(d) && path[d.size()] == '/'))
      return true;
  return false;
}

namespace {
const deb::DpkgFamily kDpkg;
const PackageFamily* const kFamilies[] = {&kDpkg};
}  // namespace

const PackageFamily* package_family(std::string_view name) {
  for (const auto* f : kFamilies)
    if (f->name() == name) return f;
  return nullptr;
}

const PackageFamily* package_family_for_component(std::string_view type) {
  for (const auto* f : kFamilies)
    if (f->component_type() == type) return f;
  return nullptr;
}

}  // namespace airheal::heal
