// One plain HTTP/1.1 request over a real TCP connection (Boost.Beast), for the appliance's own
// clients: webhook deliveries and airhealctl talking to airheald.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace airheal::http_client {

struct Reply {
  int status = 0;
  std::string body;
};

// METHOD http://HOST:PORT/TARGET with BODY (Content-Length set) and HEADERS; the whole exchange
// within TIMEOUT. An error names the request when the connection or the exchange fails.
Result<Reply> request(const std::string& method, const std::string& host, const std::string& port,
                      const std::string& target, const std::string& body,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      std::chrono::seconds timeout);

}  // namespace airheal::http_client
