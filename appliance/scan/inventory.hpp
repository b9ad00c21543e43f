// An image's inventory: its layers' inventories merged bottom to top (whiteouts and opaque
// directories applied, so only the final filesystem counts), turned into components with the
// layer that provides each and the key they are matched by.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scan/layer.hpp"

namespace airheal::scan {

struct OsInfo {
  std::string id, version_id, codename, pretty_name;
  std::string family()
      const;  // the OSV ecosystem base of its packages: Debian, Alpine, Rocky Linux, ...
  // The release suffixes advisories may use for this OS ("12", "bookworm"; "v3.18").
  std::vector<std::string> releases() const;
};

struct Component {
  std::string type;  // deb, apk, rpm, golang, cargo, go-module, npm, node-package, python-package,
                     // maven, or the .note.package type
  std::string ecosystem;  // the OSV ecosystem base: Debian, Alpine, Go, crates.io, Rocky Linux, ...
  std::string name, version;
  std::string source, source_version;  // what advisories name: Debian source, apk origin, Go module
  std::string arch, purl;
  // Declared licences, each as its source writes it: apk L:, rpm License (one expression each),
  // Debian copyright files' License: names (one per distinct licence), application metadata.
  std::vector<std::string> licenses;
  std::string supplier;  // who distributes it: the package's maintainer or vendor
  // The installed OS packages it requires (by name, resolved through provides and file paths):
  // the image's package dependency graph. Requirements nothing installed satisfies are left out.
  std::vector<std::string> depends;
  std::string layer;      // digest of the layer that provides it
  std::string location;   // the database or binary it was read from
  std::size_t files = 0;  // files it owns, where its database lists them
  // An application package whose files an OS package owns: that OS package's name. It is listed
  // (the SBOM shows it inside its owner) but matched only as the OS package, whose distribution
  // may carry backported fixes its upstream version does not show.
  std::string owner;
  nlohmann::json to_json() const;
  static Component from_json(const nlohmann::json& j);
};

struct ImageInventory {
  OsInfo os;
  std::vector<std::string> layers;
  std::vector<Component> components;
  std::size_t files = 0;  // entries in the final filesystem
  std::vector<std::string> problems;
  nlohmann::json to_json() const;
};

struct FinalFile {
  std::size_t layer;  // index into the image's layers
  LayerFile file;
};

// The final filesystem: path -> the layer that last wrote it.
std::map<std::string, FinalFile> merge_files(const std::vector<const LayerInventory*>& layers);

// Merges layer inventories (bottom first) into components. `digests` names the layers.
ImageInventory merge(const std::vector<std::string>& digests,
                     const std::vector<const LayerInventory*>& layers);

std::string purl_encode(std::string_view s);

}  // namespace airheal::scan
