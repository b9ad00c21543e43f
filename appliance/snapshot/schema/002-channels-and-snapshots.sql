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
