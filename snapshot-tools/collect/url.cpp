#include "collect/url.hpp"

#include <string>

namespace airheal::collect {

std::string Url::str() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
  return scheme + "://" + h + (default_port ? "" : ":" + port) + target;
}

Result<Url> parse_url(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error(Errc::invalid_argument,
                      "'" + std::string(text.substr(0, 200)) + "' is not a usable URL: " + why);
  };
  if (text.size() > 4096) return bad("longer than 4096 characters");
  for (unsigned char ch : text)
    if (ch <= 0x20 || ch >= 0x7f) return bad("it holds a space, a control or a non-ASCII byte");
  Url u;
  std::string_view rest;
  if (text.rfind("http://", 0) == 0) {
    u.scheme = "http";
    u.port = "80";
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    u.scheme = "https";
    u.port = "443";
    rest = text.substr(8);
  } else {
    return bad("only http:// and https:// are fetched");
  }
  auto slash = rest.find_first_of("/?");
  auto authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.target[0] == '?') u.target = "/" + u.target;
  if (u.target.find('#') != std::string::npos) u.target.erase(u.target.find('#'));
  if (authority.find('@') != std::string_view::npos) return bad("user information is not allowed");
  if (authority.empty()) return bad("no host");
  if (authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed IPv6 address");
    u.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after the IPv6 address");
      u.port = std::string(after.substr(1));
    }
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty()) return bad("no host");
  if (u.port.empty() || u.port.size() > 5 ||
      u.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(u.port) == 0 ||
      std::stoi(u.port) > 65535)
    return bad("the port is not a number from 1 to 65535");
  return u;
}

std::string base_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Result<Url> resolve_url(const Url& base, std::string_view location) {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0)
    return parse_url(location);
  if (location.empty() || location[0] != '/')
    return make_error(Errc::invalid_argument,
                      "redirect to '" + std::string(location.substr(0, 200)) +
                          "': only absolute URLs and absolute paths are followed");
  Url u = base;
  u.target = std::string(location);
  return parse_url(u.str());
}

}  // namespace airheal::collect
