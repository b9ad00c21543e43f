// libFuzzer's entry point for one target, picked at compile time (-DAIRHEAL_FUZZ_TARGET="name").
#include <cstdlib>
#include <cstring>

#include "fuzz/targets.hpp"

#ifndef AIRHEAL_FUZZ_TARGET
#error "define AIRHEAL_FUZZ_TARGET"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const airheal::fuzz::Target run = [] {
    for (const auto& e : airheal::fuzz::targets())
      if (std::strcmp(e.name, AIRHEAL_FUZZ_TARGET) == 0) return e.run;
    std::abort();
  }();
  run(data, size);
  return 0;
}
