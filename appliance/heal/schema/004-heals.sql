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
