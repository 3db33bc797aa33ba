-- Footage ingest (issue 4): every ingest attempt (HTTP upload or dock copy), the footage it produced,
-- and which dock files were already taken. Files live under {footage.dir}; paths here are relative to it.

CREATE TABLE ingests (
    id              TEXT PRIMARY KEY,                 -- random hex; also the upload URL's last segment
    source          TEXT NOT NULL CHECK (source IN ('upload', 'dock')),
    device_id       TEXT NOT NULL,                    -- the camera the footage came from
    actor           TEXT NOT NULL,                    -- who sent it (Principal.actor or system:dock)
    file_name       TEXT NOT NULL,                    -- the camera's own name, validated (no paths)
    source_path     TEXT,                             -- dock: path relative to the device's folder
    length          INTEGER NOT NULL CHECK (length > 0),
    declared_sha256 TEXT,                             -- what the sender says; NULL for dock copies
    marked          INTEGER NOT NULL DEFAULT 0,       -- evidence-marked on the camera
    recorded_at     TEXT,                             -- device clock, as sent (original kept)
    state           TEXT NOT NULL DEFAULT 'receiving' CHECK (state IN
                    ('receiving', 'finalizing', 'complete', 'quarantined', 'duplicate', 'terminated')),
    received        INTEGER NOT NULL DEFAULT 0,       -- durable (fsynced) bytes received
    sha256          TEXT,                             -- computed, once complete
    target_path     TEXT,                             -- where finalizing puts the file
    footage_id      INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX ingests_state ON ingests (state, updated_at);

CREATE TABLE footage (
    id                 INTEGER PRIMARY KEY,
    sha256             TEXT NOT NULL,
    size               INTEGER NOT NULL,
    path               TEXT NOT NULL,                 -- relative to the footage root
    state              TEXT NOT NULL CHECK (state IN ('good', 'quarantined', 'deleted')),
    device_id          TEXT NOT NULL,
    file_name          TEXT NOT NULL,
    source             TEXT NOT NULL,
    ingest_id          TEXT NOT NULL REFERENCES ingests (id),
    declared_sha256    TEXT,
    marked             INTEGER NOT NULL DEFAULT 0,
    hold               INTEGER NOT NULL DEFAULT 0,    -- permanent hold: evidence, SOS, case link, supervisor
    hold_reason        TEXT,
    recorded_at        TEXT,                          -- device clock (original)
    recorded_at_station TEXT,                         -- corrected by the measured clock offset
    clock_offset_ms    INTEGER,
    officer_no         TEXT,                          -- from the device assignment at recording time
    ingested_at        TEXT NOT NULL,
    retain_until       TEXT,                          -- NULL while held
    probe_state        TEXT NOT NULL DEFAULT 'pending' CHECK (probe_state IN ('pending', 'done')),
    damaged            INTEGER NOT NULL DEFAULT 0,
    problems           TEXT NOT NULL DEFAULT '[]',    -- JSON list of reasons
    media              TEXT,                          -- JSON: container, codecs, duration, size, rate, ...
    thumbnail          TEXT,                          -- relative path of the JPEG
    deleted_at         TEXT,
    deleted_reason     TEXT
);
-- One good copy per content: a second upload of the same bytes is a duplicate of this row.
CREATE UNIQUE INDEX footage_one_good_per_hash ON footage (sha256) WHERE state = 'good';
CREATE INDEX footage_device ON footage (device_id, ingested_at);
CREATE INDEX footage_retention ON footage (state, hold, marked, retain_until);
CREATE INDEX footage_probe ON footage (probe_state) WHERE probe_state = 'pending';

-- Dock files already ingested (or being ingested), so a rescan copies only what is new.
CREATE TABLE dock_files (
    device_id   TEXT NOT NULL,
    rel_path    TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    ingest_id   TEXT NOT NULL REFERENCES ingests (id),
    sha256      TEXT,
    state       TEXT NOT NULL CHECK (state IN ('copying', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 1,
    detail      TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (device_id, rel_path, size, mtime_ns)
);
