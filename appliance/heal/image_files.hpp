// An image's final file system as the scanner indexed it: which paths exist (and the layer that
// last wrote each), and their bytes read on demand from that layer, bounded. What the planner and
// the package families read an image's package database through.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/result.hpp"
#include "scan/inventory.hpp"

namespace airheal::heal {

class ImageFiles {
 public:
  using Reader = std::function<Result<std::string>(
      const std::string& path, const scan::FinalFile& file, std::uint64_t max_bytes)>;
  ImageFiles(std::map<std::string, scan::FinalFile> files, Reader read)
      : files_(std::move(files)), read_(std::move(read)) {}
  bool has(const std::string& path) const { return files_.count(path) > 0; }
  const std::map<std::string, scan::FinalFile>& files() const { return files_; }
  // not_found when the image has no such file.
  Result<std::string> read(const std::string& path, std::uint64_t max_bytes) const {
    auto it = files_.find(path);
    if (it == files_.end()) return make_error(Errc::not_found, path + " is not in the image");
    return read_(path, it->second, max_bytes);
  }

 private:
  std::map<std::string, scan::FinalFile> files_;
  Reader read_;
};

}  // namespace airheal::heal
