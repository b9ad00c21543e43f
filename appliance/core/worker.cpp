#include "core/worker.hpp"

#include <spdlog/spdlog.h>

namespace airheal {

PollingWorker::PollingWorker(std::string name, std::chrono::milliseconds poll,
                             std::function<void()> pass)
    : name_(std::move(name)), poll_(poll), pass_(std::move(pass)) {}

PollingWorker::~PollingWorker() { stop(); }

void PollingWorker::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void PollingWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PollingWorker::notify() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

bool PollingWorker::stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

void PollingWorker::run() {
  while (true) {
    try {
      pass_();
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", name_, e.what());
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, poll_, [&] { return wake_ || stopping_; });
    if (stopping_) return;
    wake_ = false;
  }
}

}  // namespace airheal
