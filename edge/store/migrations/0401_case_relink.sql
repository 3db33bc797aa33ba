-- Work the case linker still owes after a commit: a case whose new revision was applied ('case', number)
-- or footage that was ingested ('footage', id) but whose matching had not run yet. Written in the same
-- transaction as the cause and removed in the transaction that stores the decisions, so a crash in
-- between is finished at the next start.
CREATE TABLE case_relink_pending (
    kind  TEXT NOT NULL CHECK (kind IN ('case', 'footage')),
    key   TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
