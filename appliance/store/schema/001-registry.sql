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
