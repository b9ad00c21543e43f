-- Which digest a tag pointed at before it moved (a base image's earlier versions are recognised
-- by the images built on them). No foreign key: garbage collection may remove old manifests.
CREATE TABLE tag_history (
  repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  until INTEGER NOT NULL
);
CREATE INDEX tag_history_digest ON tag_history(digest);
