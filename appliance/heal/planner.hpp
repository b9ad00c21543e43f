// The heal planner: an image's findings and the content imported into the air gap -> a plan
// (which strategy, which packages and artefacts at which versions, what is deferred and why).
// It does no I/O of its own: what it reads beyond its input (the image's files, an imported
// package's metadata, an imported artefact's bytes) comes through PlanSources, which the engine
// backs with the store and tests with data files. What differs per package family (reading the
// installed database, picking the builds, the installer) is the family's plan()
// (heal/package_family.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "heal/app/app_replace.hpp"
#include "heal/image_files.hpp"
#include "scan/inventory.hpp"

namespace airheal::heal {

struct PackagePin {
  std::string name, version, architecture, digest;
  std::string fixes;      // advisory ids, comma separated (empty for packages the closure added)
  std::string record;     // distroless: the status.d file holding its record; empty: dpkg's status
  std::string needed_by;  // why the dependency closure added it ("libssl3 3.0.15 depends on libc6
                          // (>= 2.36)")
};

struct ArtifactPin {
  std::string path;  // image-relative path of the binary it replaces
  std::string name, version, digest;
  std::string fixes;
};

// Dependency pin: a lockfile in the image (go.mod, package-lock.json) names a vulnerable version
// and a snapshot carried a fixed one (a Go module zip or npm tarball as an artefact with metadata
// {"ecosystem", "package", "version"}). The application must be rebuilt from source by its
// owners, so the pin is written to the outbox: the patched lockfile and the module, offline.
struct DependencyPin {
  std::string lockfile;            // image-relative path
  std::string ecosystem, package;  // Go / npm, module or package name
  std::string installed, version;  // the locked and the fixed version
  std::string name, digest;        // the imported artefact
  std::string fixes;
};

// Upstream bump: the image's base (named by its org.opencontainers.image.base.* annotations) has
// a newer version in the registry; the image's own layers are put on top of it.
struct Rebase {
  std::string base_name;           // repository:tag in this registry
  std::string old_base, new_base;  // manifest digests
  std::size_t base_layers = 0;     // leading layers of the image that are the old base's
};

struct Plan {
  std::string strategy;         // upstream-bump | package-patch | package-files | gold-substitution
                                // | app-in-place (joined by "+") | defer
  std::string family = "dpkg";  // the package family of PACKAGES (heal/package_family.hpp)
  std::vector<PackagePin> packages;
  std::vector<ArtifactPin> artifacts;
  std::vector<DependencyPin> dependencies;  // written to the outbox; no rebuild removes them
  // Installed application packages replaced in place (npm, PyPI, Maven), with what changes.
  std::vector<app::Replacement> applications;
  std::vector<std::string> targeted;  // advisory ids the heal removes
  std::vector<std::string> deferred;  // advisory ids with no fix inside the gap
  std::vector<std::string> pinned;    // advisory ids fixed by a dependency pin (outbox)
  std::vector<std::string>
      missing;  // "source fixed-version: binaries" whose fixed builds are not imported
  // Each deferred Debian source and why, naming the missing build: {source, fixed, ids, reason,
  // missing}.
  nlohmann::json deferrals = nlohmann::json::array();
  // How the packages are installed: "apt" (the image's apt-get from a local repository), "dpkg"
  // (ordered dpkg calls: the image has dpkg but no apt), "apk", "dnf"/"yum"/"rpm" (the image's
  // own tool), "host-rpm" (the host's rpm into the image's database: the image has no rpm) or
  // "files" (nothing runs: distroless).
  std::string installer;
  std::vector<std::vector<std::string>>
      dpkg_batches;  // installer dpkg: package names per dpkg call
  std::vector<std::string>
      apt_mark_auto;  // installer apt: packages whose "automatically installed" mark is kept
  std::string explanation;
  // What the installer leaves undone and the reader must know (an rpm scriptlet the host's rpm
  // did not run); also in the explanation.
  std::vector<std::string> notes;
  std::vector<std::string> snapshots;   // digests of the snapshots that carried the content used
  std::int64_t fix_imported_at = 0;     // when the newest of them was imported
  std::int64_t first_published_at = 0;  // the earliest publication of a targeted advisory
  std::optional<Rebase> rebase;
  bool builds() const {
    return rebase || !packages.empty() || !artifacts.empty() || !applications.empty();
  }
  bool uses_dpkg() const;  // some package is installed by the image's own dpkg
  nlohmann::json to_json() const;
};

// A package or artefact a snapshot imported, with its metadata (a .deb's name, version and
// architecture; an artefact's path, repositories, ecosystem...).
struct ImportedContent {
  std::string name, version, digest, snapshot;
  nlohmann::json meta;
  std::int64_t imported_at = 0;  // when its snapshot was imported
  std::string channel;           // the channel of that snapshot
};

struct PlanSources {
  // The image's final file system (package families read the installed database from it).
  std::function<Result<ImageFiles>()> image;
  // An imported package's own metadata as its family reads it (a .deb's control stanza), by digest.
  std::function<Result<std::string>(const std::string& digest)> package_metadata;
  std::function<std::optional<std::string>(const Digest& digest)> artifact_bytes;
};

struct PlanInput {
  nlohmann::json findings =
      nlohmann::json::array();  // scan::list_findings, VEX-suppressed ones left out
  scan::ImageInventory inventory;
  std::vector<ImportedContent> packages, artifacts;
  std::string repository;  // scopes artefacts that name the repositories they are for
  // The rebase onto a newer base in this registry, when there is one (the engine looks), and
  // why there is none otherwise.
  std::optional<Plan> upstream_bump;
  std::string no_bump;
  // Channels whose policy lets unsigned packages heal (families whose packages carry their own
  // signatures, apk today, install nothing unsigned from any other channel).
  std::set<std::string> unsigned_channels;
};

Plan plan_heal(const PlanInput& input, PlanSources& io);

}  // namespace airheal::heal
