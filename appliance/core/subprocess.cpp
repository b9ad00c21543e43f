#include "core/subprocess.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <future>
#include <stdexcept>

namespace airheal {

namespace bp = boost::process;

namespace {

// In the child before exec: its own process group (so a timeout reaches everything it started),
// and SIGTERM when the thread that started it dies (a killed daemon leaves no build running:
// buildah forwards the signal to its container).
struct ChildSetup : bp::extend::handler {
  template <class Executor>
  void on_exec_setup(Executor&) const {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
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
  bp::child child(exe, bp::args(args), bp::std_out > out, bp::std_err > err, bp::std_in < in_pipe,
                  child_env, bp::start_dir(cwd), ios, ChildSetup{});
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
