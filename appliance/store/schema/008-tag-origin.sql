-- Who last moved a tag: 'push' (a registry client), 'import' (a snapshot) or 'heal' (the heal
-- engine). Tags airheal manages are protected from pushes by default.
ALTER TABLE tags ADD COLUMN origin TEXT NOT NULL DEFAULT 'push';
