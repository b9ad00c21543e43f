// Java archives found in images (.jar, .war, .ear): the Maven components each one carries, read
// from the archive's own metadata without unpacking it to disk. Nested archives (Spring Boot's
// BOOT-INF/lib, WEB-INF/lib, jars in jars) are read to a bounded depth. Archives are untrusted:
// entry counts, sizes, nesting and the bytes inflated are all bounded.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace airheal::scan {

struct JavaPackage {
  std::string group, artifact, version;
  std::string evidence;  // pom.properties, manifest or filename: where the coordinates came from
  std::string inner;     // the path inside the outer archive, nested ones joined by "!/" ("" = it)
  nlohmann::json to_json() const;
  static JavaPackage from_json(const nlohmann::json& j);
  // "group:artifact", OSV's Maven package name; the artifact alone when the group is unknown
  std::string name() const;
};

struct JavaLimits {
  std::size_t max_depth = 3;                      // archives inside archives inside ...
  std::size_t max_entries = 200000;               // per archive
  std::uint64_t max_metadata_bytes = 1u << 20;    // a pom.properties or MANIFEST.MF
  std::uint64_t max_nested_bytes = 256ull << 20;  // one nested archive
  std::uint64_t max_inflated_bytes = 1ull << 30;  // all that is inflated for one outer archive
};

// Is this image path a Java archive (by its extension, case-insensitive)?
bool java_archive_path(std::string_view path);

// The components of one archive. FILE_NAME (the archive's own name) is the last resort for
// coordinates. Where an archive has pom.properties, each one is a component (a shaded jar holds
// several); else its MANIFEST.MF (Implementation-* or Bundle-* fields); else its file name
// ("guava-31.1-jre.jar"). Problems (a corrupt or over-limit archive) are appended to PROBLEMS;
// what was read before stays.
std::vector<JavaPackage> parse_java_archive(const std::string& bytes, std::string_view file_name,
                                            std::vector<std::string>& problems,
                                            const JavaLimits& limits = {});

// The key=value pairs of a .properties file (comments, continuations and escapes as
// java.util.Properties reads them, for the keys airheal uses).
std::vector<std::pair<std::string, std::string>> parse_properties(std::string_view text);

// The main section of a MANIFEST.MF (72-byte lines continued by a leading space).
std::vector<std::pair<std::string, std::string>> parse_manifest(std::string_view text);

}  // namespace airheal::scan
