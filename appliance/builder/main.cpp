// airheal-builder: the one airheal process that runs buildah and runc. It has no network listener;
// airheald sends it build requests over a Unix socket (heal.builder_socket), and it checks each on
// its own before running anything.
//
//   airheal-builder --state-dir DIR --socket PATH [--allow-uid UID]... [--build-user USER]
//                   [--runtime runc]
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "builder/server.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

// The subordinate ids FILE (/etc/subuid or /etc/subgid) gives NAME or ID: how many in all.
unsigned long subordinate_ids(const char* file, const std::string& name, unsigned long id) {
  std::ifstream in(file);
  std::string line;
  unsigned long total = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string owner, start, count;
    if (!std::getline(fields, owner, ':') || !std::getline(fields, start, ':') ||
        !std::getline(fields, count))
      continue;
    if (owner != name && owner != std::to_string(id)) continue;
    try {
      total += std::stoul(count);
    } catch (const std::exception&) {
    }
  }
  return total;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"airheal-builder: runs airheald's image builds (buildah, --network none)"};
  std::string state_dir, socket, storage_dir, runtime = "runc", buildah = "buildah";
  std::vector<std::string> allow;
  std::string socket_group, build_user;
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
  app.add_option("--build-user", build_user,
                 "rootless builds: buildah, runc and the build containers run as this user, in a "
                 "user namespace of the subordinate ids /etc/subuid and /etc/subgid give it (at "
                 "least 65536 of each); its storage is the storage folder's rootless/");
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
  if (!build_user.empty()) {
    auto* pw = build_user.find_first_not_of("0123456789") == std::string::npos
                   ? ::getpwuid(static_cast<uid_t>(std::stoul(build_user)))
                   : ::getpwnam(build_user.c_str());
    if (!pw || pw->pw_uid == 0) {
      std::cerr << "airheal-builder: no build user " << build_user << (pw ? " other than root" : "")
                << "\n";
      return 2;
    }
    std::string name = pw->pw_name;
    airheal::ProcessOptions::Identity user{pw->pw_uid, pw->pw_gid, {}};
    int n = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    if (::getgrouplist(name.c_str(), pw->pw_gid, groups.data(), &n) < 0) {
      groups.resize(static_cast<std::size_t>(n));
      ::getgrouplist(name.c_str(), pw->pw_gid, groups.data(), &n);
    }
    groups.resize(static_cast<std::size_t>(std::max(n, 0)));
    user.groups = groups;
    for (const auto* file : {"/etc/subuid", "/etc/subgid"})
      if (subordinate_ids(file, name, pw->pw_uid) < 65536) {
        std::cerr << "airheal-builder: the build user " << name
                  << " has fewer than 65536 subordinate ids in " << file
                  << " (usermod --add-subuids/--add-subgids; the packages give it a range)\n";
        return 2;
      }
    o.buildah.build_user = user;
    // Where a check's memory bound goes (made before any thread: on cgroup v2 this process
    // moves into a leaf of its cgroup).
    auto space = airheal::cgroup::prepare();
    if (space)
      o.buildah.memory = *space;
    else
      o.buildah.memory_error = space.error().message;
    airheal::heal::BuildahBuilder storage(o.buildah);
    if (auto s = storage.prepare_rootless(); !s) {
      std::cerr << "airheal-builder: " << s.error().message << "\n";
      return 2;
    }
    std::cerr << "airheal-builder: rootless builds as " << name << " (uid " << user.uid
              << "); check memory bounds "
              << (space ? "in cgroups under " + space->base.string()
                        : "rootful (" + o.buildah.memory_error + ")")
              << std::endl;
  } else if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    // Rootful, nothing the builder runs gains privileges through exec (set-user-ID files, file
    // capabilities): it runs as root already, and buildah, runc and the images' package managers
    // need no more. (Rootless buildah needs newuidmap and newgidmap, which are set-user-ID.)
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
