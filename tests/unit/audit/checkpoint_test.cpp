#include "audit/checkpoint.hpp"

#include <catch2/catch.hpp>

#include "core/fs.hpp"
#include "heal/attest.hpp"
#include "support/test_support.hpp"

using namespace airheal;

namespace {
std::vector<std::string> chain(int n) {
  test::TempDir dir;
  audit::Journal j(dir / "j.jsonl");
  for (int i = 0; i < n; ++i) REQUIRE(j.append({{"type", "test"}, {"actor", "tester"}, {"n", i}}));
  return *j.lines();
}
}  // namespace

TEST_CASE("Editing, deleting, reordering or inserting any record breaks the chain at that record",
          "[audit]") {
  auto lines = chain(6);
  REQUIRE(audit::verify_chain(lines, 1, audit::kGenesisHash).empty());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO("record " << i + 1);
    auto edited = lines;
    edited[i].replace(edited[i].find("\"n\":"), 5, "\"n\":9");
    auto p = audit::verify_chain(edited, 1, audit::kGenesisHash);
    if (i + 1 < lines.size())
      CHECK(p.find("record " + std::to_string(i + 2) + " does not follow") != std::string::npos);
    else
      CHECK(p.empty());  // the last record's edit shows only against a checkpoint (below)
    auto deleted = lines;
    deleted.erase(deleted.begin() + static_cast<long>(i));
    if (i + 1 < lines.size())
      CHECK_FALSE(audit::verify_chain(deleted, 1, audit::kGenesisHash).empty());
    auto inserted = lines;
    inserted.insert(inserted.begin() + static_cast<long>(i), lines[i]);
    CHECK_FALSE(audit::verify_chain(inserted, 1, audit::kGenesisHash).empty());
    if (i + 1 < lines.size()) {
      auto swapped = lines;
      std::swap(swapped[i], swapped[i + 1]);
      CHECK(audit::verify_chain(swapped, 1, audit::kGenesisHash)
                .find("record " + std::to_string(i + 1)) != std::string::npos);
    }
  }
  // A slice verifies from its anchor; the wrong anchor or start is caught.
  std::vector<std::string> slice(lines.begin() + 2, lines.end());
  CHECK(audit::verify_chain(slice, 3, audit::record_hash(lines[1])).empty());
  CHECK_FALSE(audit::verify_chain(slice, 3, audit::kGenesisHash).empty());
  CHECK_FALSE(audit::verify_chain(slice, 2, audit::record_hash(lines[1])).empty());
  CHECK(audit::verify_chain({"not json"}, 1, audit::kGenesisHash).find("not a JSON object") !=
        std::string::npos);
}

TEST_CASE("Signed checkpoints anchor the journal and catch an edited last record", "[audit]") {
  test::TempDir state;
  audit::Journal j(audit::journal_path(state.path()));
  auto key = heal::ApplianceKey::open(state.path());  // made now: its creation is record 1
  REQUIRE(key);
  REQUIRE(j.lines()->size() == 1);
  CHECK(j.read_all()->at(0)["type"] == "key.created");
  for (int i = 0; i < 2; ++i) REQUIRE(j.append({{"type", "test"}, {"n", i}}));
  auto sign = [&](const std::string& d) { return key->sign(d); };
  auto c = audit::make_checkpoint(state.path(), j, key->fingerprint(), sign);
  REQUIRE(c);
  CHECK(c->seq == 3);
  // Its own record follows; a second call with nothing new returns the same checkpoint.
  CHECK(j.lines()->size() == 4);
  CHECK(audit::make_checkpoint(state.path(), j, key->fingerprint(), sign)->seq == 3);
  auto loaded = audit::load_checkpoints(audit::checkpoints_dir(state.path()));
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].head == audit::record_hash((*j.lines())[2]));
  auto kr = pgp::Keyring::open(state / "keys" / "gnupg");
  REQUIRE(kr);
  auto checks = kr->verify_detached(loaded[0].signature, loaded[0].bytes);
  REQUIRE(checks);
  REQUIRE(checks->size() == 1);
  CHECK((*checks)[0].good);
  CHECK((*checks)[0].fingerprint == key->fingerprint());
  // The checkpointed record edited: the chain before it is fine, the checkpoint is not.
  auto lines = *j.lines();
  lines[2].replace(lines[2].find("\"n\":1"), 5, "\"n\":5");
  CHECK(audit::verify_checkpoint_against(loaded[0], lines, 1)
            .find("differs from what signed checkpoint 3") != std::string::npos);
  lines.resize(2);
  CHECK(audit::verify_checkpoint_against(loaded[0], lines, 1).find("missing") != std::string::npos);
  CHECK_FALSE(audit::parse_checkpoint("{\"type\": \"other\"}"));
  test::run({"gpgconf", "--homedir", (state / "keys" / "gnupg").string(), "--kill", "all"});
}
