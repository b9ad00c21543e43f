// Dependency pins written to the outbox: for each lockfile that names a vulnerable dependency
// whose fixed version a snapshot carried, the lockfile with the pin applied and the imported
// module laid out so the application's owners can rebuild with no network:
//   dependencies/README.txt                 what changed and the commands to rebuild offline
//   dependencies/lockfiles/<path in image>  go.mod / package-lock.json with the pin applied
//   dependencies/goproxy/...                a GOPROXY=file:// tree
//   (<module>/@v/<ver>.{zip,mod,info}, list) dependencies/npm/<name>-<version>.tgz   tarballs the
//   patched package-lock.json resolves to
#pragma once

#include <filesystem>
#include <string>

#include "core/result.hpp"
#include "heal/engine.hpp"
#include "store/store.hpp"

namespace airheal::heal {

// ORIGINAL_MANIFEST is the image's manifest (its layers are searched top-down for each lockfile).
Status write_dependency_pins(store::Store& store, const std::filesystem::path& dir,
                             const std::string& original_manifest, const Plan& plan);

// "sha512-<base64>" of BYTES (Subresource Integrity, as package-lock.json records it).
std::string sri_sha512(std::string_view bytes);

// The go.mod inside a module zip (<module>@<version>/go.mod), or nullopt.
std::optional<std::string> go_mod_from_zip(const std::filesystem::path& zip,
                                           const std::string& module, const std::string& version);

}  // namespace airheal::heal
