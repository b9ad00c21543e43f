-- Heals: time to heal, sizes, signed attestations, and the imported content each was planned
-- against (a held or failed heal is retried when new content arrives).
ALTER TABLE heals ADD COLUMN fix_imported_at INTEGER;
ALTER TABLE heals ADD COLUMN heal_layer_size INTEGER;
ALTER TABLE heals ADD COLUMN image_size INTEGER;
ALTER TABLE heals ADD COLUMN attestations TEXT NOT NULL DEFAULT '[]';
ALTER TABLE heals ADD COLUMN generation TEXT NOT NULL DEFAULT '';
CREATE INDEX heals_state ON heals(state);
