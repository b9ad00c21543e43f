// Why a heal failed, in the package manager's own words: the error paragraphs dpkg, apt, apk and
// rpm print, picked out of a build's whole output and classified, so that `heal show`, the API,
// the dashboard and webhooks say what failed instead of the last bytes of the output (which are
// usually debconf or trigger noise). The whole output stays in the heal's log.
#pragma once

#include <string>
#include <string_view>

namespace airheal::heal {

enum class FailureClass {
  none,
  dependency_problem,        // unmet (pre-)dependencies, conflicts, held packages
  maintainer_script_failed,  // preinst/postinst/prerm/postrm (or an rpm scriptlet) exited non-zero
  no_space,                  // ENOSPC while unpacking or writing the image
  timeout,                   // a step ran past heal.step_timeout
  test_failed,               // the image's own test command
  smoke_test_failed,         // the entrypoint did not start and stay up
  build_failed,              // anything else that stopped the build
};

const char* to_string(FailureClass c);  // "dependency problem", ...
const char* to_slug(FailureClass c);    // "dependency-problem", ... (API, webhooks)
FailureClass failure_class_from_slug(std::string_view s);  // none when unknown

struct Failure {
  FailureClass cls = FailureClass::none;
  std::string lines;  // the package manager's error lines, at most ~4 KiB, newline-separated
  // "dependency problem: dpkg: regarding ... pre-dependency problem: ..." on one line.
  std::string summary() const;
};

// The error paragraphs of OUTPUT (a build step's stdout and stderr) and their class. TIMED_OUT
// makes the class a timeout whatever was printed.
Failure classify_output(std::string_view output, bool timed_out = false);

}  // namespace airheal::heal
