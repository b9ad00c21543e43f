// The rpm package family (RHEL/UBI, Rocky, Alma, Fedora, SUSE) behind the PackageFamily
// interface: the image's rpmdb.sqlite, rpm version ordering, .rpm packages read by core/rpm, and
// the two ways to heal:
//   - the image's own dnf (or yum) installs the fixed packages from local, read-only repositories
//     (repodata made with createrepo_c) that are the only ones it sees, no network, with its own
//     dependency checks; an image with rpm but no dnf (microdnf images, bare rpm) runs its rpm -U;
//   - an image without rpm (UBI-micro style): the host's rpm installs into a staging copy of the
//     image's database (--root, the image's --dbpath, --noscripts: nothing from the image runs on
//     the host, and the skipped scriptlets are named in the plan); what rpm changed there (the
//     packages' files and the database) becomes the heal layer.
// Trust: a signed package is planned only when the image's rpm database holds its key (a
// gpg-pubkey entry), and the signature is checked by rpm itself (dnf gpgcheck=1, rpm -K);
// unsigned packages only from a channel whose policy allows them.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/rpm.hpp"
#include "heal/package_family.hpp"

namespace airheal::heal::rpmfamily {

inline constexpr const char* kRpmRepoMount = "/airheal-heal";
inline constexpr const char* kRpmCacheMount = "/airheal-rpm-cache";

// The image's rpm database and what its tools would trust.
struct RpmDatabase {
  std::vector<rpm::Header> packages;  // gpg-pubkey entries left out
  std::set<std::string> keys;         // trusted keys: the last 8 hex digits of each key id
  std::string dbpath;                 // "var/lib/rpm" or "usr/lib/sysimage/rpm"
  std::string tool;                   // "dnf", "yum", "rpm", or "" (nothing in the image runs)
  std::string release;                // os-release VERSION_ID (dnf's $releasever)
};

// Runs REQUEST in this process (rpmkeys, then rpm -U), HOME in WORK/rpm-home; its output goes to
// LOG. The errors say what rpm said. (ImageBuilder::host_rpm's in-process way.)
Status run_host_rpm(const HostRpmRequest& request, std::string& log);

class RpmFamily : public PackageFamily {
 public:
  std::string_view name() const override { return "rpm"; }
  std::string_view component_type() const override { return "rpm"; }
  FamilyPlan plan(const FamilyPlanInput& input, PlanSources& io) const override;
  std::vector<std::string> database_paths() const override {
    return {"var/lib/rpm", "usr/lib/sysimage/rpm"};
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

  // The image's database: not_found without one; unsupported for a Berkeley DB or ndb database
  // (rpm < 4.16; airheal reads those for scans but does not write them) or an rpmdb.sqlite whose
  // write-ahead log still holds changes.
  static Result<RpmDatabase> read_database(const ImageFiles& image);
};

// Does a package with version PROVIDED (empty: unversioned) satisfy DEP's comparison in rpm's
// ordering?
bool satisfies(const std::string& provided, const rpm::Dependency& dep);

}  // namespace airheal::heal::rpmfamily
