// What an executable says about itself, read from its bytes alone (never executed): Go build
// information (module path, dependencies, toolchain), the systemd/FDO `.note.package` ELF note,
// and cargo-auditable's `.dep-v0` section. All input is untrusted: every offset is bounds-checked
// and a malformed file yields what could be read plus a problem, never a crash.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airheal::scan {

struct GoModule {
  std::string path;
  std::string version;  // "(devel)" for the main module built from a working tree
  std::string sum;
};

struct GoBuildInfo {
  std::string go_version;  // "go1.19.8"
  std::string path;        // the main package path
  GoModule main;
  std::vector<GoModule> deps;  // replacements applied: what was compiled in
  std::vector<std::pair<std::string, std::string>> settings;
};

struct RustPackage {
  std::string name, version, source;
  bool root = false;
};

struct BinaryInfo {
  std::optional<GoBuildInfo> go;
  std::optional<nlohmann::json> package_note;  // the JSON of .note.package (type 0xcafe1a7e)
  std::vector<RustPackage> rust;
  std::vector<std::string> problems;
  bool empty() const { return !go && !package_note && rust.empty(); }
};

bool looks_like_elf(std::string_view head);
BinaryInfo read_binary(std::string_view bytes);

// Go's own spellings to the semver OSV uses: "go1.19.8" -> "1.19.8", "go1.21rc2" -> "1.21.0-rc.2",
// "go1.20" -> "1.20.0". nullopt for devel toolchains.
std::optional<std::string> go_version_to_semver(std::string_view go_version);

// Parses the text form `go version -m` prints and the binary embeds between its sentinels.
GoBuildInfo parse_go_modinfo(std::string_view modinfo, std::string go_version);

}  // namespace airheal::scan
