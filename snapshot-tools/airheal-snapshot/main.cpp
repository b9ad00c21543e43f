// airheal-snapshot: builds, signs, verifies, inspects, compares and splits snapshot files on
// the connected side. Exit status: 0 success, 1 refused or failed (reason on stderr), 2 usage.
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "collect/collect.hpp"
#include "config/config.hpp"
#include "core/archive_path.hpp"
#include "core/fs.hpp"
#include "heal/app/app_replace.hpp"
#include "snapshot/builder.hpp"

namespace fsys = std::filesystem;
using namespace airheal;
using namespace airheal::snapshot;
using nlohmann::json;

namespace {

int fail(const std::string& msg) {
  std::cerr << "airheal-snapshot: " << msg << "\n";
  return 1;
}

json head_json(const Head& h) {
  const auto& m = h.manifest;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> kinds;  // count, bytes
  std::uint64_t carried = 0, left_out = 0;
  for (const auto& e : m.entries) {
    auto& k = kinds[to_string(e.kind)];
    ++k.first;
    k.second += e.size;
    (e.in_previous ? left_out : carried) += e.size;
  }
  json j{{"digest", h.digest.str()},
         {"format_version", m.version},
         {"channel", m.channel},
         {"sequence", m.sequence},
         {"created", format_time(m.created)},
         {"expires", format_time(m.expires)},
         {"generator", m.generator},
         {"entries", m.entries.size()},
         {"bytes_carried", carried},
         {"bytes_in_previous", left_out}};
  if (m.previous)
    j["previous"] = {{"sequence", m.previous->sequence}, {"digest", m.previous->digest.str()}};
  j["kinds"] = json::object();
  for (const auto& [k, v] : kinds) j["kinds"][k] = {{"count", v.first}, {"bytes", v.second}};
  j["signatures"] = json::array();
  for (const auto& [name, sig] : h.signatures) j["signatures"].push_back(name);
  j["images"] = json::array();
  for (const auto& i : m.images)
    j["images"].push_back(
        {{"repository", i.repository}, {"tag", i.tag}, {"digest", i.digest.str()}});
  j["packages"] = json::array();
  for (const auto& p : m.packages)
    j["packages"].push_back({{"name", p.name},
                             {"version", p.version},
                             {"architecture", p.architecture},
                             {"source", p.source}});
  j["artifacts"] = json::array();
  for (const auto& a : m.artifacts)
    j["artifacts"].push_back(
        {{"name", a.name}, {"version", a.version}, {"digest", a.digest.str()}});
  std::map<std::string, int> formats;
  for (const auto& e : m.entries)
    if (e.kind == EntryKind::advisory) ++formats[e.format];
  j["advisory_files"] = formats;
  return j;
}

void print_head(const json& j) {
  std::cout << "snapshot   " << j["digest"].get<std::string>() << "\n"
            << "channel    " << j["channel"].get<std::string>() << "  sequence " << j["sequence"]
            << "\n"
            << "created    " << j["created"].get<std::string>() << "\n"
            << "expires    " << j["expires"].get<std::string>() << "\n";
  if (j.contains("previous"))
    std::cout << "delta on   sequence " << j["previous"]["sequence"] << " ("
              << j["previous"]["digest"].get<std::string>() << ")\n";
  std::cout << "entries    " << j["entries"] << " (" << j["bytes_carried"] << " bytes carried, "
            << j["bytes_in_previous"] << " bytes left to the previous snapshot)\n";
  for (const auto& [k, v] : j["kinds"].items())
    std::cout << "  " << k << ": " << v["count"] << " entries, " << v["bytes"] << " bytes\n";
  std::cout << "signatures " << j["signatures"].size() << "\n";
  for (const auto& s : j["signatures"]) std::cout << "  " << s.get<std::string>() << "\n";
  for (const auto& i : j["images"])
    std::cout << "image      " << i["repository"].get<std::string>() << ":"
              << i["tag"].get<std::string>() << " " << i["digest"].get<std::string>() << "\n";
  for (const auto& p : j["packages"])
    std::cout << "package    " << p["name"].get<std::string>() << " "
              << p["version"].get<std::string>() << " " << p["architecture"].get<std::string>()
              << "\n";
  for (const auto& a : j["artifacts"])
    std::cout << "artefact   " << a["name"].get<std::string>() << " "
              << a["digest"].get<std::string>() << "\n";
  for (const auto& [f, n] : j["advisory_files"].items())
    std::cout << "advisories " << n << " " << f << " file(s)\n";
}

// A throw-away GnuPG home holding only the given public keys.
struct TempHome {
  fsys::path dir;
  TempHome() {
    std::string tmpl = (fsys::temp_directory_path() / "airheal-gpg-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary GnuPG home");
    dir = tmpl;
  }
  ~TempHome() {
    std::error_code ec;
    fsys::remove_all(dir, ec);
  }
};

// `collect`: progress on a terminal (one line, overwritten), the summary on stdout. Exit 0 when
// everything asked for was fetched and verified, 1 when something was refused (nothing
// unverified is kept), 3 when the run finished but some of what was asked for is not upstream.
int run_collect(const std::string& config_file, const std::string& needs_file,
                const std::string& needs_key, const std::string& out, bool dry_run, bool as_json) {
  auto text = fs::read_file(config_file, 1u << 20);
  if (!text) return fail(config_file + ": " + text.error().message);
  auto cfg = airheal::collect::parse_config(*text);
  if (!cfg) return fail(cfg.error().message);
  airheal::collect::CollectOptions o;
  o.out = out;
  o.dry_run = dry_run;
  o.now = static_cast<std::int64_t>(std::time(nullptr));
  if (!needs_file.empty()) {
    if (needs_key.empty())
      return fail(
          "--needs needs --needs-key: the appliance's public key (airhealctl audit key "
          "--export FILE), so that a needs file nobody signed is never acted on");
    auto needs = airheal::collect::read_needs(needs_file, needs_key);
    if (!needs) return fail("REFUSED: " + needs.error().message);
    o.needs = std::move(*needs);
  }
  const bool tty = ::isatty(2);
  o.progress = [tty](const std::string& line) {
    if (tty)
      std::cerr << "\r\033[K" << line.substr(0, 160) << std::flush;
    else if (line.find(" / ") == std::string::npos)  // byte counts only on a terminal
      std::cerr << line << "\n";
  };
  auto r = airheal::collect::collect(*cfg, o);
  if (tty) std::cerr << "\r\033[K";
  if (!r) return fail("REFUSED: " + r.error().message);
  if (as_json) {
    std::cout << r->to_json().dump(2) << "\n";
  } else {
    if (dry_run) {
      for (const auto& p : r->planned) std::cout << "would fetch " << p << "\n";
      std::cout << r->planned.size() << " item(s), " << fs::human_bytes(r->bytes_total) << "\n";
    } else {
      std::cout << "collected into " << out << ": " << r->packages << " package(s) ("
                << r->packages_from_cache << " from the cache), " << r->applications
                << " application package(s), " << r->images << " image(s), " << r->feeds
                << " advisory feed(s); " << fs::human_bytes(r->bytes_fetched) << " fetched\n";
    }
    for (const auto& m : r->missing) std::cout << "not found: " << m << "\n";
    if (!dry_run)
      std::cout << "next: airheal-snapshot create --collected " << out
                << " --channel CHANNEL --out FILE\n";
  }
  return r->missing.empty() ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  airheal::use_utf8_ctype();
  CLI::App app{"airheal-snapshot: build and sign snapshot files for an airheal appliance"};
  app.set_version_flag("--version", "airheal-snapshot " AIRHEAL_VERSION);
  app.require_subcommand(1);
  bool as_json = false;

  CreateOptions co;
  std::string expires = "30d", created, compress = "none", previous, trust_keys;
  std::vector<std::string> image_specs;
  auto* create_cmd = app.add_subcommand("create", "build a snapshot file");
  create_cmd->add_option("--channel", co.channel, "channel name")->required();
  create_cmd
      ->add_option("--sequence", co.sequence, "sequence number, greater than the channel's last")
      ->required();
  create_cmd->add_option("--expires", expires, "validity after creation (30d, 12h, ...)");
  create_cmd->add_option("--created", created, "creation time, RFC 3339 (default: now)");
  create_cmd->add_option("--out", co.out, "output file")->required();
  create_cmd->add_option("--advisories", co.advisories,
                         "folder of OSV JSON, Debian tracker JSON, Alpine secdb YAML");
  create_cmd->add_option("--image", image_specs, "OCI_LAYOUT_DIR[:REF]=REPO:TAG");
  create_cmd->add_option("--packages", co.packages, "folder of .deb, .apk and .rpm files");
  create_cmd->add_option("--artifacts", co.artifacts,
                         "folder of replacement binaries and fixed application packages (npm "
                         "tarballs, wheels, jars: read for their own name and version) (FILE + "
                         "optional FILE.json)");
  co.describe_artifact = [](const std::filesystem::path& p) -> airheal::Result<nlohmann::json> {
    auto name = p.filename().string();
    if (!name.ends_with(".tgz") && !name.ends_with(".tar.gz") && !name.ends_with(".whl") &&
        !name.ends_with(".jar") && !name.ends_with(".war"))
      return airheal::make_error(airheal::Errc::unsupported, name + " is no application package");
    auto bytes = airheal::fs::read_file(p, 1ull << 30);
    if (!bytes) return bytes.error();
    auto id = airheal::heal::app::identify(*bytes, name);
    if (!id) return id.error();
    return nlohmann::json{
        {"ecosystem", id->ecosystem}, {"package", id->name}, {"version", id->version}};
  };
  std::string collected_dir;
  create_cmd->add_option("--collected", collected_dir,
                         "a folder `collect` wrote: its advisories, packages, images and collect "
                         "log");
  create_cmd->add_option("--previous", previous, "the channel's previous snapshot: make a delta");
  create_cmd->add_option("--compress", compress, "none or zstd")
      ->check(CLI::IsMember({"none", "zstd"}));
  create_cmd->add_option("--trust-keys", trust_keys,
                         "armoured public keys to deliver (key rotation)");
  create_cmd->add_option("--trust-add", co.trust_add, "fingerprint to trust for the channel");
  create_cmd->add_option("--trust-remove", co.trust_remove, "fingerprint to stop trusting");
  int trust_threshold = 0;
  create_cmd->add_option("--trust-threshold", trust_threshold, "new signature threshold");
  create_cmd->add_flag("--json", as_json, "machine-readable output");

  std::string sign_file, gpg_home, passphrase_file;
  std::vector<std::string> keys;
  auto* sign_cmd = app.add_subcommand("sign", "add detached OpenPGP signatures over the manifest");
  sign_cmd->add_option("file", sign_file)->required();
  sign_cmd->add_option("--key", keys, "signing key fingerprint (repeat for more)")->required();
  sign_cmd->add_option("--gpg-home", gpg_home, "GnuPG home (default: $GNUPGHOME or ~/.gnupg)");
  sign_cmd->add_option("--passphrase-file", passphrase_file,
                       "read the key's passphrase from this file");

  std::string verify_file, keyring_file;
  int threshold = 1;
  auto* verify_cmd = app.add_subcommand("verify", "check signatures and every entry");
  verify_cmd->add_option("file", verify_file)->required();
  verify_cmd->add_option("--keyring", keyring_file, "public keys to trust (armoured)")->required();
  verify_cmd->add_option("--threshold", threshold, "distinct good signatures required")
      ->check(CLI::PositiveNumber);
  verify_cmd->add_flag("--json", as_json);

  std::string inspect_file;
  auto* inspect_cmd = app.add_subcommand("inspect", "show what a snapshot holds (no verification)");
  inspect_cmd->add_option("file", inspect_file)->required();
  inspect_cmd->add_flag("--json", as_json);

  std::string diff_old, diff_new;
  auto* diff_cmd = app.add_subcommand("diff", "what NEW adds, changes and drops relative to OLD");
  diff_cmd->add_option("old", diff_old)->required();
  diff_cmd->add_option("new", diff_new)->required();
  diff_cmd->add_flag("--json", as_json);

  std::string split_file, split_size, split_dir;
  auto* split_cmd =
      app.add_subcommand("split", "cut a snapshot into media-sized parts with an index");
  split_cmd->add_option("file", split_file)->required();
  split_cmd->add_option("--size", split_size, "part size (e.g. 4G, 700M)")->required();
  split_cmd->add_option("--out-dir", split_dir, "where the parts go (default: next to the file)");

  std::string join_index, join_out;
  auto* join_cmd = app.add_subcommand("join", "reassemble parts, checking each against the index");
  join_cmd->add_option("index", join_index, "FILE.parts.json")->required();
  join_cmd->add_option("--out", join_out, "output file")->required();

  std::string collect_config, needs_file, needs_key, collect_out;
  bool dry_run = false;
  auto* collect_cmd = app.add_subcommand(
      "collect",
      "fetch what an appliance needs (needs.json) and what collect.yaml lists, verified against "
      "upstream signatures and checksums, into a folder for create --collected");
  collect_cmd->add_option("--config", collect_config, "collect.yaml")->required();
  collect_cmd->add_option("--needs", needs_file, "needs.json from airhealctl needs export");
  collect_cmd->add_option("--needs-key", needs_key,
                          "the appliance's public key (airhealctl audit key --export)");
  collect_cmd->add_option("--out", collect_out, "a new folder")->required();
  collect_cmd->add_flag("--dry-run", dry_run, "list what would be fetched and its size");
  collect_cmd->add_flag("--json", as_json, "machine-readable output");

  CLI11_PARSE(app, argc, argv);

  try {
    if (*create_cmd) {
      co.created = created.empty() ? static_cast<std::int64_t>(std::time(nullptr))
                                   : parse_time(created).value_or(-1);
      if (co.created < 0) return fail("--created '" + created + "' is not an RFC 3339 time");
      auto d = config::parse_duration(expires);
      if (!d) return fail("--expires: " + d.error().message);
      co.expires_in = d->count();
      co.compression = compress == "zstd" ? Compression::zstd : Compression::none;
      for (const auto& s : image_specs) {
        auto src = parse_image_source(s);
        if (!src) return fail(src.error().message);
        co.images.push_back(*src);
      }
      if (!previous.empty()) co.previous = previous;
      if (!collected_dir.empty()) {
        auto c = airheal::collect::read_collected(collected_dir);
        if (!c) return fail(c.error().message);
        co.advisories.insert(co.advisories.end(), c->advisories.begin(), c->advisories.end());
        co.packages.insert(co.packages.end(), c->packages.begin(), c->packages.end());
        co.artifacts.insert(co.artifacts.end(), c->artifacts.begin(), c->artifacts.end());
        for (const auto& i : c->images) {
          auto src = parse_image_source(i.layout.string() + ":" + i.ref + "=" + i.as);
          if (!src) return fail(src.error().message);
          co.images.push_back(*src);
        }
      }
      if (!trust_keys.empty()) co.trust_keys = trust_keys;
      if (trust_threshold > 0) co.trust_threshold = trust_threshold;
      auto rep = create(co);
      if (!rep) return fail(rep.error().message);
      json j{{"file", co.out.string()},
             {"digest", rep->digest.str()},
             {"entries", rep->manifest.entries.size()},
             {"bytes_written", rep->bytes_written},
             {"bytes_left_out", rep->bytes_left_out}};
      if (as_json)
        std::cout << j.dump(2) << "\n";
      else
        std::cout << "created " << co.out.string() << " (" << rep->digest.str()
                  << "): " << rep->manifest.entries.size() << " entries, " << rep->bytes_written
                  << " bytes carried"
                  << (co.previous ? ", " + std::to_string(rep->bytes_left_out) +
                                        " bytes left to the previous snapshot"
                                  : "")
                  << "\nnext: airheal-snapshot sign " << co.out.string() << " --key FINGERPRINT\n";
      return 0;
    }
    if (*collect_cmd)
      return run_collect(collect_config, needs_file, needs_key, collect_out, dry_run, as_json);
    if (*sign_cmd) {
      if (gpg_home.empty()) {
        const char* g = std::getenv("GNUPGHOME");
        const char* home = std::getenv("HOME");
        gpg_home = g ? g : (home ? std::string(home) + "/.gnupg" : ".gnupg");
      }
      std::optional<std::string> pass;
      if (!passphrase_file.empty()) {
        auto p = fs::read_file(passphrase_file, 4096);
        if (!p) return fail(p.error().message);
        auto s = *p;
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        pass = s;
      }
      if (auto st = sign(sign_file, keys, gpg_home, pass); !st) return fail(st.error().message);
      std::cout << "signed " << sign_file << " with " << keys.size() << " key(s)\n";
      return 0;
    }
    if (*verify_cmd) {
      TempHome home;
      auto kr = pgp::Keyring::open(home.dir);
      if (!kr) return fail(kr.error().message);
      auto keydata = fs::read_file(keyring_file, 16 << 20);
      if (!keydata) return fail(keydata.error().message);
      if (auto imp = kr->import_keys(*keydata); !imp)
        return fail(keyring_file + ": " + imp.error().message);
      auto rep = verify(verify_file, *kr, threshold);
      if (!rep) return fail("REFUSED: " + rep.error().message);
      auto j = head_json(rep->head);
      j["good_signatures"] = rep->good;
      j["signers"] = json::array();
      for (const auto& s : rep->signatures)
        j["signers"].push_back(
            {{"fingerprint", s.fingerprint}, {"good", s.good}, {"problem", s.problem}});
      if (as_json)
        std::cout << j.dump(2) << "\n";
      else {
        std::cout << "OK: " << rep->good
                  << " good signature(s); every entry matches the manifest\n";
        print_head(j);
      }
      return 0;
    }
    if (*inspect_cmd) {
      auto h = inspect(inspect_file);
      if (!h) return fail(h.error().message);
      auto j = head_json(*h);
      if (as_json)
        std::cout << j.dump(2) << "\n";
      else
        print_head(j);
      return 0;
    }
    if (*diff_cmd) {
      auto a = inspect(diff_old);
      if (!a) return fail(diff_old + ": " + a.error().message);
      auto b = inspect(diff_new);
      if (!b) return fail(diff_new + ": " + b.error().message);
      std::map<std::string, const Entry*> old_entries, new_entries;
      for (const auto& e : a->manifest.entries) old_entries[e.path] = &e;
      for (const auto& e : b->manifest.entries) new_entries[e.path] = &e;
      json j{{"added", json::array()},
             {"changed", json::array()},
             {"removed", json::array()},
             {"bytes_new", 0},
             {"images", json::array()}};
      std::uint64_t bytes_new = 0;
      for (const auto& [p, e] : new_entries) {
        auto it = old_entries.find(p);
        if (it == old_entries.end()) {
          j["added"].push_back(p);
          bytes_new += e->size;
        } else if (it->second->sha256 != e->sha256) {
          j["changed"].push_back(p);
          bytes_new += e->size;
        }
      }
      for (const auto& [p, e] : old_entries)
        if (!new_entries.count(p)) j["removed"].push_back(p);
      j["bytes_new"] = bytes_new;
      std::map<std::string, std::string> old_images;
      for (const auto& i : a->manifest.images)
        old_images[i.repository + ":" + i.tag] = i.digest.str();
      for (const auto& i : b->manifest.images) {
        auto ref = i.repository + ":" + i.tag;
        auto it = old_images.find(ref);
        if (it == old_images.end())
          j["images"].push_back({{"image", ref}, {"change", "added"}, {"digest", i.digest.str()}});
        else if (it->second != i.digest.str())
          j["images"].push_back({{"image", ref},
                                 {"change", "updated"},
                                 {"from", it->second},
                                 {"to", i.digest.str()}});
      }
      if (as_json) {
        std::cout << j.dump(2) << "\n";
      } else {
        for (const auto& p : j["added"]) std::cout << "+ " << p.get<std::string>() << "\n";
        for (const auto& p : j["changed"]) std::cout << "~ " << p.get<std::string>() << "\n";
        for (const auto& p : j["removed"]) std::cout << "- " << p.get<std::string>() << "\n";
        for (const auto& i : j["images"])
          std::cout << "image " << i["image"].get<std::string>() << " "
                    << i["change"].get<std::string>() << "\n";
        std::cout << j["added"].size() << " added, " << j["changed"].size() << " changed, "
                  << j["removed"].size() << " removed; a delta would carry " << bytes_new
                  << " bytes\n";
      }
      return 0;
    }
    if (*split_cmd) {
      auto size = parse_size(split_size);
      if (!size) return fail("--size '" + split_size + "' is not a size like 4G or 700M");
      fsys::path dir =
          split_dir.empty() ? fsys::path(split_file).parent_path() : fsys::path(split_dir);
      if (dir.empty()) dir = ".";
      auto rep = split(split_file, *size, dir);
      if (!rep) return fail(rep.error().message);
      for (const auto& p : rep->parts) std::cout << p.string() << "\n";
      std::cout << rep->index.string() << "\n";
      return 0;
    }
    if (*join_cmd) {
      if (auto st = join(join_index, join_out); !st) return fail(st.error().message);
      std::cout << "joined " << join_out << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 2;
}
