// Application packages healed in place, with no application rebuild: an installed npm package
// (node_modules/<name>) replaced by the fixed tarball's package/ and its package-lock.json entries
// updated; a Python distribution's files (per RECORD) replaced by the fixed wheel's, its
// dist-info rewritten as pip writes it; a jar replaced by the fixed jar, or, for a jar nested in a
// fat jar, the outer jar rewritten with the same entry order and methods (Spring Boot needs
// nested jars stored). Nothing runs: the changes are computed from the image's files and the
// imported artefact, both untrusted (paths normalised and kept inside the package's folder,
// sizes bounded, hashes checked), and written into the heal layer.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "heal/image_files.hpp"

namespace airheal::heal {
class LayerWriter;
}

namespace airheal::heal::app {

// What an imported artefact is, read from its own metadata: an npm tarball's package.json, a
// wheel's dist-info METADATA, a jar's pom.properties.
struct Identity {
  std::string ecosystem;  // npm, PyPI, Maven
  std::string name;       // as its ecosystem matches it (PEP 503 for PyPI, group:artifact)
  std::string version;
  std::string format;  // npm-tarball, wheel, jar
};
Result<Identity> identify(const std::string& bytes, std::string_view file_name);

// One installed application package replaced by an imported artefact.
struct Replacement {
  std::string ecosystem, package;  // npm / PyPI / Maven and the matched name
  std::string location;            // the component's location (its package.json, METADATA or jar)
  std::string installed, version;  // from and to
  std::string name, digest;        // the imported artefact
  std::string fixes;               // advisory ids, comma separated
  // What the heal changes, for the plan, the log and the attestation: the folder or jar, the
  // files removed and added, each lockfile entry before and after, the dependent ranges checked.
  nlohmann::json changes = nlohmann::json::object();
  nlohmann::json to_json() const;
  static Replacement from_json(const nlohmann::json& j);
};

// The ranges other installed packages declare on PACKAGE at LOCATION (npm: the dependencies of
// every package that resolves to that copy; PyPI: Requires-Dist of the distributions beside it):
// an error (conflict) naming the first one VERSION does not satisfy, else the ranges checked.
Result<std::vector<std::string>> dependents_allow(const ImageFiles& image,
                                                  const std::string& ecosystem,
                                                  const std::string& location,
                                                  const std::string& package,
                                                  const std::string& version);

// The layer operations of a replacement.
struct Ops {
  struct File {
    std::string path;
    std::string bytes;
    int mode = 0644;
  };
  std::vector<File> files;
  std::vector<std::string> whiteouts;
  nlohmann::json changes = nlohmann::json::object();
};

// Computes what replacing R's package with ARTEFACT (its bytes) changes in IMAGE. Errors name
// why it cannot be done (a wheel built for another platform, an egg-info with no file list, a
// RECORD hash that does not match, a path that leaves the package's folder, a zip64 fat jar).
Result<Ops> plan_ops(const Replacement& r, const std::string& artefact, const ImageFiles& image);

// Writes OPS into W.
Status write_ops(const Ops& ops, LayerWriter& w);

}  // namespace airheal::heal::app
