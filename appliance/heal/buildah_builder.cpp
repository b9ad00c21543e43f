#include "heal/buildah_builder.hpp"

#include <cstdio>
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
  Buildah(const BuildahOptions& o, fsys::path dir, std::string& log, Failure* failure = nullptr,
          const std::atomic<bool>* cancel = nullptr)
      : o_(o), dir_(std::move(dir)), log_(log), failure_(failure), cancel_(cancel) {}
  void stop_watching_cancel() { cancel_ = nullptr; }  // cleanup runs whatever happened
  Result<std::string> operator()(const std::vector<std::string>& args,
                                 std::optional<std::chrono::milliseconds> timeout = {},
                                 bool* timed_out = nullptr) {
    std::vector<std::string> argv = {o_.buildah,
                                     "--root",
                                     (o_.storage / "root").string(),
                                     "--runroot",
                                     (o_.storage / "run").string(),
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
    log_ +=
        "$ buildah " + cmd + "(" + took + " s)\n" + tail(r.out, 4u << 20) + tail(r.err, 4u << 20);
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
                                                             const std::string& runtime) {
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> from = {"from", "--pull-never", "--name", r.name};
  if (r.memory)
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
  Buildah buildah(options_, request.work, log, failure, request.cancel);
  auto commands = buildah_layer_commands(request, options_.runtime);
  RemoveContainer remove{buildah, request.name};
  if (auto r = buildah(commands.front()); !r) return r.error();
  for (std::size_t i = 1; i < commands.size(); ++i)
    if (auto r = buildah(commands[i]); !r) return r.error();
  return read_added_layer(request.work / request.out, request.base_layers);
}

Result<std::vector<CheckOutcome>> BuildahBuilder::check(const CheckRequest& request,
                                                        std::string& log) {
  Buildah buildah(options_, request.work, log, nullptr, request.cancel);
  auto commands = buildah_check_commands(request, options_.runtime);
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
  if (!fsys::exists(options_.storage / "root")) return;  // nothing was ever built
  Buildah buildah(options_, options_.storage, log);
  (void)buildah({"rm", "--all"});
  (void)buildah({"rmi", "--prune"});
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
