// The import folder: snapshots dropped into it are imported by the daemon. A file is taken
// once its size and mtime have been stable for one poll interval (so a copy in progress is
// left alone); names starting with '.' or ending in .part/.tmp are ignored. Accepted files move
// to <watch>/imported/, refused ones to the quarantine folder with a NAME.reason.txt beside them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "config/config.hpp"
#include "snapshot/importer.hpp"

namespace airheal::snapshot {

// Moves file into dir (adding a suffix if the name is taken) and writes the reason beside it.
Result<std::filesystem::path> quarantine(const std::filesystem::path& file,
                                         const std::filesystem::path& dir,
                                         const std::string& reason);

class ImportWatcher {
 public:
  struct Options {
    std::filesystem::path directory, quarantine;
    std::chrono::milliseconds interval{2000};
    ImportOptions import;
  };
  ImportWatcher(Importer& importer, Options options);
  ~ImportWatcher();
  Status start();
  void stop();
  // The drop folder, quarantine, interval and space reserve the configuration gives.
  static Options from_config(const config::Config& cfg);
  // One scan; returns the number of files handled (used by start()'s thread and by tests).
  std::size_t scan_once();
  // Quarantines what a previous run left in importing/ (journalled); called by start().
  std::size_t recover_interrupted();

 private:
  Importer& importer_;
  Options options_;
  std::map<std::string, std::pair<std::uintmax_t, std::filesystem::file_time_type>> pending_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace airheal::snapshot
