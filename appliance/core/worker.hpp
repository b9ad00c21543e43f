// A background thread that runs one pass of work, then waits for a poll interval or a notify(),
// until stopped. Exceptions from a pass are logged and the loop goes on.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace airheal {

class PollingWorker {
 public:
  PollingWorker(std::string name, std::chrono::milliseconds poll, std::function<void()> pass);
  ~PollingWorker();
  PollingWorker(const PollingWorker&) = delete;
  PollingWorker& operator=(const PollingWorker&) = delete;

  void start();
  void stop();      // waits for the pass in progress to finish
  void notify();    // run the next pass now
  bool stopping();  // for long passes that can stop early

 private:
  void run();
  std::string name_;
  std::chrono::milliseconds poll_;
  std::function<void()> pass_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace airheal
