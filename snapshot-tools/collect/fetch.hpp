// The connected side's HTTP client (Boost.Beast over TCP, TLS with OpenSSL): GET into memory or
// into a file, resuming an interrupted download from its ".part" file with a Range request,
// following redirects, with a size cap and an idle timeout. Only the connected side downloads:
// the appliance itself never links this.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "collect/url.hpp"
#include "core/result.hpp"

namespace airheal::collect {

struct FetchOptions {
  std::uint64_t max_bytes = 8ull << 30;
  std::chrono::seconds idle_timeout{60};  // no byte for this long: the transfer fails
  std::string ca_file;                    // extra trust anchors for https (PEM), else the system's
  // Called as bytes arrive: (done, total or 0 when the server does not say).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

struct Fetched {
  std::uint64_t bytes = 0;        // the whole file's size
  std::uint64_t transferred = 0;  // bytes this call received (less than bytes when resumed)
  bool resumed = false;
  std::string final_url;  // after redirects
};

// GET URL into FILE: the body goes to FILE.part (resumed from where an earlier call stopped when
// the server honours Range), renamed to FILE when complete. An error names the URL and the cause
// (HTTP status, connection, TLS, size cap, timeout) in one line; FILE is then not created.
Result<Fetched> fetch_to_file(const std::string& url, const std::filesystem::path& file,
                              const FetchOptions& options = {});
// GET URL into memory (at most options.max_bytes).
Result<std::string> fetch_bytes(const std::string& url, const FetchOptions& options = {});
// HEAD URL: the Content-Length the server announces, if any (for --dry-run).
Result<std::optional<std::uint64_t>> content_length(const std::string& url,
                                                    const FetchOptions& options = {});

}  // namespace airheal::collect
