#include "snapshot/watcher.hpp"

#include <spdlog/spdlog.h>

#include "core/fs.hpp"

namespace airheal::snapshot {

ImportWatcher::Options ImportWatcher::from_config(const config::Config& cfg) {
  Options wo;
  wo.directory = cfg.watch_directory();
  wo.quarantine = cfg.quarantine_directory();
  wo.interval = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.import.poll_interval);
  wo.import.origin = "import-folder";
  wo.import.reserve_bytes = cfg.import.reserve_bytes;
  return wo;
}

namespace fsys = std::filesystem;

namespace {
fsys::path free_name(const fsys::path& dir, const std::string& name) {
  auto p = dir / name;
  for (int i = 1; fsys::exists(p); ++i) p = dir / (name + "." + std::to_string(i));
  return p;
}

Status move_file(const fsys::path& from, const fsys::path& to) {
  std::error_code ec;
  fsys::rename(from, to, ec);
  if (!ec) return {};
  if (ec != std::errc::cross_device_link)
    return make_error(Errc::io_error, "cannot move " + from.string() + ": " + ec.message());
  fsys::copy_file(from, to, ec);
  if (!ec) fsys::remove(from, ec);
  if (ec)
    return make_error(Errc::io_error,
                      "cannot move " + from.string() + " to " + to.string() + ": " + ec.message());
  return {};
}
}  // namespace

Result<fsys::path> quarantine(const fsys::path& file, const fsys::path& dir,
                              const std::string& reason) {
  std::error_code ec;
  fsys::create_directories(dir, ec);
  if (ec) return make_error(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
  auto target = free_name(dir, file.filename().string());
  if (auto st = move_file(file, target); !st) return st.error();
  (void)fs::write_file_atomic(target.string() + ".reason.txt", reason + "\n");
  return target;
}

ImportWatcher::ImportWatcher(Importer& importer, Options options)
    : importer_(importer), options_(std::move(options)) {}

ImportWatcher::~ImportWatcher() { stop(); }

// A file being imported waits in importing/: if the process dies there (a crash on its content,
// a kill, a power cut), the next start finds it and quarantines it with the reason instead of
// importing it again, so one hostile file cannot take the appliance down on every start.
std::size_t ImportWatcher::recover_interrupted() {
  std::error_code ec;
  std::size_t n = 0;
  const auto importing = options_.directory / "importing";
  for (const auto& e : fsys::directory_iterator(importing, ec)) {
    if (!e.is_regular_file()) continue;
    auto name = e.path().filename().string();
    auto reason = "the import of " + name +
                  " was interrupted (the appliance stopped or crashed while importing it); it was "
                  "quarantined so that it is not "
                  "retried on every start; check it with airheal-snapshot verify and import it "
                  "with airhealctl import";
    auto q = quarantine(e.path(), options_.quarantine, reason);
    if (!q) {
      spdlog::error("import folder: {}", q.error().message);
      continue;
    }
    ++n;
    spdlog::error("import folder: {}", reason);
    (void)importer_.journal().append(nlohmann::json{{"type", "snapshot.refused"},
                                                    {"origin", options_.import.origin},
                                                    {"file", (options_.directory / name).string()},
                                                    {"reason", reason}});
  }
  return n;
}

Status ImportWatcher::start() {
  std::error_code ec;
  fsys::create_directories(options_.directory / "importing", ec);
  recover_interrupted();
  fsys::create_directories(options_.directory / "imported", ec);
  if (ec)
    return make_error(Errc::io_error,
                      "import folder " + options_.directory.string() + ": " + ec.message());
  fsys::create_directories(options_.quarantine, ec);
  if (ec)
    return make_error(Errc::io_error,
                      "quarantine folder " + options_.quarantine.string() + ": " + ec.message());
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      lk.unlock();
      try {
        scan_once();
      } catch (const std::exception& e) {
        spdlog::error("import folder: {}", e.what());
      }
      lk.lock();
      cv_.wait_for(lk, options_.interval, [this] { return stopping_; });
    }
  });
  spdlog::info("watching {} for snapshots (refused ones go to {})", options_.directory.string(),
               options_.quarantine.string());
  return {};
}

void ImportWatcher::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t ImportWatcher::scan_once() {
  std::size_t handled = 0;
  std::error_code ec;
  std::map<std::string, std::pair<std::uintmax_t, fsys::file_time_type>> seen;
  for (const auto& e : fsys::directory_iterator(options_.directory, ec)) {
    auto name = e.path().filename().string();
    if (!e.is_regular_file() || name.empty() || name[0] == '.') continue;
    if (name.size() > 5 &&
        (name.substr(name.size() - 5) == ".part" || name.substr(name.size() - 4) == ".tmp"))
      continue;
    auto size = e.file_size(ec);
    auto mtime = e.last_write_time(ec);
    if (ec) continue;
    auto it = pending_.find(name);
    if (it == pending_.end() || it->second != std::pair{size, mtime}) {
      seen[name] = {size, mtime};  // new or still changing: look again next time
      continue;
    }
    ++handled;
    std::error_code mk;
    fsys::create_directories(options_.directory / "importing",
                             mk);  // also when scan_once runs without start()
    fsys::create_directories(options_.directory / "imported", mk);
    auto work = free_name(options_.directory / "importing", name);
    if (auto moved = move_file(e.path(), work); !moved) {
      spdlog::error("import folder: {}", moved.error().message);
      continue;
    }
    (void)fs::fsync_path(options_.directory /
                         "importing");  // the move survives a power cut before the import
    auto result = importer_.import(work, options_.import);
    if (result) {
      spdlog::info("import folder: {}: {}", name, result->message);
      if (auto moved = move_file(work, free_name(options_.directory / "imported", name)); !moved)
        spdlog::error("import folder: {} was imported but could not be moved to imported/: {}",
                      name, moved.error().message);
    } else {
      spdlog::warn("import folder: refused {}: {}", name, result.error().message);
      auto q = quarantine(work, options_.quarantine, result.error().message);
      if (!q) spdlog::error("import folder: {}", q.error().message);
    }
  }
  pending_ = std::move(seen);
  return handled;
}

}  // namespace airheal::snapshot
