// Fixed npm packages from a registry (the npm registry's own API: GET REGISTRY/NAME for the
// packument, the tarball at dist.tarball), trusted as far as the registry's TLS and the
// tarball's dist.integrity (Subresource Integrity, sha512) reach: a tarball that does not hash to
// its integrity is refused.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/result.hpp"

namespace airheal::collect {

struct NpmRelease {
  std::string name, version, tarball, integrity;  // integrity: "sha512-<base64>"
};

// From a packument (untrusted: bounded by the caller's fetch limit, shapes checked), the lowest
// release (no pre-release) at or above FIXED in node-semver order whose tarball URL is http(s)
// and whose integrity is sha512. An error says why none qualifies.
Result<NpmRelease> choose_npm_release(const nlohmann::json& packument, const std::string& name,
                                      const std::string& fixed);

// The URL path of a package's packument: "lodash", "@types%2fnode".
std::string npm_packument_path(const std::string& name);
// A valid npm package name (lower case, URL-safe, optional @scope/), at most 214 characters.
bool valid_npm_name(const std::string& name);

}  // namespace airheal::collect
