// Parsers for the package databases found in image layers. Input is untrusted bytes from a
// layer; parsers never throw on bad data: they return what is well-formed and skip the rest.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace airheal::scan {

// os-release(5): KEY=value lines, shell-style quoting.
std::map<std::string, std::string> parse_os_release(std::string_view text);

// One installed binary package, whichever database it came from.
struct PackageRecord {
  std::string name, version, arch;
  std::string source, source_version;  // Debian Source: / apk origin / rpm source rpm name+evr
  std::string license;
  std::string supplier;  // dpkg Maintainer, apk m: (maintainer), rpm Vendor (else Packager)
  // What it needs installed, one entry per requirement, alternatives separated by '|' (dpkg
  // "a | b"); names only, versions dropped: apk "so:libc.musl-x86_64.so.1", rpm "/bin/sh" and
  // "libc.so.6()(64bit)" stay as written and are resolved through provides and files.
  std::vector<std::string> depends;
  std::vector<std::string> provides;  // names it provides besides its own (dpkg, apk p:, rpm)
  std::vector<std::string> files;     // apk R: lines, rpm file lists; dpkg lists are separate files
  nlohmann::json to_json() const;
  static PackageRecord from_json(const nlohmann::json& j);
};

// dpkg `status` (and distroless status.d files, which hold the same paragraphs): only packages
// whose Status says "installed" (status.d records carry no Status and are installed).
std::vector<PackageRecord> parse_dpkg_status(std::string_view text, bool require_status = true);
// dpkg info/*.list (one path per line) and md5sums ("<md5>  <path>") to image-relative paths.
std::vector<std::string> parse_dpkg_list(std::string_view text);
std::vector<std::string> parse_md5sums(std::string_view text);
// The licences a Debian machine-readable copyright file (DEP-5) declares: each distinct
// License: short name, in order of first appearance. Empty for a free-form copyright file, whose
// licences cannot be told apart from its prose.
std::vector<std::string> parse_debian_copyright(std::string_view text);
// apk `installed`.
std::vector<PackageRecord> parse_apk_installed(std::string_view text);
// rpm `rpmdb.sqlite` (rpm >= 4.16), read in memory; errors when the bytes are not such a database.
Result<std::vector<PackageRecord>> parse_rpmdb_sqlite(std::string_view bytes);
// One rpm header blob as stored in rpmdb (index count, data size, entries, data store).
Result<PackageRecord> parse_rpm_header(std::string_view blob);

}  // namespace airheal::scan
