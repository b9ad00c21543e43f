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
