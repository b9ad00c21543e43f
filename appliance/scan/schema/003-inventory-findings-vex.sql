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
