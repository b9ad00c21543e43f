// The Alpine package family (apk-tools 2 and apk-based distributions) behind the PackageFamily
// interface: lib/apk/db/installed, apk version ordering, .apk packages read by core/apk, and the
// two ways to heal:
//   - the image's own apk upgrades the affected packages from a local, read-only repository that
//     holds only the plan's packages (an APKINDEX airheal writes), with no network;
//   - in an image without apk-tools, the fixed packages' files go into the heal layer and their
//     records in lib/apk/db/installed are rewritten exactly as apk writes them (Z: SHA-1s).
// Trust: a package signed by a key in the image's own /etc/apk/keys is verified here before it is
// planned; an unsigned one is used only from a channel whose policy allows unsigned packages.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/apk.hpp"
#include "heal/package_family.hpp"

namespace airheal::heal::alpine {

inline constexpr const char* kApkRepoMount = "/airheal-heal";
inline constexpr const char* kInstalledPath = "lib/apk/db/installed";

// The image's apk database and what apk would trust.
struct ApkDatabase {
  std::vector<apk::Record> packages;
  std::string path = kInstalledPath;
  std::string architecture;                 // from etc/apk/arch, else the packages' own
  std::map<std::string, std::string> keys;  // etc/apk/keys/<name> -> PEM
  bool apk = false;                         // the image can run apk (sbin/apk and apk-tools)
};

class ApkFamily : public PackageFamily {
 public:
  std::string_view name() const override { return "apk"; }
  std::string_view component_type() const override { return "apk"; }
  FamilyPlan plan(const FamilyPlanInput& input, PlanSources& io) const override;
  std::vector<std::string> database_paths() const override {
    return {"lib/apk/db", "usr/lib/apk/db"};
  }
  std::optional<int> compare_versions(std::string_view a, std::string_view b) const override;
  Result<FixedPackage> read_package(const PackagePin& pin,
                                    const std::filesystem::path& file) const override;
  Result<std::string> package_metadata(const std::filesystem::path& file) const override;
  Result<std::set<std::string>> package_paths(const std::filesystem::path& file) const override;
  Result<ToolInstall> tool_install(const Plan& plan, const std::vector<FixedPackage>& packages,
                                   const std::filesystem::path& repo,
                                   const std::filesystem::path& scratch,
                                   std::int64_t now) const override;
  Status write_files(const Plan& plan, const std::vector<FixedPackage>& packages,
                     const ImageFiles& image, LayerWriter& w,
                     const Staging& staging = {}) const override;

  static Result<ApkDatabase> read_database(const ImageFiles& image);
};

// The APKINDEX.tar.gz of a local repository (DESCRIPTION and APKINDEX, unsigned) holding
// RECORDS (index stanzas).
Status write_apkindex(const std::filesystem::path& file, const std::vector<std::string>& records,
                      std::int64_t now);

}  // namespace airheal::heal::alpine
