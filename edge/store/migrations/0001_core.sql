-- Core ledgers shared by every domain: key/value metadata, the outbox, the custody log, dead letters.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Store-and-forward queue to the central platform, written in the same transaction as the domain row.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    priority        INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),  -- 0 is most urgent
    dedupe_key      TEXT    NOT NULL UNIQUE,
    payload         TEXT,             -- canonical JSON, or NULL when the item is a file
    file_path       TEXT,
    file_size       INTEGER,
    file_sha256     TEXT,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'acked', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    receipt         TEXT,
    CHECK ((payload IS NULL) <> (file_path IS NULL))
);
CREATE INDEX outbox_due ON outbox (state, priority, next_attempt_at, id);

-- Append-only, hash-chained record of who did what to which evidence, and why.
CREATE TABLE custody_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    details   TEXT NOT NULL,          -- canonical JSON object
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE
);
CREATE INDEX custody_subject ON custody_log (subject, seq);

CREATE TRIGGER custody_log_no_update BEFORE UPDATE ON custody_log
BEGIN
    SELECT RAISE(ABORT, 'custody_log is append-only');
END;

CREATE TRIGGER custody_log_no_delete BEFORE DELETE ON custody_log
BEGIN
    SELECT RAISE(ABORT, 'custody_log is append-only');
END;

-- Input we could not accept, kept with the reason so nothing is lost silently.
CREATE TABLE dead_letter (
    id           INTEGER PRIMARY KEY,
    at           TEXT    NOT NULL,
    source       TEXT    NOT NULL,    -- mqtt, http, serial, feed
    channel      TEXT    NOT NULL,    -- topic, route, port
    reason       TEXT    NOT NULL,    -- machine-readable code
    detail       TEXT    NOT NULL,
    payload      BLOB,                -- truncated copy
    payload_size INTEGER NOT NULL
);
CREATE INDEX dead_letter_at ON dead_letter (at);
