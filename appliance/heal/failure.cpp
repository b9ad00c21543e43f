#include "heal/failure.hpp"

#include <vector>

namespace airheal::heal {
namespace {

bool has(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}
bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

constexpr std::size_t kMaxLines = 4096;

}  // namespace

const char* to_string(FailureClass c) {
  switch (c) {
    case FailureClass::none:
      return "";
    case FailureClass::dependency_problem:
      return "dependency problem";
    case FailureClass::maintainer_script_failed:
      return "maintainer script failed";
    case FailureClass::no_space:
      return "no space";
    case FailureClass::timeout:
      return "timeout";
    case FailureClass::test_failed:
      return "test failed";
    case FailureClass::smoke_test_failed:
      return "smoke test failed";
    case FailureClass::build_failed:
      return "build failed";
  }
  return "";
}

const char* to_slug(FailureClass c) {
  switch (c) {
    case FailureClass::none:
      return "";
    case FailureClass::dependency_problem:
      return "dependency-problem";
    case FailureClass::maintainer_script_failed:
      return "maintainer-script-failed";
    case FailureClass::no_space:
      return "no-space";
    case FailureClass::timeout:
      return "timeout";
    case FailureClass::test_failed:
      return "test-failed";
    case FailureClass::smoke_test_failed:
      return "smoke-test-failed";
    case FailureClass::build_failed:
      return "build-failed";
  }
  return "";
}

FailureClass failure_class_from_slug(std::string_view s) {
  for (auto c : {FailureClass::dependency_problem, FailureClass::maintainer_script_failed,
                 FailureClass::no_space, FailureClass::timeout, FailureClass::test_failed,
                 FailureClass::smoke_test_failed, FailureClass::build_failed})
    if (s == to_slug(c)) return c;
  return FailureClass::none;
}

std::string Failure::summary() const {
  std::string one;
  for (char c : lines) one += c == '\n' ? ' ' : c;
  while (one.find("  ") != std::string::npos) one.erase(one.find("  "), 1);
  while (!one.empty() && one.back() == ' ') one.pop_back();
  std::string head = to_string(cls);
  return one.empty() ? head : head + ": " + one;
}

Failure classify_output(std::string_view output, bool timed_out) {
  // Lines of the paragraphs package managers use for errors: dpkg's "dpkg: ..." messages with
  // their indented continuation lines, "Errors were encountered while processing:" and the list
  // after it, apt's "E: ..." lines and its unmet-dependency list, apk's "ERROR: ..." lines and
  // rpm/dnf's "error: ..." lines and problem lists.
  std::vector<std::string_view> kept;
  bool in_paragraph = false;
  std::size_t pos = 0;
  while (pos < output.size()) {
    auto eol = output.find('\n', pos);
    auto line =
        output.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? output.size() : eol + 1;
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool indented = !line.empty() && (line.front() == ' ' || line.front() == '\t');
    bool opener = (starts(line, "dpkg: ") && !starts(line, "dpkg: warning")) ||
                  starts(line, "dpkg-deb: error") ||
                  starts(line, "Errors were encountered while processing:") ||
                  starts(line, "E: ") ||
                  starts(line, "The following packages have unmet dependencies:") ||
                  starts(line, "ERROR: ") || starts(line, "error: ") || starts(line, "Error: ") ||
                  starts(line, "Problem: ") || starts(line, " Problem ") ||
                  has(line, "No space left on device");
    if (starts(line, "Error: while running runtime:"))
      opener = false;  // buildah's own echo of the exit status
    if (opener) {
      kept.push_back(line);
      in_paragraph = true;
    } else if (in_paragraph && indented) {
      kept.push_back(line);
    } else {
      in_paragraph = false;
    }
  }
  std::string lines;
  for (const auto& l : kept) {
    if (lines.size() + l.size() + 1 > kMaxLines) {
      lines += "...\n";
      break;
    }
    lines += l;
    lines += '\n';
  }
  while (!lines.empty() && lines.back() == '\n') lines.pop_back();
  Failure f;
  f.lines = lines;
  if (timed_out)
    f.cls = FailureClass::timeout;
  else if (has(output, "No space left on device") || has(output, "ENOSPC") ||
           has(output, "not enough free space"))
    f.cls = FailureClass::no_space;
  else if (has(output, "script subprocess returned error exit status") ||
           has(output, "scriptlet failed") ||
           has(output, ".post-install: script exited with error") ||
           has(output, ".pre-install: script exited with error"))
    f.cls = FailureClass::maintainer_script_failed;
  else if (has(output, "pre-dependency problem") || has(output, "dependency problems") ||
           has(output, "unmet dependencies") || has(output, "Unable to correct problems") ||
           has(output, "held broken packages") || has(output, "Held packages were changed") ||
           has(output, "unable to select packages") || has(output, "is needed by") ||
           has(output, "conflicts with") || has(output, "nothing provides"))
    f.cls = FailureClass::dependency_problem;
  else
    f.cls = FailureClass::build_failed;
  return f;
}

}  // namespace airheal::heal
