// In-process events published by the store after a change is committed. The scanner and heal
// engine subscribe; the registry never knows who listens.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace airheal::store {

struct Event {
  enum class Kind { manifest_stored, manifest_deleted, tag_moved, tag_deleted, blob_stored };
  Kind kind;
  std::string repository;
  std::string digest;                   // the manifest or blob digest
  std::optional<std::string> tag;       // for tag events
  std::optional<std::string> previous;  // previous digest of a moved tag
  std::string media_type;
};

const char* to_string(Event::Kind kind);

class EventBus {
 public:
  using Handler = std::function<void(const Event&)>;
  // Handlers run synchronously on the publishing thread, after the change is committed; they
  // must be quick (queue work elsewhere) and must not throw.
  void subscribe(Handler handler);
  void publish(const Event& event) const;

 private:
  mutable std::mutex mu_;
  std::vector<Handler> handlers_;
};

}  // namespace airheal::store
