#include "store/store.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/test_support.hpp"

using namespace airheal;
using nlohmann::json;

namespace {
struct FakeClock : store::Clock {
  std::int64_t t = 1'700'000'000;
  std::int64_t now_seconds() const override { return t; }
};

struct StoreFixture {
  test::TempDir dir;
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::unique_ptr<store::Store> s;
  StoreFixture() {
    auto r = store::Store::open(dir / "state", clock);
    REQUIRE(r);
    s = std::move(*r);
  }
  Digest push_blob(const std::string& repo, const std::string& data) {
    auto up = s->start_upload(repo);
    REQUIRE(up);
    auto w = s->open_upload(repo, up->uuid, 0);
    REQUIRE(w);
    REQUIRE((*w)->write(data.data(), data.size()));
    REQUIRE((*w)->commit());
    w->reset();
    auto done = s->finish_upload(repo, up->uuid, Sha256::of(data));
    REQUIRE(done);
    return done->digest;
  }
  std::string manifest_for(const std::string& config, const std::vector<std::string>& layers,
                           std::optional<std::string> subject = std::nullopt,
                           std::string artifact = "") {
    json m = {{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
              {"config",
               {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                {"digest", Sha256::of(config).str()},
                {"size", config.size()}}},
              {"layers", json::array()}};
    for (const auto& l : layers)
      m["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                             {"digest", Sha256::of(l).str()},
                             {"size", l.size()}});
    if (subject)
      m["subject"] = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                      {"digest", *subject},
                      {"size", 1}};
    if (!artifact.empty()) m["artifactType"] = artifact;
    return m.dump();
  }
  Digest push_image(const std::string& repo, const std::string& tag, unsigned seed) {
    auto cfg = "{\"seed\":" + std::to_string(seed) + "}";
    auto layer = test::random_bytes(1000, seed);
    push_blob(repo, cfg);
    push_blob(repo, layer);
    auto r = s->put_manifest(repo, tag, manifest_for(cfg, {layer}),
                             "application/vnd.oci.image.manifest.v1+json");
    REQUIRE(r);
    return r->digest;
  }
};
}  // namespace

TEST_CASE("chunked uploads are verified against their digest and stored once", "[store]") {
  StoreFixture f;
  auto data = test::random_bytes(300000, 1);
  auto up = f.s->start_upload("a/b");
  REQUIRE(up);
  for (std::size_t off = 0; off < data.size(); off += 100000) {
    auto w = f.s->open_upload("a/b", up->uuid, off);
    REQUIRE(w);
    REQUIRE((*w)->write(data.data() + off, 100000));
    auto o = (*w)->commit();
    REQUIRE(o);
    CHECK(*o == off + 100000);
  }
  auto st = f.s->upload_status("a/b", up->uuid);
  REQUIRE(st);
  CHECK(st->offset == data.size());
  auto done = f.s->finish_upload("a/b", up->uuid, Sha256::of(data));
  REQUIRE(done);
  CHECK(f.s->blob_size("a/b", done->digest) == data.size());
  CHECK_FALSE(f.s->blob_size("other", done->digest));
  // The same content pushed to another repository is the same file.
  auto d2 = f.push_blob("other", data);
  CHECK(d2 == done->digest);
  std::size_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(f.dir / "state" / "blobs"))
    if (e.is_regular_file()) ++files;
  CHECK(files == 1);
}

TEST_CASE("a wrong digest is refused and nothing becomes visible", "[store]") {
  StoreFixture f;
  auto up = f.s->start_upload("r");
  auto w = f.s->open_upload("r", up->uuid, 0);
  REQUIRE((*w)->write("hello", 5));
  REQUIRE((*w)->commit());
  w->reset();
  auto wrong = Sha256::of("hellO");
  auto done = f.s->finish_upload("r", up->uuid, wrong);
  REQUIRE_FALSE(done);
  CHECK(done.error().code == Errc::digest_invalid);
  CHECK_FALSE(f.s->blob_size("r", wrong));
  CHECK_FALSE(std::filesystem::exists(f.s->blob_path(wrong)));
  CHECK_FALSE(f.s->upload_status("r", up->uuid));
}

TEST_CASE("an abandoned chunk is rolled back, the upload continues from its last good offset",
          "[store]") {
  StoreFixture f;
  auto up = f.s->start_upload("r");
  {
    auto w = f.s->open_upload("r", up->uuid, 0);
    REQUIRE((*w)->write("good", 4));
    REQUIRE((*w)->commit());
  }
  {
    auto w = f.s->open_upload("r", up->uuid, 4);
    REQUIRE((*w)->write("GARBAGE", 7));
    // destroyed without commit: the client went away
  }
  CHECK(f.s->upload_status("r", up->uuid)->offset == 4);
  // A chunk that does not start at the current offset is refused.
  auto bad = f.s->open_upload("r", up->uuid, 9);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::range_invalid);
  {
    auto w = f.s->open_upload("r", up->uuid, 4);
    REQUIRE((*w)->write("data", 4));
    REQUIRE((*w)->commit());
  }
  CHECK(f.s->finish_upload("r", up->uuid, Sha256::of("gooddata")));
}

TEST_CASE("the running hash survives a restart of the store", "[store]") {
  StoreFixture f;
  auto up = f.s->start_upload("r");
  {
    auto w = f.s->open_upload("r", up->uuid, 0);
    REQUIRE((*w)->write("first-", 6));
    REQUIRE((*w)->commit());
  }
  f.s.reset();
  auto reopened = store::Store::open(f.dir / "state", f.clock);
  REQUIRE(reopened);
  auto& s = **reopened;
  // Chunks are not recorded one by one: after a restart the offset is the file's length.
  auto status = s.upload_status("r", up->uuid);
  REQUIRE(status);
  CHECK(status->offset == 6);
  CHECK_FALSE(s.open_upload("r", up->uuid, 3));  // a chunk that does not continue it is refused
  {
    auto w = s.open_upload("r", up->uuid, 6);
    REQUIRE(w);
    REQUIRE((*w)->write("second", 6));
    REQUIRE((*w)->commit());
  }
  CHECK(s.finish_upload("r", up->uuid, Sha256::of("first-second")));
}

TEST_CASE("two writers cannot interleave on one upload", "[store]") {
  StoreFixture f;
  auto up = f.s->start_upload("r");
  auto w1 = f.s->open_upload("r", up->uuid, 0);
  REQUIRE(w1);
  auto w2 = f.s->open_upload("r", up->uuid, 0);
  REQUIRE_FALSE(w2);
  CHECK(w2.error().code == Errc::blob_upload_invalid);
}

TEST_CASE("concurrent pushes of the same blob both succeed with one copy", "[store]") {
  StoreFixture f;
  auto data = test::random_bytes(1 << 20, 3);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      auto repo = "r" + std::to_string(i % 2);
      auto up = f.s->start_upload(repo);
      auto w = f.s->open_upload(repo, up->uuid, 0);
      (void)(*w)->write(data.data(), data.size());
      (void)(*w)->commit();
      w->reset();
      if (f.s->finish_upload(repo, up->uuid, Sha256::of(data))) ok++;
    });
  for (auto& t : ts) t.join();
  CHECK(ok == 4);
  CHECK(f.s->check().ok());
}

TEST_CASE("manifests need their blobs in the repository", "[store]") {
  StoreFixture f;
  auto cfg = std::string("{}");
  auto layer = std::string("layer");
  auto m = f.manifest_for(cfg, {layer});
  auto r = f.s->put_manifest("r", "v1", m, "application/vnd.oci.image.manifest.v1+json");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::manifest_blob_unknown);
  f.push_blob("r", cfg);
  f.push_blob("elsewhere", layer);  // present in the store, but not in r
  CHECK(
      f.s->put_manifest("r", "v1", m, "application/vnd.oci.image.manifest.v1+json").error().code ==
      Errc::manifest_blob_unknown);
  CHECK(f.s->mount_blob("r", "elsewhere", Sha256::of(layer)));
  auto ok = f.s->put_manifest("r", "v1", m, "application/vnd.oci.image.manifest.v1+json");
  REQUIRE(ok);
  auto got = f.s->get_manifest("r", "v1");
  REQUIRE(got);
  CHECK(*got->bytes == m);
  CHECK(got->digest == ok->digest);
  CHECK(f.s->get_manifest("r", ok->digest.str()));
  // By digest, the bytes must hash to the reference.
  CHECK(f.s->put_manifest("r", Sha256::of("x").str(), m, "").error().code == Errc::digest_invalid);
}

TEST_CASE("tags list in order with pagination, and events report moves", "[store]") {
  StoreFixture f;
  std::vector<store::Event> events;
  f.s->events().subscribe([&](const store::Event& e) { events.push_back(e); });
  auto d1 = f.push_image("r", "b", 1);
  f.push_image("r", "a", 2);
  f.push_image("r", "c", 3);
  auto d4 = f.push_image("r", "b", 4);  // moves tag b
  CHECK(*f.s->list_tags("r", 0, "") == std::vector<std::string>{"a", "b", "c"});
  CHECK(*f.s->list_tags("r", 2, "") == std::vector<std::string>{"a", "b"});
  CHECK(*f.s->list_tags("r", 2, "b") == std::vector<std::string>{"c"});
  CHECK(f.s->list_tags("nope", 0, "").error().code == Errc::name_unknown);
  bool moved = false;
  for (const auto& e : events)
    if (e.kind == store::Event::Kind::tag_moved && e.tag == "b" && e.previous == d1.str() &&
        e.digest == d4.str())
      moved = true;
  CHECK(moved);
  // The tag's earlier digest is remembered (the heal engine recognises earlier base versions).
  std::vector<std::pair<std::string, std::string>> history;
  f.s->read([&](sqlite::Connection& c) {
    auto st = c.prepare("SELECT tag, digest FROM tag_history ORDER BY rowid");
    while (st.step()) history.emplace_back(st.get_text(0), st.get_text(1));
  });
  CHECK(history == std::vector<std::pair<std::string, std::string>>{{"b", d1.str()}});
}

TEST_CASE("referrers are found by subject and filtered by artifact type", "[store]") {
  StoreFixture f;
  auto subject = f.push_image("r", "v1", 1);
  f.push_blob("r", "{}");
  auto sbom = f.manifest_for("{}", {}, subject.str(), "application/spdx+json");
  auto sig = f.manifest_for("{}", {}, subject.str(), "application/vnd.dev.cosign.signature");
  REQUIRE(f.s->put_manifest("r", Sha256::of(sbom).str(), sbom, ""));
  auto res = f.s->put_manifest("r", Sha256::of(sig).str(), sig, "");
  REQUIRE(res);
  CHECK(res->subject == subject);
  CHECK(f.s->referrers("r", subject, std::nullopt).size() == 2);
  auto only = f.s->referrers("r", subject, std::string("application/spdx+json"));
  REQUIRE(only.size() == 1);
  CHECK(only[0].digest == Sha256::of(sbom));
  CHECK(f.s->referrers("other", subject, std::nullopt).empty());
}

TEST_CASE("garbage collection keeps everything reachable and removes the rest", "[store][gc]") {
  StoreFixture f;
  auto kept = f.push_image("r", "keep", 1);
  auto retained = f.push_image("r", "old", 2);
  REQUIRE(f.s->retain("r", retained, "rollback"));
  auto untagged = f.push_image("r", "temp", 3);
  REQUIRE(f.s->delete_manifest("r", "temp"));  // untagged now
  REQUIRE(f.s->delete_manifest("r",
                               "old"));  // untagged but retained... deleting by tag keeps retention
  f.push_blob("r", "{}");
  auto sbom = f.manifest_for("{}", {}, kept.str(), "application/spdx+json");
  REQUIRE(f.s->put_manifest("r", Sha256::of(sbom).str(), sbom, ""));
  auto orphan = f.push_blob("r", "orphan blob nobody references");
  auto up = f.s->start_upload("r");

  // Nothing is old enough yet.
  store::GcOptions o;
  o.dry_run = false;
  o.delete_untagged = true;
  auto r0 = f.s->gc(o);
  CHECK(r0.blobs_removed.empty());
  CHECK(r0.manifests_removed.empty());

  f.clock->t += 2 * 86400;
  o.dry_run = true;
  auto dry = f.s->gc(o);
  CHECK(dry.blobs_removed.size() >= 1);
  CHECK(std::filesystem::exists(f.s->blob_path(orphan)));  // dry run deletes nothing
  o.dry_run = false;
  auto r = f.s->gc(o);
  CHECK(std::find(r.manifests_removed.begin(), r.manifests_removed.end(), untagged.str()) !=
        r.manifests_removed.end());
  CHECK(std::find(r.blobs_removed.begin(), r.blobs_removed.end(), orphan.str()) !=
        r.blobs_removed.end());
  CHECK(r.uploads_removed == std::vector<std::string>{up->uuid});
  CHECK_FALSE(std::filesystem::exists(f.s->blob_path(orphan)));
  CHECK(f.s->get_manifest("r", "keep"));
  CHECK(f.s->get_manifest("r", retained.str()));
  CHECK(f.s->get_manifest("r", Sha256::of(sbom).str()));  // referrer of a kept manifest
  CHECK_FALSE(f.s->get_manifest("r", untagged.str()));
  auto check = f.s->check();
  INFO((check.problems.empty() ? "" : check.problems.front()));
  CHECK(check.ok());
}

TEST_CASE("store check finds corrupted, missing and stray blobs", "[store]") {
  StoreFixture f;
  f.push_image("r", "v1", 1);
  CHECK(f.s->check().ok());
  auto victim = f.push_blob("r", "precious content");
  {
    std::ofstream out(f.s->blob_path(victim), std::ios::binary | std::ios::trunc);
    out << "precious c0ntent";
  }
  auto r = f.s->check();
  REQUIRE(r.problems.size() == 1);
  CHECK_THAT(r.problems[0], Catch::Contains(victim.str()) && Catch::Contains("hashes to"));
  std::filesystem::remove(f.s->blob_path(victim));
  CHECK_THAT(f.s->check().problems.at(0),
             Catch::Contains(victim.str()) && Catch::Contains("its file is missing"));
  auto stray = f.dir / "state" / "blobs" / "sha256" / "ab" / ("ab" + std::string(62, '0'));
  std::filesystem::create_directories(stray.parent_path());
  std::ofstream(stray) << "x";
  bool found = false;
  for (const auto& p : f.s->check().problems) found |= p.find("not recorded") != std::string::npos;
  CHECK(found);
}

TEST_CASE("store check reads one consistent state while images, blobs and referrers are written",
          "[store]") {
  StoreFixture f;
  f.push_image("r", "v0", 1);
  std::atomic<bool> done{false};
  std::atomic<int> written{0};
  std::string writer_error;
  std::thread writer([&] {
    // Writes as the daemon does while it records SBOMs: blobs, then manifests referring to them.
    try {
      for (unsigned i = 2; i < 5000 && !done; ++i) {  // until the checks below are done
        auto cfg = "{\"seed\":" + std::to_string(i) + "}";
        auto layer = test::random_bytes(2000, i);
        for (const auto& b : {cfg, layer}) {
          auto up = f.s->start_upload("r");
          if (!up) throw std::runtime_error(up.error().message);
          auto w = f.s->open_upload("r", up->uuid, 0);
          if (!w || !(*w)->write(b.data(), b.size()) || !(*w)->commit())
            throw std::runtime_error("upload failed");
          w->reset();
          if (!f.s->finish_upload("r", up->uuid, Sha256::of(b)))
            throw std::runtime_error("finish failed");
        }
        auto m = f.manifest_for(cfg, {layer});
        if (!f.s->put_manifest("r", "v" + std::to_string(i), m,
                               "application/vnd.oci.image.manifest.v1+json"))
          throw std::runtime_error("manifest refused");
        ++written;
      }
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
  });
  // At least five checks and forty images written, however the two threads are scheduled (a
  // loaded machine may write forty images during one check).
  int checks = 0, written_at_first_check = -1;
  std::vector<std::string> problems;
  while ((written < 40 || checks < 5) && writer_error.empty() && checks < 2000) {
    auto r = f.s->check();
    if (++checks == 1) written_at_first_check = written;
    problems.insert(problems.end(), r.problems.begin(), r.problems.end());
  }
  int written_at_end = written;
  done = true;
  writer.join();
  INFO(writer_error);
  REQUIRE(writer_error.empty());
  INFO((problems.empty() ? "" : problems.front()));
  CHECK(checks >= 5);
  CHECK(written_at_end > written_at_first_check);  // the checks ran while images were being written
  CHECK(problems.empty());
  CHECK(f.s->check().ok());
}

TEST_CASE("an unusable state directory is refused with a precise message", "[store]") {
  test::TempDir dir;
  std::ofstream(dir / "file") << "x";
  auto r = store::Store::open(dir / "file");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("not a directory"));
  if (::geteuid() != 0) {
    std::filesystem::create_directories(dir / "ro");
    std::filesystem::permissions(
        dir / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    CHECK_FALSE(store::Store::open(dir / "ro"));
  }
}

TEST_CASE("a refused manifest leaves no blob behind", "[store]") {
  StoreFixture f;
  auto m = f.manifest_for("{}", {"missing layer"});
  REQUIRE_FALSE(f.s->put_manifest("r", "v1", m, ""));
  CHECK_FALSE(f.s->blob_size("r", Sha256::of(m)));
  CHECK_FALSE(std::filesystem::exists(f.s->blob_path(Sha256::of(m))));
}

TEST_CASE("transactions and reads return what their function returns", "[store]") {
  StoreFixture f;
  auto count = [](sqlite::Connection& c) {
    auto q = c.prepare("SELECT count(*) FROM repositories");
    q.step();
    return q.get_int(0);
  };
  auto before = f.s->read(count);
  // A Result is handed back as it is, with no error value assigned before the call.
  Result<std::int64_t> made = f.s->transaction([&](sqlite::Connection& c) -> Result<std::int64_t> {
    c.prepare("INSERT INTO repositories(name, created_at) VALUES ('returned', 1)").run();
    return c.last_insert_rowid();
  });
  REQUIRE(made);
  CHECK(*made > 0);
  CHECK(f.s->read(count) == before + 1);
  Status refused = f.s->transaction(
      [](sqlite::Connection&) -> Status { return make_error(Errc::invalid_argument, "no"); });
  CHECK(!refused);
  CHECK(refused.error().message == "no");
  // An exception still rolls the transaction back.
  CHECK_THROWS(f.s->transaction([](sqlite::Connection& c) -> int {
    c.prepare("INSERT INTO repositories(name, created_at) VALUES ('thrown', 1)").run();
    throw std::runtime_error("boom");
  }));
  CHECK(f.s->read(count) == before + 1);
}
