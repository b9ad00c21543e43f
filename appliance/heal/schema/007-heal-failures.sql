-- Why a heal failed or was held, classified (dependency-problem, maintainer-script-failed,
-- no-space, timeout, test-failed, smoke-test-failed, build-failed), with the package manager's
-- own error lines; the whole output stays in log.
ALTER TABLE heals ADD COLUMN failure TEXT NOT NULL DEFAULT '';
ALTER TABLE heals ADD COLUMN failure_lines TEXT NOT NULL DEFAULT '';
