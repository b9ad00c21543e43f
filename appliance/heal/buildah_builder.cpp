#include "heal/buildah_builder.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "core/subprocess.hpp"

namespace airheal::heal {
namespace fsys = std::filesystem;

namespace {

std::string tail(const std::string& s, std::size_t n) {
  return s.substr(s.size() > n ? s.size() - n : 0);
}

// The last N non-empty lines of S, without buildah's own "Error: while running runtime" echo.
std::string last_lines(const std::string& s, std::size_t n) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto eol = s.find('\n', pos);
    auto line = s.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? s.size() : eol + 1;
    if (line.empty() || line.rfind("Error: while running runtime:", 0) == 0) continue;
    lines.push_back(line);
  }
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
    out += (out.empty() ? "" : "\n") + lines[i];
  return out;
}

// buildah against the one storage, run from DIR so that relative oci: paths name images in
// lowercase whatever the state folder is called. Each command, its duration and the tail of its
// output go to the heal's log.
class Buildah {
 public:
  // ROOTLESS: as the build user, in its own storage (BuildahOptions::build_user).
  Buildah(const BuildahOptions& o, fsys::path dir, std::string& log, Failure* failure = nullptr,
          const std::atomic<bool>* cancel = nullptr, bool rootless = false)
      : o_(o),
        dir_(std::move(dir)),
        log_(log),
        failure_(failure),
        cancel_(cancel),
        rootless_(rootless && o.build_user),
        storage_(rootless_ ? o.storage / "rootless" : o.storage) {}
  void stop_watching_cancel() { cancel_ = nullptr; }  // cleanup runs whatever happened
  // The cgroup every later `run` step joins (a check's memory bound when rootless).
  void run_in_cgroup(fsys::path procs) { cgroup_procs_ = std::move(procs); }
  Result<std::string> operator()(const std::vector<std::string>& args,
                                 std::optional<std::chrono::milliseconds> timeout = {},
                                 bool* timed_out = nullptr) {
    std::vector<std::string> argv = {o_.buildah,
                                     "--root",
                                     (storage_ / "root").string(),
                                     "--runroot",
                                     (storage_ / "run").string(),
                                     "--storage-driver",
                                     "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    ProcessOptions po;
    po.timeout =
        timeout && timeout->count() > 0 ? *timeout : std::chrono::milliseconds(o_.step_timeout);
    po.cwd = dir_;
    po.cancel = cancel_;
    std::string who;
    if (rootless_) {
      po.as_user = *o_.build_user;
      // Its own home, runtime and temporary folders: nothing of root's environment is reachable.
      po.env_overrides = {{"HOME", (storage_ / "home").string()},
                          {"XDG_RUNTIME_DIR", (storage_ / "xdg").string()},
                          {"XDG_CONFIG_HOME", (storage_ / "home" / ".config").string()},
                          {"XDG_DATA_HOME", (storage_ / "home" / ".local" / "share").string()},
                          {"TMPDIR", (storage_ / "tmp").string()}};
      who = "[rootless, uid " + std::to_string(o_.build_user->uid) + "] ";
    }
    if (args[0] == "run") po.cgroup_procs = cgroup_procs_;
    ProcessResult r;
    auto t0 = std::chrono::steady_clock::now();
    try {
      r = run_process(argv, po);
    } catch (const std::exception& e) {
      return make_error(Errc::io_error, std::string("cannot run buildah: ") + e.what());
    }
    char took[32];
    std::snprintf(took, sizeof took, "%.1f",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    // The whole output goes to the heal's log (each stream bounded at 4 MiB, keeping its end).
    log_ += "$ buildah " + who + cmd + "(" + took + " s)\n" + tail(r.out, 4u << 20) +
            tail(r.err, 4u << 20);
    if (!log_.ends_with("\n")) log_ += "\n";
    if (timed_out) *timed_out = r.timed_out;
    if (r.cancelled) return make_error(Errc::io_error, "buildah " + args[0] + " was cancelled");
    if (r.timed_out || r.exit_code != 0) {
      auto f = classify_output(r.out + r.err, r.timed_out);
      if (failure_) *failure_ = f;
      if (r.timed_out)
        return make_error(
            Errc::io_error,
            "buildah " + args[0] + " timed out after " +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::seconds>(po.timeout).count()) +
                " s");
      return make_error(
          Errc::io_error,
          "buildah " + args[0] + " failed (exit " + std::to_string(r.exit_code) + "): " +
              (f.lines.empty() ? last_lines(r.err.empty() ? r.out : r.err, 12) : f.summary()));
    }
    return r.out;
  }

 private:
  const BuildahOptions& o_;
  fsys::path dir_;
  std::string& log_;
  Failure* failure_;
  const std::atomic<bool>* cancel_;
  bool rootless_;
  fsys::path storage_;
  fsys::path cgroup_procs_;
};

// The container goes, and with it images the shared storage no longer needs, however the build
// ended.
struct RemoveContainer {
  Buildah& b;
  std::string name;
  ~RemoveContainer() {
    b.stop_watching_cancel();
    (void)b({"rm", name});
    (void)b({"rmi", "--prune"});
  }
};

std::vector<std::string> run_prefix(const std::string& runtime, const std::string& name,
                                    const std::vector<std::string>& env,
                                    const std::vector<BuildMount>& mounts) {
  std::vector<std::string> run = {"run", "--runtime", runtime, "--network", "none"};
  for (const auto& e : env) run.insert(run.end(), {"-e", e});
  for (const auto& m : mounts)
    run.insert(run.end(),
               {"--volume", m.host.string() + ":" + m.target + (m.read_only ? ":ro" : "")});
  run.insert(run.end(), {name, "--"});
  return run;
}

}  // namespace

std::vector<std::vector<std::string>> buildah_layer_commands(const LayerRequest& r,
                                                             const std::string& runtime) {
  std::vector<std::vector<std::string>> out;
  out.push_back({"from", "--pull-never", "--name", r.name, "oci:" + r.in + ":" + r.image});
  for (const auto& c : r.copies) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(c.mode & 07777));
    out.push_back({"copy", "--chmod", mode, r.name, c.source.string(), c.target});
  }
  auto prefix = run_prefix(runtime, r.name, r.env, r.mounts);
  for (const auto& cmd : r.commands) {
    auto v = prefix;
    v.insert(v.end(), cmd.begin(), cmd.end());
    out.push_back(std::move(v));
  }
  out.push_back({"commit", "--quiet", "--disable-compression=false", "--format", "oci", r.name,
                 "oci:" + r.out + ":healed"});
  return out;
}

std::vector<std::vector<std::string>> buildah_check_commands(const CheckRequest& r,
                                                             const std::string& runtime,
                                                             bool memory_flags) {
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> from = {"from", "--pull-never", "--name", r.name};
  if (r.memory && memory_flags)
    for (auto flag : {"--memory", "--memory-swap"})
      from.insert(from.end(), {flag, std::to_string(r.memory)});
  from.push_back("oci:" + r.in + ":" + r.image);
  out.push_back(std::move(from));
  auto prefix = run_prefix(runtime, r.name, r.env, {});
  for (const auto& run : r.runs) {
    auto v = prefix;
    v.insert(v.end(), run.argv.begin(), run.argv.end());
    out.push_back(std::move(v));
  }
  return out;
}

Result<LayerBlob> BuildahBuilder::add_layer(const LayerRequest& request, std::string& log,
                                            Failure* failure) {
  Buildah buildah(options_, request.work, log, failure, request.cancel, true);
  auto commands = buildah_layer_commands(request, options_.runtime);
  RemoveContainer remove{buildah, request.name};
  if (auto r = buildah(commands.front()); !r) return r.error();
  for (std::size_t i = 1; i < commands.size(); ++i)
    if (auto r = buildah(commands[i]); !r) return r.error();
  return read_added_layer(request.work / request.out, request.base_layers);
}

Result<std::vector<CheckOutcome>> BuildahBuilder::check(const CheckRequest& request,
                                                        std::string& log) {
  // Rootless, the memory bound is a cgroup made here that the check's buildah, runc and container
  // join (an unprivileged runc cannot make one). Without one the checks do not run: a bound is
  // never dropped, and a check never falls back to rootful.
  std::optional<cgroup::Memory> bound;
  if (options_.build_user && request.memory) {
    auto why = options_.memory_error;
    if (options_.memory) {
      auto made = cgroup::Memory::create(*options_.memory, request.name, request.memory);
      if (made)
        bound.emplace(std::move(*made));
      else
        why = made.error().message;
    }
    if (!bound)
      return make_error(Errc::unsupported,
                        "the checks' memory bound (heal.smoke_memory_bytes) needs a memory cgroup "
                        "airheal-builder can make, and " +
                            why + " (systemd: Delegate=memory; or smoke_memory_bytes: 0)");
    log += "# memory bound: the cgroup " + bound->dir().string() + ", " +
           std::to_string(request.memory) + " bytes (buildah, runc and the container)\n";
  }
  Buildah buildah(options_, request.work, log, nullptr, request.cancel, true);
  if (bound) buildah.run_in_cgroup(bound->procs());
  auto commands = buildah_check_commands(request, options_.runtime, !bound);
  RemoveContainer remove{buildah, request.name};
  if (auto r = buildah(commands.front()); !r) return r.error();
  std::vector<CheckOutcome> out;
  for (std::size_t i = 0; i < request.runs.size(); ++i) {
    CheckOutcome o;
    auto r = buildah(commands[i + 1], request.runs[i].timeout, &o.timed_out);
    o.passed = static_cast<bool>(r);
    if (!r) o.failure = r.error().message;
    out.push_back(std::move(o));
  }
  return out;
}

void BuildahBuilder::reset() {
  std::string log;
  for (bool rootless : {false, true}) {
    if (rootless && !options_.build_user) continue;
    auto storage = rootless ? options_.storage / "rootless" : options_.storage;
    if (!fsys::exists(storage / "root")) continue;  // nothing was ever built there
    Buildah buildah(options_, storage, log, nullptr, nullptr, rootless);
    (void)buildah({"rm", "--all"});
    (void)buildah({"rmi", "--prune"});
  }
}

Status BuildahBuilder::prepare_rootless() {
  if (!options_.build_user) return {};
  const auto& user = *options_.build_user;
  auto fail = [](const std::string& what, const fsys::path& p, int e) {
    return make_error(Errc::io_error, what + " " + p.string() + ": " + std::strerror(e));
  };
  std::error_code ec;
  fsys::create_directories(options_.storage, ec);
  if (ec) return make_error(Errc::io_error, "cannot make " + options_.storage.string());
  // The storage folder stays root's; the build user may pass through it to its own folder only.
  struct stat st {};
  if (::lstat(options_.storage.c_str(), &st) != 0)
    return fail("cannot stat", options_.storage, errno);
  if (!S_ISDIR(st.st_mode)) return fail("not a folder:", options_.storage, ENOTDIR);
  if ((st.st_mode & 0011) != 0011 &&
      ::chmod(options_.storage.c_str(), (st.st_mode & 07777) | 0711) != 0)
    return fail("cannot open for the build user", options_.storage, errno);
  auto own = options_.storage / "rootless";
  // A rootless storage of another user (the build user changed) is a cache: it goes.
  if (::lstat(own.c_str(), &st) == 0 && (!S_ISDIR(st.st_mode) || st.st_uid != user.uid)) {
    fsys::remove_all(own, ec);
    if (ec)
      return make_error(Errc::io_error, "cannot remove " + own.string() + ": " + ec.message());
  }
  for (const char* sub : {"", "root", "run", "home", "xdg", "tmp"}) {
    auto dir = *sub ? own / sub : own;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail("cannot make", dir, errno);
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return fail("not a folder:", dir, ENOTDIR);
    if ((st.st_uid != user.uid || st.st_gid != user.gid) &&
        ::chown(dir.c_str(), user.uid, user.gid) != 0)
      return fail("cannot give to the build user", dir, errno);
    if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0)
      return fail("cannot chmod", dir, errno);
  }
  return {};
}

std::map<std::string, std::string> BuildahBuilder::tool_versions() {
  std::map<std::string, std::string> versions;
  for (const auto& [name, argv0] :
       {std::pair<std::string, std::string>{"buildah", options_.buildah},
        std::pair<std::string, std::string>{"runc", options_.runtime}}) {
    try {
      ProcessOptions po;
      po.timeout = std::chrono::seconds(20);
      auto r = run_process({argv0, "--version"}, po);
      auto line = r.out.substr(0, r.out.find('\n'));
      if (r.exit_code == 0 && !line.empty()) versions[name] = line;
    } catch (const std::exception&) {
    }
  }
  return versions;
}

}  // namespace airheal::heal
