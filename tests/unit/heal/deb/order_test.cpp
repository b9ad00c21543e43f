#include "heal/deb/order.hpp"

#include <catch2/catch.hpp>
#include <map>

#include "core/fs.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::heal::deb;

namespace {
std::vector<Package> real_security_builds(const char* file) {
  auto text =
      fs::read_file(std::string(AIRHEAL_SOURCE_DIR) + "/tests/data/debian/" + file, 64 << 20);
  REQUIRE(text);
  auto paras = parse_paragraphs(*text);
  REQUIRE(paras);
  std::vector<Package> out;
  for (const auto& p : *paras) out.push_back(*package_from(p));
  return out;
}

// Every Pre-Depends inside the set points to an earlier call; every package is in exactly one.
void check_order(const std::vector<Package>& pkgs,
                 const std::vector<std::vector<std::size_t>>& batches) {
  std::map<std::string, std::size_t> call_of;
  std::size_t placed = 0;
  for (std::size_t b = 0; b < batches.size(); ++b)
    for (auto i : batches[b]) {
      CHECK(call_of.emplace(pkgs[i].name, b).second);
      ++placed;
    }
  CHECK(placed == pkgs.size());
  for (const auto& p : pkgs)
    for (const auto& g : p.pre_depends)
      for (const auto& r : g)
        if (call_of.count(r.name)) {
          INFO(p.name << " pre-depends on " << r.text());
          CHECK(call_of[r.name] < call_of[p.name]);
        }
}
}  // namespace

TEST_CASE("dpkg calls are ordered by Pre-Depends: pam's modules after their helper binaries",
          "[heal][deb]") {
  // The 25 builds bookworm-security had for a realistic bookworm image on 2026-11-29: one unordered
  // `dpkg -i` of them failed with "libpam-modules pre-depends on libpam-modules-bin (= ...)".
  auto pkgs = real_security_builds("bookworm-security.Packages");
  REQUIRE(pkgs.size() == 25);
  auto batches = dpkg_batches(pkgs);
  check_order(pkgs, batches);
  REQUIRE(batches.size() >= 2);
  std::map<std::string, std::size_t> call_of;
  for (std::size_t b = 0; b < batches.size(); ++b)
    for (auto i : batches[b]) call_of[pkgs[i].name] = b;
  CHECK(call_of["libpam-modules-bin"] < call_of["libpam-modules"]);
  // Packages without pre-dependencies in the set go in the first call.
  CHECK(call_of["tzdata"] == 0);
}

TEST_CASE("dpkg call order over bullseye's security builds keeps every pre-dependency first",
          "[heal][deb]") {
  auto pkgs = real_security_builds("bullseye-security.Packages");
  REQUIRE(pkgs.size() == 45);
  check_order(pkgs, dpkg_batches(pkgs));
}

TEST_CASE("Pre-Depends cycles share one dpkg call, an empty set needs none", "[heal][deb]") {
  // Made up: no two real packages pre-depend on each other, but the input is untrusted.
  auto paras = parse_paragraphs(
      "Package: aa\nVersion: 1\nPre-Depends: bb\n\nPackage: bb\nVersion: 1\nPre-Depends: "
      "aa\n\nPackage: cc\nVersion: 1\nPre-Depends: aa\n");
  REQUIRE(paras);
  std::vector<Package> pkgs;
  for (const auto& p : *paras) pkgs.push_back(*package_from(p));
  auto b = dpkg_batches(pkgs);
  REQUIRE(b.size() == 2);
  CHECK(b[0] == std::vector<std::size_t>{0, 1});
  CHECK(b[1] == std::vector<std::size_t>{2});
  CHECK(dpkg_batches({}).empty());
}
