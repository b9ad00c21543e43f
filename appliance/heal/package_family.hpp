// What differs per package family (dpkg today; apk, rpm and application ecosystems next), so that
// the heal engine says "install these fixed packages" once: reading the image's installed
// database, comparing versions, reading a fixed package file's own metadata and what it ships,
// and the two ways to heal:
//   - tool install: the image's own package manager installs the fixed packages from a local,
//     read-only repository airheal writes from imported content (commands run inside the image
//     by the ImageBuilder, no network);
//   - files: nothing in the image can run (distroless, FROM scratch): the packages' files and
//     their database records are written into the heal layer directly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "heal/heal_layer.hpp"
#include "heal/image_builder.hpp"
#include "heal/image_files.hpp"
#include "heal/planner.hpp"
#include "scan/inventory.hpp"

namespace airheal::heal {

// A fixed package file, described by itself (never by snapshot metadata, which is checked
// against it).
struct FixedPackage {
  std::string name, version, architecture;
  std::string file_name;  // its name in a local repository (NAME_VERSION_ARCH.deb, ...)
  std::string
      metadata;  // the package's own record as the family writes it (a .deb's control stanza)
  std::filesystem::path file;
  std::uint64_t size = 0;
  std::string sha256;  // hex, the store's digest of the file
};

// A tool install, ready for ImageBuilder::add_layer (mounts, environment, commands) and for the
// advisory outbox's script (SETUP: folders to create first inside the image; TOOL names the
// package manager in messages).
struct ToolInstall {
  std::string tool;
  std::vector<BuildMount> mounts;
  std::vector<std::string> env;
  std::vector<std::string> setup;
  std::vector<std::vector<std::string>> commands;
  std::string note;  // a line for the heal's log ("" for none)
};

// What a family plans from: its findings in the image (scan::list_findings rows of its component
// type, each with a fixed version), the image's inventory, and every package a snapshot imported.
struct FamilyPlanInput {
  std::vector<nlohmann::json> findings;
  const scan::ImageInventory* inventory = nullptr;
  const std::vector<ImportedContent>* imported = nullptr;
  const std::set<std::string>* unsigned_channels = nullptr;  // PlanInput::unsigned_channels
};

// The family's part of a plan: the packages to install (in name order) and how, what they fix,
// and what stays deferred and why (naming the builds a snapshot must bring).
struct FamilyPlan {
  std::vector<PackagePin> packages;
  std::string installer;                               // Plan::installer
  std::vector<std::string> apt_mark_auto;              // Plan::apt_mark_auto
  std::vector<std::vector<std::string>> dpkg_batches;  // Plan::dpkg_batches
  std::set<std::string> targeted, deferred;
  std::vector<std::string> missing;
  nlohmann::json deferrals = nlohmann::json::array();
  std::vector<const ImportedContent*> used;  // the imported packages the plan takes
  std::vector<std::string> notes;            // Plan::notes
};

// The findings of one source package (Debian source, apk origin, source rpm): the highest fixed
// version any of them names, in the family's ordering, and their advisory ids.
struct SourceNeed {
  std::string fixed;
  std::set<std::string> ids;
};

// Where PackageFamily::write_files stages what a host tool works on, and the builder that runs it.
struct Staging {
  std::filesystem::path work;
  ImageBuilder* builder = nullptr;
};

class PackageFamily;
// INPUT's findings by source (the package's own name when a finding names no source); findings
// outside FAMILY's database paths go straight to OUT.deferred.
std::map<std::string, SourceNeed> findings_by_source(const PackageFamily& family,
                                                     const FamilyPlanInput& input, FamilyPlan& out);
// SOURCE's findings deferred in OUT with REASON, naming the builds a snapshot must bring.
void defer_source(FamilyPlan& out, const std::string& source, const SourceNeed& need,
                  const std::string& reason, const std::vector<std::string>& missing);

// The image's package database as READ (ImageFiles -> Result<Db>) gives it, through IO.
template <class Db, class Read>
Result<Db> image_database(PlanSources& io, Read read) {
  if (!io.image) return make_error(Errc::not_found, "no package database reader");
  auto image = io.image();
  if (!image) return image.error();
  return read(*image);
}

// Each imported package's own metadata (PlanSources::package_metadata) as a JSON object; a
// package it cannot read is left out with a warning.
std::vector<std::pair<const ImportedContent*, nlohmann::json>> imported_metadata(
    const FamilyPlanInput& input, PlanSources& io);

// FILE placed in a local repository folder DIR as NAME (hard-linked, or copied across file
// systems), read-only.
Status place_in_repository(const std::filesystem::path& file, const std::filesystem::path& dir,
                           const std::string& name);

class PackageFamily {
 public:
  virtual ~PackageFamily() = default;
  virtual std::string_view name() const = 0;
  // The component and finding type the scanner gives this family's packages ("deb").
  virtual std::string_view component_type() const = 0;
  // Which imported builds heal INPUT's findings, the way the family's own tool would pick them
  // (every installed binary of an affected source, and what those builds need); the image's
  // database and the imported packages' metadata are read through IO. Never fails: what cannot
  // be planned is deferred with the reason.
  virtual FamilyPlan plan(const FamilyPlanInput& input, PlanSources& io) const = 0;
  // The image paths holding the installed database (a path below one of them counts too).
  virtual std::vector<std::string> database_paths() const = 0;
  bool database_path(std::string_view path) const;
  // <0, 0, >0 as A sorts before, equal to, after B in the family's own version ordering;
  // nullopt when either is not a version of this family.
  virtual std::optional<int> compare_versions(std::string_view a, std::string_view b) const = 0;
  // The package file's own name, version and architecture; an error when it cannot be read or
  // does not say what PIN says it is.
  virtual Result<FixedPackage> read_package(const PackagePin& pin,
                                            const std::filesystem::path& file) const = 0;
  // The package file's own metadata as plan() reads it through PlanSources::package_metadata (a
  // .deb's control stanza; for apk, a JSON object with .PKGINFO, identity and signatures).
  virtual Result<std::string> package_metadata(const std::filesystem::path& file) const = 0;
  // The image paths the package file installs (normalised, relative to the image root).
  virtual Result<std::set<std::string>> package_paths(const std::filesystem::path& file) const = 0;
  // Way 1: the local repository of PACKAGES (PLAN's, in its order) written under REPO, and the
  // commands that install them with the image's tool. SCRATCH (may be empty: the outbox's build
  // gets a tmpfs) is the host folder for the tool's writable state.
  virtual Result<ToolInstall> tool_install(const Plan& plan,
                                           const std::vector<FixedPackage>& packages,
                                           const std::filesystem::path& repo,
                                           const std::filesystem::path& scratch,
                                           std::int64_t now) const = 0;
  // Way 2: PACKAGES' files, their records in the image's database (in the form the image already
  // uses) and whiteouts for files the fixed versions no longer ship, written into W; nothing from
  // the image runs. A family that needs a host tool with powers airheald lacks (the rpm family's
  // host rpm, which enters a chroot) stages in STAGING.work and has STAGING.builder run it;
  // without one, a temporary folder and this process.
  virtual Status write_files(const Plan& plan, const std::vector<FixedPackage>& packages,
                             const ImageFiles& image, LayerWriter& w,
                             const Staging& staging = {}) const = 0;
};

// The family a plan's packages belong to by name ("dpkg"); nullptr when airheal has none.
const PackageFamily* package_family(std::string_view name);
// The family that reads FILE, by its first bytes (a .deb is an ar archive, an .apk gzip); nullptr
// when none does.
const PackageFamily* package_family_of_file(const std::filesystem::path& file);
// The family whose component type is TYPE ("deb"); nullptr when airheal heals none.
const PackageFamily* package_family_for_component(std::string_view type);

}  // namespace airheal::heal
