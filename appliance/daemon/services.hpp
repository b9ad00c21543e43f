// The appliance's services on one state directory, wired from a Config the same way for airheald
// and airhealctl: the store, the audit journal, the snapshot keyring and importer, the scanner,
// and the heal engine with its notifications (the digest-pinned promotions list and webhooks).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "audit/journal.hpp"
#include "config/config.hpp"
#include "core/pgp.hpp"
#include "core/result.hpp"
#include "heal/engine.hpp"
#include "heal/webhooks.hpp"
#include "scan/scanner.hpp"
#include "snapshot/importer.hpp"
#include "store/store.hpp"

namespace airheal {

// Which services to open beyond the store and the journal (each costs something: the keyring
// starts gpg, the engine reads the webhook secret).
struct ServiceOptions {
  bool keyring = false;  // the snapshot keyring and the importer
  bool scanner = false;
  bool engine = false;  // implies the scanner
  std::string actor;    // who the scanner and engine journal as (empty: "airheald")
  std::string runtime;  // the OCI runtime heal builds use (empty: heal.runtime)
  // What builds heal layers and runs checks (empty: buildah; unit tests give a fake).
  std::shared_ptr<heal::ImageBuilder> builder;
  // Where a failure to write the promotions list is reported (empty: the log).
  std::function<void(const std::string&)> warn;
};

// Members are destroyed bottom-up: the engine before the webhooks it posts to, everything before
// the store.
struct Services {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<audit::Journal> journal;
  std::unique_ptr<pgp::Keyring> keyring;
  std::unique_ptr<snapshot::Importer> importer;
  std::unique_ptr<scan::Scanner> scanner;
  std::unique_ptr<heal::Webhooks> webhooks;
  std::unique_ptr<heal::Engine> engine;
};

// Opens (creating if needed) the state directory's store and what `o` asks for. The error names
// the state directory or the file at fault.
Result<Services> make_services(const config::Config& cfg, const ServiceOptions& o);

}  // namespace airheal
