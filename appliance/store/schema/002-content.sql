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
