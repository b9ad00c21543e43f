// The Debian package family behind the PackageFamily interface: dpkg's database (the status file,
// or distroless status.d records with md5sums), Debian version ordering, .deb control data, apt or
// ordered dpkg calls from a local flat repository, and heal layers written without running dpkg.
#pragma once

#include "heal/deb/control.hpp"
#include "heal/package_family.hpp"
#include "heal/planner.hpp"

namespace airheal::heal::deb {

// Where a heal build mounts the local repository and apt's scratch state.
inline constexpr const char* kRepoMount = "/airheal-heal";
inline constexpr const char* kAptStateMount = "/airheal-apt";

// The image's Debian package database as dpkg reads it: its status file (or distroless
// status.d records), with each package's record file, apt's auto-installed marks and whether
// the image can run apt-get.
struct DebianDatabase {
  std::vector<Package> packages;
  std::map<std::string, std::string> record;  // package -> status.d file (distroless)
  std::set<std::string> auto_installed;
  std::string architecture;
  bool apt = false;
};

// The paths an md5sums file lists (normalised; lines that name no path are skipped).
std::set<std::string> md5sums_paths(std::string_view sums);

class DpkgFamily : public PackageFamily {
 public:
  std::string_view name() const override { return "dpkg"; }
  std::string_view component_type() const override { return "deb"; }
  FamilyPlan plan(const FamilyPlanInput& input, PlanSources& io) const override;
  std::vector<std::string> database_paths() const override { return {"var/lib/dpkg"}; }
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

  // The image's database as dpkg reads it: var/lib/dpkg/status with apt's auto-installed marks
  // when HAS_DPKG, else every status.d record (each package with the file holding it). Records
  // airheal cannot read are left out with a warning; a status file it cannot parse is an error.
  static Result<DebianDatabase> read_database(const ImageFiles& image, bool has_dpkg);
};

}  // namespace airheal::heal::deb
