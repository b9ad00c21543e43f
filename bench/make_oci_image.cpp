// Writes a multi-layer OCI image layout for benchmarks:
//   make_oci_image DIR TAG LAYERS BYTES_PER_LAYER [SEED]
// Layer i of two images made with the same seed is identical (for delta measurements).
#include <iostream>

#include "support/test_support.hpp"

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::cerr << "usage: make_oci_image DIR TAG LAYERS BYTES_PER_LAYER [SEED]\n";
    return 2;
  }
  auto img =
      airheal::test::make_oci_image(argv[1], argv[2], std::stoi(argv[3]), std::stoul(argv[4]),
                                    argc == 6 ? static_cast<unsigned>(std::stoul(argv[5])) : 1234u);
  std::cout << img.manifest_digest << "\n";
  return 0;
}
