-- The newest signed audit checkpoint and the journal's length right after it, kept outside the
-- audit folder: deleting checkpoints or cutting the journal back no longer verifies as intact.
CREATE TABLE audit_anchor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checkpoint INTEGER NOT NULL,
  head TEXT NOT NULL,
  records INTEGER NOT NULL,
  time INTEGER NOT NULL
);
