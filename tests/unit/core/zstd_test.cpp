#include "core/zstd.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/fs.hpp"
#include "heal/heal_layer.hpp"
#include "scan/layer.hpp"
#include "support/test_support.hpp"

using namespace airheal;

TEST_CASE("zstd files read back with the real zstd and are the same bytes every time",
          "[core][zstd]") {
  if (!test::have_program("zstd")) FAIL("zstd is needed (scripts/setup.sh installs it)");
  test::TempDir dir;
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{70000}, std::size_t{9u << 20}}) {
    INFO("size " << n);
    std::string data;
    auto noise = test::random_bytes(n / 3 + 1, 5);
    for (std::size_t i = 0; data.size() < n; ++i)
      data += "usr/lib/x86_64-linux-gnu/perl/5.32.1/Encode.pm " +
              noise.substr(i % noise.size(), 8) + "\n";
    data.resize(n);
    std::ofstream(dir / "in", std::ios::binary | std::ios::trunc) << data;
    auto size = zst::compress_file(dir / "in", dir / "a.zst");
    REQUIRE(size);
    CHECK(*size == std::filesystem::file_size(dir / "a.zst"));
    // The real zstd checks the frame and its content checksum, and restores the bytes.
    auto r = test::run({"zstd", "-q", "-d", "-c", (dir / "a.zst").string()});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == data);
    CHECK(test::run({"zstd", "-q", "-t", (dir / "a.zst").string()}).exit_code == 0);
    // Reproducible: the same input gives the same blob (and so the same digest).
    REQUIRE(zst::compress_file(dir / "in", dir / "b.zst"));
    CHECK(*fs::read_file(dir / "a.zst", 64 << 20) == *fs::read_file(dir / "b.zst", 64 << 20));
  }
  CHECK_FALSE(zst::compress_file(dir / "missing", dir / "x.zst"));
  CHECK_FALSE(zst::compress_file(dir / "in", "/dev/full"));
}

TEST_CASE("A zstd heal layer is read by the scanner like a gzip one", "[core][zstd][heal]") {
  test::TempDir dir;
  heal::LayerWriter w(dir / "l", heal::LayerCompression::zstd);
  REQUIRE(w.add_bytes("usr/bin/tool", "#!/bin/sh\necho fixed\n", 0755));
  auto blob = w.finish();
  REQUIRE(blob);
  CHECK(blob->media_type == "application/vnd.oci.image.layer.v1.tar+zstd");
  CHECK(blob->file.extension() == ".zst");
  auto inv = scan::read_layer(blob->file);
  REQUIRE(inv);
  REQUIRE(inv->files.size() == 1);
  CHECK(*scan::read_layer_file(blob->file, "usr/bin/tool", 1 << 20) == "#!/bin/sh\necho fixed\n");
}
