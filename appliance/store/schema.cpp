#include "store/schema.hpp"

#include <stdexcept>

namespace airheal::store {

const std::vector<sqlite::Migration>& migrations() {
  // Joined once; the strings live as long as the process (Migration holds a pointer).
  static const std::vector<std::string> joined = [] {
    std::vector<std::string> out;
    for (const auto& f : schema_files()) {
      if (f.version < 1 || f.version > static_cast<int>(out.size()) + 1)
        throw std::logic_error(std::string("schema file ") + f.path +
                               ": migrations are numbered 1, 2, ... without gaps");
      if (f.version > static_cast<int>(out.size())) out.emplace_back();
      out[f.version - 1] += "-- " + std::string(f.path) + "\n" + f.sql;
    }
    return out;
  }();
  static const std::vector<sqlite::Migration> all = [] {
    std::vector<sqlite::Migration> out;
    for (std::size_t i = 0; i < joined.size(); ++i)
      out.push_back({static_cast<int>(i) + 1, joined[i].c_str()});
    return out;
  }();
  return all;
}

}  // namespace airheal::store
