#include "store/schema.hpp"

namespace airheal::store {

const std::vector<sqlite::Migration>& migrations() {
  static const std::vector<sqlite::Migration> all = {
      {1, R"sql(
CREATE TABLE repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
-- Every blob on disk, stored once whatever the number of repositories using it.
CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Which repositories may serve which blobs (pushes, mounts, manifests).
CREATE TABLE repo_blobs (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES blobs(digest),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX repo_blobs_digest ON repo_blobs(digest);
-- Manifests are also blobs (their bytes live in the blob store); this adds what they mean.
CREATE TABLE manifests (
  digest TEXT PRIMARY KEY REFERENCES blobs(digest),
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  artifact_type TEXT,
  subject TEXT,
  annotations TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX manifests_subject ON manifests(subject);
-- What each manifest references: kind 'blob' (config, layers) or 'manifest' (index children).
CREATE TABLE manifest_refs (
  manifest TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
  child TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (manifest, child, kind)
) WITHOUT ROWID;
CREATE INDEX manifest_refs_child ON manifest_refs(child);
CREATE TABLE repo_manifests (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES manifests(digest),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX repo_manifests_digest ON repo_manifests(digest);
CREATE TABLE tags (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  digest TEXT NOT NULL REFERENCES manifests(digest),
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repo_id, name)
) WITHOUT ROWID;
CREATE TABLE uploads (
  uuid TEXT PRIMARY KEY,
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  offset INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Digests kept for rollback: never garbage-collected while listed here.
CREATE TABLE retained (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES manifests(digest),
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
)sql"},
      {2, R"sql(
-- Snapshot channels: who may sign them and how far each has got (anti-rollback).
CREATE TABLE channels (
  name TEXT PRIMARY KEY,
  threshold INTEGER NOT NULL DEFAULT 1 CHECK (threshold >= 1),
  last_sequence INTEGER,
  last_digest TEXT,
  last_expires INTEGER,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE channel_keys (
  channel TEXT NOT NULL REFERENCES channels(name) ON DELETE CASCADE,
  fingerprint TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  added_by TEXT NOT NULL,           -- 'operator' or the snapshot digest that rotated it in
  PRIMARY KEY (channel, fingerprint)
) WITHOUT ROWID;
CREATE TABLE revoked_keys (
  fingerprint TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL,
  reason TEXT NOT NULL
) WITHOUT ROWID;
-- Every accepted snapshot, with its signed manifest verbatim.
CREATE TABLE snapshots (
  digest TEXT PRIMARY KEY,          -- sha256 of the manifest bytes
  channel TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  previous TEXT,
  imported_at INTEGER NOT NULL,
  signers TEXT NOT NULL,            -- JSON array of primary key fingerprints
  counts TEXT NOT NULL,             -- JSON object
  manifest BLOB NOT NULL,
  UNIQUE (channel, sequence)
) WITHOUT ROWID;
-- Non-image content kept from snapshots (advisory sources, packages, artefacts): the bytes
-- live in the blob store; this keeps them from garbage collection and says what they are.
CREATE TABLE content (
  digest TEXT NOT NULL REFERENCES blobs(digest),
  kind TEXT NOT NULL CHECK (kind IN ('advisory', 'package', 'artifact', 'trust')),
  name TEXT NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  metadata TEXT NOT NULL DEFAULT '{}',
  channel TEXT NOT NULL,
  snapshot TEXT NOT NULL,
  PRIMARY KEY (channel, kind, name, version, digest)
) WITHOUT ROWID;
CREATE INDEX content_digest ON content(digest);
CREATE INDEX content_name ON content(kind, name);
CREATE TABLE advisories (
  id INTEGER PRIMARY KEY,
  channel TEXT NOT NULL,
  source TEXT NOT NULL,             -- osv | debian-tracker | alpine-secdb
  advisory_id TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL DEFAULT '[]',
  published TEXT NOT NULL DEFAULT '',
  modified TEXT NOT NULL DEFAULT '',
  withdrawn TEXT NOT NULL DEFAULT '',
  document TEXT NOT NULL,
  UNIQUE (channel, source, advisory_id)
);
CREATE INDEX advisories_id ON advisories(advisory_id);
CREATE TABLE advisory_aliases (
  alias TEXT NOT NULL,
  advisory INTEGER NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
  PRIMARY KEY (alias, advisory)
) WITHOUT ROWID;
CREATE INDEX advisory_aliases_advisory ON advisory_aliases(advisory);
CREATE TABLE advisory_affected (
  advisory INTEGER NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
  ecosystem TEXT NOT NULL,
  package TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX advisory_affected_key ON advisory_affected(ecosystem, package);
CREATE INDEX advisory_affected_advisory ON advisory_affected(advisory);
)sql"},
      {3, R"sql(
-- Scanning. Layer inventories are cached by layer digest (parsed once, ever); image inventories
-- and their components by manifest digest; components carry the reverse index of match keys.
CREATE TABLE layer_inventory (
  digest TEXT PRIMARY KEY,
  parser INTEGER NOT NULL,
  data BLOB NOT NULL,               -- CBOR of the layer inventory
  files INTEGER NOT NULL,
  bytes_read INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE image_inventory (
  manifest TEXT PRIMARY KEY,
  parser INTEGER NOT NULL,
  os TEXT NOT NULL,                 -- JSON {id, version_id, codename, pretty_name}
  layers TEXT NOT NULL,             -- JSON array of layer digests, bottom first
  files INTEGER NOT NULL,
  problems TEXT NOT NULL DEFAULT '[]',
  scanned_at INTEGER NOT NULL,
  matched_at INTEGER
) WITHOUT ROWID;
CREATE TABLE image_components (
  manifest TEXT NOT NULL REFERENCES image_inventory(manifest) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  type TEXT NOT NULL,
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  source TEXT NOT NULL,
  source_version TEXT NOT NULL,
  match_ecosystem TEXT NOT NULL,
  match_package TEXT NOT NULL,
  purl TEXT NOT NULL,
  layer TEXT NOT NULL,
  location TEXT NOT NULL,
  data TEXT NOT NULL,               -- the full component as JSON
  PRIMARY KEY (manifest, idx)
) WITHOUT ROWID;
CREATE INDEX image_components_key ON image_components(match_ecosystem, match_package);
CREATE TABLE findings (
  manifest TEXT NOT NULL REFERENCES image_inventory(manifest) ON DELETE CASCADE,
  component INTEGER NOT NULL,
  advisory_id TEXT NOT NULL,
  aliases TEXT NOT NULL,            -- JSON array
  channel TEXT NOT NULL,
  source TEXT NOT NULL,
  severity TEXT NOT NULL,
  score REAL,
  installed TEXT NOT NULL,
  fixed TEXT NOT NULL,
  vendor_status TEXT NOT NULL,
  fix_available TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  first_seen INTEGER NOT NULL,
  PRIMARY KEY (manifest, component, advisory_id)
) WITHOUT ROWID;
CREATE INDEX findings_advisory ON findings(advisory_id);
-- What the advisory database said about each match key when images were last matched: an
-- import re-matches only images holding keys whose fingerprint changed.
CREATE TABLE advisory_keys (
  ecosystem TEXT NOT NULL,
  package TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  PRIMARY KEY (ecosystem, package)
) WITHOUT ROWID;
-- Operator statements (OpenVEX) and time-boxed exceptions.
CREATE TABLE vex_statements (
  id INTEGER PRIMARY KEY,
  vulnerability TEXT NOT NULL,
  product TEXT NOT NULL,            -- repository pattern (glob) or manifest digest
  subcomponent TEXT NOT NULL DEFAULT '',  -- package name or purl; '' = any
  status TEXT NOT NULL CHECK (status IN ('not_affected', 'affected', 'fixed', 'under_investigation')),
  justification TEXT NOT NULL DEFAULT '',
  impact_statement TEXT NOT NULL DEFAULT '',
  action_statement TEXT NOT NULL DEFAULT '',
  author TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  withdrawn_at INTEGER
);
CREATE TABLE exceptions (
  id INTEGER PRIMARY KEY,
  vulnerability TEXT NOT NULL,
  product TEXT NOT NULL,
  subcomponent TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revoked_by TEXT
);
)sql"},
      {4, R"sql(
-- Heals: one row per attempt, a state machine with its history in heal_events.
CREATE TABLE heals (
  id INTEGER PRIMARY KEY,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  original TEXT NOT NULL,           -- manifest digest the tag pointed at when the heal started
  state TEXT NOT NULL CHECK (state IN ('detected', 'planned', 'building', 'verifying', 'staged', 'promoted',
                                       'held', 'failed', 'rolled_back')),
  mode TEXT NOT NULL,
  strategy TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL DEFAULT '{}',
  staged_tag TEXT,
  staged TEXT,                      -- healed manifest digest
  reason TEXT NOT NULL DEFAULT '',
  log TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  staged_at INTEGER,
  promoted_at INTEGER
);
CREATE INDEX heals_image ON heals(repository, tag);
CREATE TABLE heal_events (
  heal INTEGER NOT NULL REFERENCES heals(id) ON DELETE CASCADE,
  state TEXT NOT NULL,
  at INTEGER NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX heal_events_heal ON heal_events(heal);
)sql"},
      {5, R"sql(
-- Heals: time to heal, sizes, signed attestations, and the imported content each was planned
-- against (a held or failed heal is retried when new content arrives).
ALTER TABLE heals ADD COLUMN fix_imported_at INTEGER;
ALTER TABLE heals ADD COLUMN heal_layer_size INTEGER;
ALTER TABLE heals ADD COLUMN image_size INTEGER;
ALTER TABLE heals ADD COLUMN attestations TEXT NOT NULL DEFAULT '[]';
ALTER TABLE heals ADD COLUMN generation TEXT NOT NULL DEFAULT '';
CREATE INDEX heals_state ON heals(state);
)sql"},
      {6, R"sql(
-- Which digest a tag pointed at before it moved (a base image's earlier versions are recognised
-- by the images built on them). No foreign key: garbage collection may remove old manifests.
CREATE TABLE tag_history (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  until INTEGER NOT NULL
);
CREATE INDEX tag_history_digest ON tag_history(digest);
)sql"},
      {7, R"sql(
-- Why a heal failed or was held, classified (dependency-problem, maintainer-script-failed,
-- no-space, timeout, test-failed, smoke-test-failed, build-failed), with the package manager's
-- own error lines; the whole output stays in log.
ALTER TABLE heals ADD COLUMN failure TEXT NOT NULL DEFAULT '';
ALTER TABLE heals ADD COLUMN failure_lines TEXT NOT NULL DEFAULT '';
)sql"},
      {8, R"sql(
-- Who last moved a tag: 'push' (a registry client), 'import' (a snapshot) or 'heal' (the heal
-- engine). Tags airheal manages are protected from pushes by default.
ALTER TABLE tags ADD COLUMN origin TEXT NOT NULL DEFAULT 'push';
)sql"},
      {9, R"sql(
-- The newest signed audit checkpoint and the journal's length right after it, kept outside the
-- audit folder: deleting checkpoints or cutting the journal back no longer verifies as intact.
CREATE TABLE audit_anchor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checkpoint INTEGER NOT NULL,
  head TEXT NOT NULL,
  records INTEGER NOT NULL,
  time INTEGER NOT NULL
);
)sql"},
  };
  return all;
}

}  // namespace airheal::store
