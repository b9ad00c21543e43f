// URLs the collector fetches (http and https only), parsed strictly: they come from collect.yaml,
// needs files and servers' redirects.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace airheal::collect {

struct Url {
  std::string scheme;  // http or https
  std::string host;    // without brackets for IPv6
  std::string port;
  std::string target;  // path and query, "/" at least
  std::string str() const;
};
// http://host[:port]/path or https://...; no user information, no fragment, printable ASCII only,
// at most 4096 characters.
Result<Url> parse_url(std::string_view text);
// A repository's or registry's base URL as configured, without trailing slashes, so that paths
// below it join with one "/".
std::string base_url(std::string url);
// LOCATION (absolute, or a path) as seen from BASE.
Result<Url> resolve_url(const Url& base, std::string_view location);

}  // namespace airheal::collect
