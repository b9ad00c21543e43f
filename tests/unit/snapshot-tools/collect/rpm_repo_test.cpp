// rpm-md metadata as createrepo_c writes it (shapes of a real repository; the packages and
// checksums are made up) and the choice of builds by source rpm and version.
#include "collect/rpm_repo.hpp"

#include <catch2/catch.hpp>

using namespace airheal::collect;

namespace {
std::string primary_package(const std::string& name, const std::string& evr_attrs,
                            const std::string& arch, const std::string& srpm,
                            const std::string& location,
                            const std::string& checksum_type = "sha256") {
  return "<package type=\"rpm\"><name>" + name + "</name><arch>" + arch + "</arch><version " +
         evr_attrs + "/><checksum type=\"" + checksum_type + "\" pkgid=\"YES\">" +
         std::string(checksum_type == "sha256" ? 64 : 40, 'a') + "</checksum><location href=\"" +
         location + "\"/><size package=\"1234\" installed=\"1\" archive=\"1\"/><format>" +
         "<rpm:sourcerpm>" + srpm + "</rpm:sourcerpm></format></package>";
}
}  // namespace

TEST_CASE("rpm-md metadata is read strictly and builds chosen by source and version", "[collect]") {
  auto repomd =
      parse_repomd(R"(<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <data type="filelists"><checksum type="sha256">)" +
                   std::string(64, 'b') + R"(</checksum><location href="repodata/f.xml.gz"/></data>
  <data type="primary"><checksum type="sha256">)" +
                   std::string(64, 'c') + R"(</checksum>
    <open-checksum type="sha256">)" +
                   std::string(64, 'd') + R"(</open-checksum>
    <location href="repodata/cc-primary.xml.zst"/><timestamp>1700000000</timestamp><size>2048</size></data>
</repomd>)");
  REQUIRE(repomd);
  CHECK(repomd->location == "repodata/cc-primary.xml.zst");
  CHECK(repomd->checksum == std::string(64, 'c'));
  CHECK(repomd->size == 2048);
  CHECK_FALSE(parse_repomd("<repomd><data type=\"primary\"><checksum type=\"sha\">" +
                           std::string(40, 'a') +
                           "</checksum><location href=\"repodata/p.xml.gz\"/></data></repomd>"));
  CHECK_FALSE(parse_repomd("<repomd><data type=\"primary\"><checksum type=\"sha256\">" +
                           std::string(64, 'a') +
                           "</checksum><location href=\"../../etc/p.xml.gz\"/></data></repomd>"));

  auto primary = parse_primary(
      "<metadata packages=\"4\">" +
      primary_package("openssl-libs", "epoch=\"1\" ver=\"3.0.7\" rel=\"24.el9\"", "x86_64",
                      "openssl-3.0.7-24.el9.src.rpm",
                      "Packages/o/openssl-libs-3.0.7-24.el9.x86_64.rpm") +
      primary_package("openssl-libs", "epoch=\"1\" ver=\"3.0.7\" rel=\"27.el9\"", "x86_64",
                      "openssl-3.0.7-27.el9.src.rpm",
                      "Packages/o/openssl-libs-3.0.7-27.el9.x86_64.rpm") +
      primary_package("openssl-libs", "epoch=\"1\" ver=\"3.0.7\" rel=\"27.el9\"", "i686",
                      "openssl-3.0.7-27.el9.src.rpm",
                      "Packages/o/openssl-libs-3.0.7-27.el9.i686.rpm") +
      primary_package("ca-certificates", "epoch=\"0\" ver=\"2023.2.60\" rel=\"90.0.el9\"", "noarch",
                      "ca-certificates-2023.2.60-90.0.el9.src.rpm", "Packages/c/ca.rpm") +
      "</metadata>");
  REQUIRE(primary);
  REQUIRE(primary->size() == 4);
  CHECK((*primary)[0].source_name() == "openssl");
  CHECK((*primary)[1].evr() == "1:3.0.7-27.el9");
  std::vector<std::string> missing;
  auto chosen = select_rpm(*primary,
                           {{"openssl-libs", "x86_64", "openssl", "1:3.0.7-25.el9", "needs"},
                            {"ca-certificates", "x86_64", "", "", "collect.yaml"},
                            {"openssl-libs", "x86_64", "openssl", "1:3.0.8-1.el9", "needs"}},
                           {"x86_64", "noarch"}, missing);
  REQUIRE(chosen.size() == 2);
  CHECK(chosen[0].entry.location == "Packages/o/openssl-libs-3.0.7-27.el9.x86_64.rpm");
  CHECK(chosen[1].entry.arch == "noarch");  // a noarch build serves any architecture
  CHECK(missing == std::vector<std::string>{
                       "openssl-libs.x86_64: the newest build here is 1:3.0.7-27.el9, older than "
                       "1:3.0.8-1.el9 that fixes it"});

  for (const auto& bad : std::vector<std::string>{
           primary_package("a", "ver=\"1\" rel=\"1\"", "x86_64", "a-1-1.src.rpm", "Packages/a.rpm",
                           "sha"),
           primary_package("a", "ver=\"1\" rel=\"1\"", "x86_64", "a-1-1.src.rpm", "/etc/a.rpm"),
           primary_package("a", "ver=\"1\" rel=\"1\"", "x86_64", "a-1-1.src.rpm", "http://x/a.rpm"),
           primary_package("", "ver=\"1\" rel=\"1\"", "x86_64", "a-1-1.src.rpm", "Packages/a.rpm"),
       }) {
    INFO(bad);
    CHECK_FALSE(parse_primary("<metadata>" + bad + "</metadata>"));
  }
}
