#pragma once

#include <vector>

#include "core/sqlite.hpp"

namespace airheal::store {
// Forward-only migrations of the metadata database. Append; never edit a released one.
const std::vector<sqlite::Migration>& migrations();
}  // namespace airheal::store
