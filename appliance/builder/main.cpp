// airheal-builder: the one airheal process that runs buildah and runc. It has no network listener;
// airheald sends it build requests over a Unix socket (heal.builder_socket), and it checks each on
// its own before running anything.
//
//   airheal-builder --state-dir DIR --socket PATH [--allow-uid UID]... [--runtime runc]
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "builder/server.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"airheal-builder: runs airheald's image builds (buildah, --network none)"};
  std::string state_dir, socket, storage_dir, runtime = "runc", buildah = "buildah";
  std::vector<std::string> allow;
  std::string socket_group;
  unsigned step_timeout = 900;
  app.add_option("--state-dir", state_dir, "airheald's state folder (builds only in its heal/)")
      ->required();
  app.add_option("--socket", socket, "the Unix socket to listen on")->required();
  app.add_option("--storage-dir", storage_dir,
                 "buildah's storage (default: the state folder's heal/buildah); the packaged unit "
                 "keeps it in the builder's own /var/lib/airheal-builder");
  app.add_option("--allow-uid", allow,
                 "a user (name or uid) whose requests are served (default: the state folder's "
                 "owner)");
  app.add_option("--socket-group", socket_group,
                 "the group (name or gid) the socket belongs to, mode 0660: airheald's group");
  app.add_option("--runtime", runtime, "OCI runtime for buildah (runc)");
  app.add_option("--buildah", buildah, "the buildah program");
  app.add_option("--step-timeout", step_timeout, "seconds any one buildah step may take");
  CLI11_PARSE(app, argc, argv);

  namespace fsys = std::filesystem;
  airheal::builder::ServerOptions o;
  o.socket = socket;
  auto state = fsys::absolute(state_dir).lexically_normal();
  o.policy.work_root = state / "heal";
  o.policy.blobs_root = state / "blobs" / "sha256";
  o.buildah.buildah = buildah;
  o.buildah.runtime = runtime;
  o.buildah.storage = storage_dir.empty() ? state / "heal" / "buildah"
                                          : fsys::absolute(storage_dir).lexically_normal();
  o.buildah.step_timeout = std::chrono::seconds(step_timeout);
  for (const auto& a : allow) {
    if (!a.empty() && a.find_first_not_of("0123456789") == std::string::npos) {
      o.allowed_uids.insert(static_cast<uid_t>(std::stoul(a)));
    } else if (auto* pw = ::getpwnam(a.c_str())) {
      o.allowed_uids.insert(pw->pw_uid);
    } else {
      std::cerr << "airheal-builder: no user " << a << "\n";
      return 2;
    }
  }
  if (!socket_group.empty()) {
    if (socket_group.find_first_not_of("0123456789") == std::string::npos) {
      o.socket_group = static_cast<gid_t>(std::stoul(socket_group));
    } else if (auto* gr = ::getgrnam(socket_group.c_str())) {
      o.socket_group = gr->gr_gid;
    } else {
      std::cerr << "airheal-builder: no group " << socket_group << "\n";
      return 2;
    }
  }
  struct stat st {};
  if (::stat(state.c_str(), &st) != 0) {
    std::cerr << "airheal-builder: no state folder " << state << "\n";
    return 2;
  }
  if (o.allowed_uids.empty()) o.allowed_uids.insert(st.st_uid);
  // The work folders' parent is airheald's (it makes a folder per heal there): made here, it
  // goes to the state folder's owner.
  std::error_code ec;
  if (fsys::create_directories(o.policy.work_root, ec) &&
      ::chown(o.policy.work_root.c_str(), st.st_uid, st.st_gid) != 0) {
    std::cerr << "airheal-builder: cannot give " << o.policy.work_root << " to uid " << st.st_uid
              << "\n";
    return 2;
  }
  o.log = [](const std::string& m) { std::cerr << "airheal-builder: " << m << std::endl; };
  // Nothing the builder runs gains privileges through exec (set-user-ID files, file capabilities):
  // it runs as root already, and buildah, runc and the images' package managers need no more.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    std::cerr << "airheal-builder: cannot set no_new_privs\n";
    return 2;
  }
  airheal::builder::Server server(o);
  if (auto s = server.listen(); !s) {
    std::cerr << "airheal-builder: " << s.error().message << "\n";
    return 1;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  std::cerr << "airheal-builder: listening on " << socket << " for uid(s)";
  for (auto u : o.allowed_uids) std::cerr << " " << u;
  std::cerr << "; builds only under " << o.policy.work_root << std::endl;
  server.serve(g_stop);
  return 0;
}
