// Which imported Debian builds a heal installs, decided before anything is built, the way apt
// would decide it: each source package with findings is upgraded with every installed binary built
// from it; whatever those builds need (Depends, Pre-Depends) at a version the image does not have
// is taken from the imported pool when it is there; installed packages that the upgrades would
// break (a Depends on the old version, a Breaks or Conflicts) are upgraded from the pool too.
// When something is missing, the source whose fix needed it is deferred with a reason that names
// the missing build exactly; the other sources are healed without it. Pure: no I/O.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "heal/deb/control.hpp"

namespace airheal::heal::deb {

// A source package with findings: its fixed builds must reach at least FIXED (a source version).
struct SourceRequest {
  std::string source, fixed;
  std::set<std::string> ids;  // advisory ids the upgrade removes
};

// One package the heal installs: POOL indexes the caller's pool.
struct Choice {
  std::size_t pool = 0;
  std::string origin;     // the requested source this is installed for
  std::string needed_by;  // empty for the fixed builds themselves; else why the closure added it
  bool upgrade = false;   // replaces an installed package (false: newly installed)
};

struct Deferral {
  std::string source, fixed;
  std::set<std::string> ids;
  std::string reason;                // one sentence naming what is missing
  std::vector<std::string> missing;  // binary package names of builds that were not imported
};

struct Resolution {
  std::vector<Choice> choices;  // sorted by package name
  std::vector<Deferral> deferred;
  std::size_t rounds = 0;  // closure passes, for the plan's log
};

struct ResolveInput {
  std::vector<Package> installed;  // the image's package database (installed packages only count)
  std::vector<Package> pool;       // every imported build
  std::vector<SourceRequest> requests;
  std::string architecture;  // the image's (dpkg --print-architecture)
};

Resolution resolve(const ResolveInput& in);

}  // namespace airheal::heal::deb
