// The daemon's heal worker: heals every tagged image that has findings whose fixes are inside the
// air gap and no heal yet for its digest against the content imported so far (a held or failed
// heal is tried again when a snapshot brings new packages or artefacts), up to CONCURRENCY at a
// time, in the mode its rule gives. On start it fails heals a previous run left in flight (their
// original tags were never touched) and removes their work folders.
#pragma once

#include <chrono>

#include "core/worker.hpp"
#include "heal/engine.hpp"

namespace airheal::heal {

class Healer {
 public:
  Healer(store::Store& store, Engine& engine, std::chrono::milliseconds poll,
         unsigned concurrency = 1);
  ~Healer();
  void start();
  void stop();
  void notify();
  // One pass; returns the number of heals run.
  std::size_t pass();
  // Marks heals interrupted by a crash or restart as failed; returns how many.
  std::size_t recover();

 private:
  store::Store& store_;
  Engine& engine_;
  unsigned concurrency_;
  PollingWorker worker_;  // last: stopped before the members its passes use go away
};

}  // namespace airheal::heal
