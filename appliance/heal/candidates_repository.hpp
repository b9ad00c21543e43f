// Which tagged images the healer should heal now. Each query joins the registry's tags with the
// scanner's findings and the heals table: a tag (not a staging tag) whose image has findings and
// no heal of its digest planned against the content imported so far (GENERATION) or in flight.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/sqlite.hpp"

namespace airheal::heal {

class CandidatesRepository {
 public:
  using Tag = std::pair<std::string, std::string>;  // repository, tag
  // Images with a finding whose fix is inside the gap (a package, artefact or dependency).
  static std::vector<Tag> with_fixes(sqlite::Connection& c, const std::string& generation);
  // Images with findings that name their base (org.opencontainers.image.base.name and .digest).
  struct NamedBase {
    std::string repository, tag, base_name, base_digest;
  };
  static std::vector<NamedBase> naming_their_base(sqlite::Connection& c,
                                                  const std::string& generation);
  // The digest REPOSITORY:TAG serves now, if it exists.
  static std::optional<std::string> tag_digest(sqlite::Connection& c, const std::string& repository,
                                               const std::string& tag);
  // Earlier versions of tags that have since moved on (tag history), the most recent first:
  // digest and when the tag left it.
  static std::vector<std::pair<std::string, std::int64_t>> moved_versions(sqlite::Connection& c,
                                                                          int limit);
  // Images that do not name their base, have findings, use the blob FIRST_LAYER, are not
  // OLD_BASE itself and were not healed since UNTIL (nor are being healed): repository, tag,
  // digest.
  struct Tagged {
    std::string repository, tag, digest;
  };
  static std::vector<Tagged> unnamed_users_of(sqlite::Connection& c, const std::string& first_layer,
                                              const std::string& old_base, std::int64_t until);
};

}  // namespace airheal::heal
