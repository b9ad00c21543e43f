#include "core/subprocess.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cstring>
#include <future>
#include <stdexcept>

namespace airheal {

namespace bp = boost::process;

namespace {

// Only async-signal-safe calls between fork and exec.
[[noreturn]] void fail_in_child(const char* what) {
  auto n = std::char_traits<char>::length(what);
  (void)!::write(2, what, n);
  ::_exit(127);
}

// In the child before exec: its own process group (so a timeout reaches everything it started),
// and SIGTERM when the thread that started it dies (a killed daemon leaves no build running:
// buildah forwards the signal to its container). Then the cgroup it joins and the user it
// becomes, if asked: both or the child does not run at all.
struct ChildSetup : bp::extend::handler {
  int cgroup_fd = -1;
  const ProcessOptions::Identity* as = nullptr;
  template <class Executor>
  void on_exec_setup(Executor&) const {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (cgroup_fd >= 0) {
      char digits[24];
      char* p = digits + sizeof digits;
      for (auto pid = static_cast<unsigned long>(::getpid()); p == digits + sizeof digits || pid;
           pid /= 10)
        *--p = static_cast<char>('0' + pid % 10);
      if (::write(cgroup_fd, p, static_cast<std::size_t>(digits + sizeof digits - p)) < 0)
        fail_in_child("cannot join the cgroup it was to run in\n");
    }
    if (as) {
      if (::setgroups(as->groups.size(), as->groups.data()) != 0 ||
          ::setresgid(as->gid, as->gid, as->gid) != 0 ||
          ::setresuid(as->uid, as->uid, as->uid) != 0)
        fail_in_child("cannot become the user it was to run as\n");
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a change of credentials clears it
    }
  }
};

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) throw std::invalid_argument("run_process: empty argument vector");
  boost::filesystem::path exe = argv[0];
  if (argv[0].find('/') == std::string::npos) {
    exe = bp::search_path(argv[0]);
    if (exe.empty()) throw std::runtime_error("program not found in PATH: " + argv[0]);
  }
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  boost::asio::io_context ios;
  std::future<std::string> out, err;
  bp::async_pipe in_pipe(ios);
  auto env = boost::this_process::environment();
  bp::environment child_env = env;
  for (const auto& [k, v] : options.env_overrides) child_env[k] = v;
  boost::filesystem::path cwd = options.cwd.empty() ? boost::filesystem::current_path()
                                                    : boost::filesystem::path(options.cwd.string());
  ChildSetup setup;
  int cgroup_fd = -1;
  if (!options.cgroup_procs.empty()) {
    cgroup_fd = ::open(options.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (cgroup_fd < 0)
      throw std::runtime_error("cannot open " + options.cgroup_procs.string() + ": " +
                               std::strerror(errno));
    setup.cgroup_fd = cgroup_fd;
  }
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd >= 0) ::close(fd);
    }
  } close_cgroup{cgroup_fd};
  if (options.as_user) setup.as = &*options.as_user;
  bp::child child(exe, bp::args(args), bp::std_out > out, bp::std_err > err, bp::std_in < in_pipe,
                  child_env, bp::start_dir(cwd), ios, setup);
  std::string input = options.input.value_or("");
  if (!input.empty()) {
    boost::asio::async_write(
        in_pipe, boost::asio::buffer(input),
        [&](const boost::system::error_code&, std::size_t) { in_pipe.close(); });
  } else {
    in_pipe.close();
  }
  ProcessResult r;
  if (!options.cancel) {
    ios.run_for(options.timeout);
  } else {  // in slices, watching the cancel flag
    auto until = std::chrono::steady_clock::now() + options.timeout;
    while (!ios.stopped() && std::chrono::steady_clock::now() < until) {
      if (options.cancel->load()) {
        r.cancelled = true;
        break;
      }
      ios.run_for(std::chrono::milliseconds(100));
    }
  }
  if (!ios.stopped()) {
    r.timed_out = !r.cancelled;
    // SIGTERM to the whole group first (buildah stops its container on it), SIGKILL after a grace.
    ::kill(-child.id(), SIGTERM);
    ios.restart();
    ios.run_for(std::chrono::seconds(5));
    if (!ios.stopped()) {
      ::kill(-child.id(), SIGKILL);
      std::error_code ec;
      child.terminate(ec);
      ios.restart();
      ios.run_for(std::chrono::seconds(5));
    }
  }
  child.wait();
  r.exit_code = r.timed_out || r.cancelled ? -1 : child.exit_code();
  if (out.wait_for(std::chrono::seconds(0)) == std::future_status::ready) r.out = out.get();
  if (err.wait_for(std::chrono::seconds(0)) == std::future_status::ready) r.err = err.get();
  return r;
}

}  // namespace airheal
