// Replays the fuzz corpus (every crasher libFuzzer ever found, and the hostile inputs of the
// adversarial review) through the same entry points tests/fuzz/run.sh fuzzes, on every build: a
// parser that crashes, throws or hangs on any of them fails here.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "fuzz/targets.hpp"

namespace fsys = std::filesystem;

TEST_CASE("every fuzz corpus input is handled without a crash or an exception", "[fuzz]") {
  const fsys::path corpus = fsys::path(AIRHEAL_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  std::set<std::string> names;
  std::size_t inputs = 0;
  for (const auto& t : airheal::fuzz::targets()) {
    names.insert(t.name);
    if (!fsys::is_directory(corpus / t.name)) continue;
    for (const auto& f : fsys::directory_iterator(corpus / t.name)) {
      std::ifstream in(f.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      INFO(t.name << ": " << f.path().filename().string());
      CHECK_NOTHROW(t.run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
      ++inputs;
    }
  }
  CHECK(inputs >= 10);
  // Every corpus folder belongs to a target (a renamed target would silently skip its crashers).
  for (const auto& d : fsys::directory_iterator(corpus))
    CHECK(names.count(d.path().filename().string()) == 1);
}

TEST_CASE("generated hostile inputs reach every target without a crash", "[fuzz][hostile]") {
  std::vector<std::string> inputs = {"",
                                     std::string(1, '\0'),
                                     std::string(20000, '['),
                                     std::string(20000, '{'),
                                     std::string(4096, '\xff'),
                                     "a: &a [*a]",
                                     std::string(10000, '-') + "\n"};
  for (const auto& t : airheal::fuzz::targets())
    for (const auto& in : inputs) {
      INFO(t.name << " with " << in.size() << " bytes");
      for (char selector : {'\0', '\1', '\2', '\3', '\4'}) {
        auto bytes = std::string(1, selector) + in;
        CHECK_NOTHROW(t.run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
      }
    }
}
