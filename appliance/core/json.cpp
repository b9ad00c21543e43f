#include "core/json.hpp"

#include <set>
#include <string>
#include <vector>

namespace airheal {
namespace {

using json = nlohmann::json;

// Builds the document like nlohmann's own DOM builder (an explicit stack, no recursion) and
// refuses depth and duplicate keys as they are met, so a hostile input stops early.
class BoundedBuilder {
 public:
  BoundedBuilder(json& root, const JsonLimits& limits) : root_(root), limits_(limits) {}

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(json::number_integer_t v) { return put(v); }
  bool number_unsigned(json::number_unsigned_t v) { return put(v); }
  bool number_float(json::number_float_t v, const json::string_t&) { return put(v); }
  bool string(json::string_t& v) { return put(std::move(v)); }
  bool binary(json::binary_t& v) { return put(json::binary(std::move(v))); }

  bool start_object(std::size_t) {
    if (!open(json::object())) return false;
    keys_.emplace_back();
    return true;
  }
  bool key(json::string_t& k) {
    if (!limits_.duplicate_keys && !keys_.back().insert(k).second) {
      error_ = "duplicate key \"" + k.substr(0, 64) + "\"";
      return false;
    }
    pending_key_ = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    error_ = ex.what();
    // nlohmann's messages start "[json.exception.parse_error.101] parse error at line 1, column 2:
    // ..."
    if (auto p = error_.find("] "); p != std::string::npos) error_ = error_.substr(p + 2);
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    auto& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    auto& slot = parent[pending_key_];
    slot = std::move(v);
    return &slot;
  }
  bool put(json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(json&& container) {
    if (stack_.size() >= limits_.max_depth) {
      error_ = "nests deeper than " + std::to_string(limits_.max_depth) + " levels";
      return false;
    }
    stack_.push_back(place(std::move(container)));
    return true;
  }

  json& root_;
  const JsonLimits& limits_;
  std::vector<json*> stack_;
  std::vector<std::set<std::string>> keys_;
  std::string pending_key_, error_;
};

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits,
                                  std::string_view what) {
  if (text.size() > limits.max_bytes)
    return make_error(Errc::too_large, std::string(what) + " of " + std::to_string(text.size()) +
                                           " bytes is over the limit of " +
                                           std::to_string(limits.max_bytes));
  json root;
  BoundedBuilder b(root, limits);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &b, json::input_format_t::json, true, false);
  } catch (const std::exception& e) {  // nlohmann reports through parse_error; this is a backstop
    return make_error(Errc::invalid_argument,
                      std::string(what) + " is not valid JSON: " + e.what());
  }
  if (!ok) {
    auto msg = b.error().empty() ? std::string("is not valid JSON") : b.error();
    if (msg.rfind("parse error", 0) == 0 || msg.rfind("syntax error", 0) == 0)
      msg = "is not valid JSON: " + msg;
    else if (msg.rfind("nests", 0) != 0 && msg.rfind("duplicate", 0) != 0)
      msg = "is not valid JSON: " + msg;
    else
      msg = msg.rfind("nests", 0) == 0 ? msg : "has a " + msg;
    return make_error(Errc::invalid_argument, std::string(what) + " " + msg);
  }
  return root;
}

std::vector<std::string> string_list(const nlohmann::json& j, const char* key) {
  std::vector<std::string> v;
  if (j.is_object() && j.contains(key) && j[key].is_array())
    for (const auto& x : j[key])
      if (x.is_string()) v.push_back(x.get<std::string>());
  return v;
}

}  // namespace airheal
