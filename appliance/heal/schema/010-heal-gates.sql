-- Each verification gate a heal passed through and its result ([{gate, result, detail}]), so
-- evidence itemises them rather than quoting the log.
ALTER TABLE heals ADD COLUMN gates TEXT NOT NULL DEFAULT '[]';
