// Fuzz entry points for every parser of untrusted bytes. The same functions run under libFuzzer
// (tests/fuzz/run.sh, clang, ASan + UBSan) and in the unit tests, which replay the seed corpus
// and every crasher ever found (tests/fuzz/corpus/TARGET/) on each build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace airheal::fuzz {

using Target = void (*)(const std::uint8_t* data, std::size_t size);

struct Entry {
  const char* name;
  Target run;
};

// Every target, by the name of its corpus folder.
const std::vector<Entry>& targets();

}  // namespace airheal::fuzz
