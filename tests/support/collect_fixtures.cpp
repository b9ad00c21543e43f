#include "support/collect_fixtures.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/fs.hpp"

extern char** environ;

namespace airheal::test {

namespace fsys = std::filesystem;

StaticServer::StaticServer(const fsys::path& dir,
                           const std::map<std::string, std::uint64_t>& drops) {
  std::vector<std::string> args = {"/usr/bin/python3",
                                   (source_dir() / "tests/support/static_http_server.py").string(),
                                   dir.string()};
  for (const auto& [path, n] : drops) {
    args.push_back("--drop");
    args.push_back(path + ":" + std::to_string(n));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto out = tmp_ / "port", err = tmp_ / "requests";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start static_http_server.py");
  for (int i = 0; i < 500; ++i) {
    std::ifstream f(out);
    std::string line;
    if (f && std::getline(f, line) && !line.empty()) {
      port_ = static_cast<std::uint16_t>(std::stoi(line));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("static_http_server.py did not start: " + requests());
}

StaticServer::~StaticServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::string StaticServer::requests() const {
  std::ifstream f(tmp_ / "requests");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void build_apt_repository(const fsys::path& dir, const std::vector<fsys::path>& debs,
                          const Signer* signer, const AptRepoOptions& o) {
  auto pool = dir / "pool" / "main";
  auto dists = dir / "dists" / o.suite;
  auto bin = dists / "main" / "binary-amd64";
  fsys::create_directories(pool);
  fsys::create_directories(bin);
  for (const auto& d : debs)
    fsys::copy_file(d, pool / d.filename(), fsys::copy_options::overwrite_existing);
  auto packages = run_ok({"env", "-C", dir.string(), "apt-ftparchive", "packages", "pool"}).out;
  (void)fs::write_file_atomic(bin / "Packages", packages);
  run_ok({"xz", "-k", "-f", (bin / "Packages").string()});
  run_ok({"gzip", "-k", "-f", "-n", (bin / "Packages").string()});
  auto release = run_ok({"env", "-C", dists.string(), "apt-ftparchive", "-o",
                         "APT::FTPArchive::Release::Suite=" + o.suite, "-o",
                         "APT::FTPArchive::Release::Codename=" + o.codename, "-o",
                         "APT::FTPArchive::Release::Architectures=amd64", "-o",
                         "APT::FTPArchive::Release::Components=main", "release", "."})
                     .out;
  if (!o.valid_until.empty()) {
    auto p = release.find("\nMD5Sum:");
    release.insert(p + 1, "Valid-Until: " + o.valid_until + "\n");
  }
  (void)fs::write_file_atomic(dists / "Release", release);
  if (!signer) return;
  const std::vector<std::string> gpg = {"gpg",   "--homedir",    signer->home().string(), "--batch",
                                        "--yes", "--local-user", signer->fingerprint()};
  if (o.inrelease)
    run_ok(concat(gpg, {"--clearsign", "--output", (dists / "InRelease").string(),
                        (dists / "Release").string()}));
  if (o.detached)
    run_ok(concat(gpg, {"--armor", "--detach-sign", "--output", (dists / "Release.gpg").string(),
                        (dists / "Release").string()}));
}

}  // namespace airheal::test
