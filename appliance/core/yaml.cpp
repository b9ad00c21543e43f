#include "core/yaml.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace airheal {
namespace {

struct Limited {
  std::string why;
};

// Counts nodes as a walk would see them: an alias costs what its anchored node cost.
class Counter final : public YAML::EventHandler {
 public:
  explicit Counter(const YamlLimits& l) : l_(l) {}
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(anchor);
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    if (++aliases_ > l_.max_aliases)
      throw Limited{"uses more than " + std::to_string(l_.max_aliases) + " aliases"};
    auto it = sizes_.find(anchor);
    add(it == sizes_.end() ? 1 : it->second);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    YAML::anchor_t anchor;
    std::size_t expanded_at_start;
  };
  void add(std::size_t n) {
    expanded_ += n;
    if (expanded_ > l_.max_expanded_nodes)
      throw Limited{"expands to more than " + std::to_string(l_.max_expanded_nodes) +
                    " nodes through its aliases"};
  }
  void leaf(YAML::anchor_t anchor) {
    add(1);
    if (anchor) sizes_[anchor] = 1;
  }
  void open(YAML::anchor_t anchor) {
    if (stack_.size() >= l_.max_depth)
      throw Limited{"nests deeper than " + std::to_string(l_.max_depth) + " levels"};
    add(1);
    stack_.push_back({anchor, expanded_ - 1});
  }
  void close() {
    auto o = stack_.back();
    stack_.pop_back();
    if (o.anchor) sizes_[o.anchor] = expanded_ - o.expanded_at_start;
  }
  const YamlLimits& l_;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, std::size_t> sizes_;
  std::size_t expanded_ = 0, aliases_ = 0;
};

}  // namespace

Status check_yaml(std::string_view text, const YamlLimits& limits, std::string_view what) {
  if (text.size() > limits.max_bytes)
    return make_error(Errc::too_large, std::string(what) + " of " + std::to_string(text.size()) +
                                           " bytes is over the limit of " +
                                           std::to_string(limits.max_bytes));
  std::istringstream in{std::string(text)};
  Counter counter(limits);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(counter)) {
    }
  } catch (const Limited& l) {
    return make_error(Errc::invalid_argument, std::string(what) + " " + l.why);
  } catch (const YAML::Exception& e) {
    return make_error(Errc::invalid_argument,
                      std::string(what) + " is not valid YAML: " + e.what());
  }
  return {};
}

}  // namespace airheal
