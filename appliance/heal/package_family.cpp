#include "heal/package_family.hpp"

#include "heal/deb/dpkg_family.hpp"

namespace airheal::heal {

Result<std::string> ImageFiles::read(const std::string& path, std::uint64_t max_bytes) const {
  auto it = files_.find(path);
  if (it == files_.end()) return make_error(Errc::not_found, path + " is not in the image");
  return read_(path, it->second, max_bytes);
}

bool PackageFamily::database_path(std::string_view path) const {
  for (const auto& d : database_paths())
    if (path == d || (path.size() > d.size() && path.starts_with(d) && path[d.size()] == '/')) return true;
  return false;
}

const PackageFamily* package_family(std::string_view name) {
  static const deb::DpkgFamily dpkg;
  if (name == dpkg.name()) return &dpkg;
  return nullptr;
}

}  // namespace airheal::heal
