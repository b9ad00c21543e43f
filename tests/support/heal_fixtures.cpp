#include "support/heal_fixtures.hpp"

#include <chrono>
#include <thread>

namespace airheal::test {
namespace fsys = std::filesystem;
using nlohmann::json;

HealAppliance::~HealAppliance() {
  daemon.reset();
  run({"gpgconf", "--homedir", (state() / "trust" / "gnupg").string(), "--kill", "all"});
  run({"gpgconf", "--homedir", (state() / "keys" / "gnupg").string(), "--kill", "all"});
}

void HealAppliance::start(const std::string& yaml) {
  daemon = std::make_unique<Daemon>(Daemon::Options{state(), yaml, {}});
}

std::string HealAppliance::reg() const { return "127.0.0.1:" + std::to_string(daemon->port()); }

ProcessResult HealAppliance::ctl(std::vector<std::string> args) {
  args.insert(args.begin(), {airhealctl_path().string(), "--state-dir", state().string()});
  return run_ok(args);
}

json HealAppliance::ctl_json(std::vector<std::string> args) {
  args.insert(args.begin(), "--json");
  return json::parse(ctl(args).out);
}

void HealAppliance::import(const std::string& channel,
                           const std::vector<std::string>& folder_args) {
  if (!trusted.count(channel)) {
    ctl({"trust", "add", signer.write_public_key(tmp.path()).string(), "--channel", channel});
    trusted.insert(channel);
  }
  auto file = tmp / (channel + "-" + std::to_string(++sequence) + ".snapshot");
  std::vector<std::string> args = {
      airheal_snapshot_path().string(), "create",    "--channel", channel, "--sequence",
      std::to_string(sequence),         "--expires", "30d",       "--out", file.string()};
  args.insert(args.end(), folder_args.begin(), folder_args.end());
  run_ok(args);
  run_ok({airheal_snapshot_path().string(), "sign", file.string(), "--key", signer.fingerprint(),
          "--gpg-home", signer.home().string()});
  ctl({"import", file.string()});
}

std::map<std::string, json> HealAppliance::wait_heals(const std::set<std::string>& repos,
                                                      int seconds) {
  std::map<std::string, json> by_repo;
  for (int i = 0; i < seconds; ++i) {
    by_repo.clear();
    for (const auto& h : ctl_json({"heals"})) by_repo[h["repository"].get<std::string>()] = h;
    bool done = true;
    for (const auto& r : repos) {
      auto it = by_repo.find(r);
      if (it == by_repo.end())
        done = false;
      else if (auto s = it->second["state"]; s != "staged" && s != "promoted" && s != "held" &&
                                             s != "failed" && s != "rolled_back")
        done = false;
    }
    if (done) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return by_repo;
}

ProcessResult BuildahCli::operator()(std::vector<std::string> args) const {
  std::vector<std::string> v = {"buildah",
                                "--root",
                                (work / "buildah-root").string(),
                                "--runroot",
                                (work / "buildah-run").string(),
                                "--storage-driver",
                                "vfs"};
  v.insert(v.end(), args.begin(), args.end());
  return run_ok(v);
}

std::string BuildahCli::container(const std::string& from) const {
  auto c = (*this)({"from", "--quiet", "--tls-verify=false", from}).out;
  return c.substr(0, c.find_last_not_of("\n ") + 1);
}

void BuildahCli::build_outbox(const std::filesystem::path& dir, const std::string& registry,
                              const std::string& tag) const {
  run_ok({"env",
          "--chdir=" + dir.string(),
          "buildah",
          "--root",
          (work / "buildah-root").string(),
          "--runroot",
          (work / "buildah-run").string(),
          "--storage-driver",
          "vfs",
          "bud",
          "--quiet",
          "--runtime",
          "runc",
          "--network",
          "none",
          "--tls-verify=false",
          "--layers=false",
          "-f",
          "Containerfile",
          "-t",
          tag,
          "--build-arg",
          "REGISTRY=" + registry,
          "."});
}

heal::ImageFiles image_in_memory(std::map<std::string, std::string> contents) {
  std::map<std::string, scan::FinalFile> files;
  for (const auto& [path, data] : contents)
    files[path] = scan::FinalFile{0, scan::LayerFile{path, 'f', data.size(), ""}};
  return heal::ImageFiles(files,
                          [contents](const std::string& path, const scan::FinalFile&,
                                     std::uint64_t cap) -> Result<std::string> {
                            const auto& data = contents.at(path);
                            if (data.size() > cap)
                              return make_error(Errc::too_large, path + " is too large");
                            return data;
                          });
}

}  // namespace airheal::test
