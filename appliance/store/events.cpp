#include "store/events.hpp"

#include <spdlog/spdlog.h>

namespace airheal::store {

const char* to_string(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::manifest_stored:
      return "manifest_stored";
    case Event::Kind::manifest_deleted:
      return "manifest_deleted";
    case Event::Kind::tag_moved:
      return "tag_moved";
    case Event::Kind::tag_deleted:
      return "tag_deleted";
    case Event::Kind::blob_stored:
      return "blob_stored";
  }
  return "unknown";
}

void EventBus::subscribe(Handler handler) {
  std::lock_guard lk(mu_);
  handlers_.push_back(std::move(handler));
}

void EventBus::publish(const Event& event) const {
  std::vector<Handler> copy;
  {
    std::lock_guard lk(mu_);
    copy = handlers_;
  }
  for (const auto& h : copy) {
    try {
      h(event);
    } catch (const std::exception& e) {
      spdlog::error("event handler for {} failed: {}", to_string(event.kind), e.what());
    }
  }
}

}  // namespace airheal::store
