#include "heal/deb/repository.hpp"

#include <ctime>

#include "core/digest.hpp"
#include "core/fs.hpp"
#include "heal/package_family.hpp"

namespace airheal::heal::deb {
namespace fsys = std::filesystem;

Result<std::string> deb_file_name(const Paragraph& control) {
  auto pkg = package_from(control);
  if (!pkg) return pkg.error();
  auto arch = std::string(control.field("Architecture"));
  if (arch.empty() ||
      arch.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    return make_error(Errc::invalid_argument,
                      pkg->name + ": '" + arch.substr(0, 64) + "' is not an architecture");
  auto v = pkg->version;
  for (auto& ch : v)
    if (ch == ':') ch = '%';
  return pkg->name + "_" + v + "_" + arch + ".deb";
}

Result<std::string> packages_index(const std::vector<RepositoryPackage>& packages) {
  std::string out;
  for (const auto& p : packages) {
    auto name = deb_file_name(p.control);
    if (!name) return name.error();
    if (p.sha256.size() != 64 ||
        p.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
      return make_error(Errc::invalid_argument, *name + ": not a SHA-256");
    auto c = p.control;
    for (auto f :
         {"Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512", "Status", "Description-md5"})
      c.erase(f);
    c.set("Filename", "./" + *name);
    c.set("Size", std::to_string(p.size));
    c.set("SHA256", p.sha256);
    if (!out.empty()) out += "\n";
    out += c.text();
  }
  return out;
}

Status write_repository(const fsys::path& dir, const std::string& mount,
                        const std::vector<RepositoryPackage>& packages, std::int64_t date) {
  std::error_code ec;
  for (auto sub : {"sources.list.d", "preferences.d"}) fsys::create_directories(dir / sub, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  for (const auto& p : packages) {
    auto name = deb_file_name(p.control);
    if (!name) return name.error();
    if (auto st = place_in_repository(p.file, dir, *name); !st) return st.error();
  }
  auto index = packages_index(packages);
  if (!index) return index.error();
  char when[64];
  std::time_t t = static_cast<std::time_t>(date);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S UTC", &tm);
  auto release =
      std::string(
          "Origin: airheal\nLabel: airheal heal\nSuite: airheal\nCodename: airheal\nDate: ") +
      when +
      "\nDescription: imported fixed packages for one heal (verified on import)\nSHA256:\n " +
      Sha256::of(*index).hex() + " " + std::to_string(index->size()) + " Packages\n";
  for (auto [file, text] : {std::pair{"Packages", *index}, std::pair{"Release", release},
                            std::pair{"sources.list", "deb [trusted=yes] file:" + mount + " ./\n"},
                            std::pair{"preferences", std::string()}})
    if (auto st = fs::write_file_atomic(dir / file, text); !st) return st;
  for (auto f : {"Packages", "Release", "sources.list", "preferences"})
    fsys::permissions(dir / f,
                      fsys::perms::owner_read | fsys::perms::owner_write | fsys::perms::group_read |
                          fsys::perms::others_read,
                      ec);
  return {};
}

std::vector<std::string> apt_options(const std::string& mount, const std::string& state_mount) {
  return {"-o", "Dir::Etc::SourceList=" + mount + "/sources.list",
          "-o", "Dir::Etc::SourceParts=" + mount + "/sources.list.d",
          "-o", "Dir::Etc::Preferences=" + mount + "/preferences",
          "-o", "Dir::Etc::PreferencesParts=" + mount + "/preferences.d",
          "-o", "Dir::State::Lists=" + state_mount + "/lists",
          "-o", "Dir::Cache=" + state_mount + "/cache",
          "-o", "Dir::Log=" + state_mount + "/log",
          "-o", "Acquire::Languages=none",
          "-o", "APT::Install-Recommends=false",
          "-o", "APT::Install-Suggests=false",
          "-o", "APT::Get::Assume-Yes=true",
          "-o", "Dpkg::Options::=--force-confdef",
          "-o", "Dpkg::Options::=--force-confold",
          "-o", "Dpkg::Use-Pty=false",
          "-o", "quiet=1"};
}

}  // namespace airheal::heal::deb
