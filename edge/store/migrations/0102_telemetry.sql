-- Body-camera telemetry and events. Both clocks are kept on every row: device_ts (the camera's, never
-- overwritten) and received_at (the gateway's). flag: new, out_of_order, stale (see edge/bodycam/sequence.py).
CREATE TABLE telemetry (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    msg_id          TEXT    NOT NULL,
    device_ts       TEXT    NOT NULL,
    received_at     TEXT    NOT NULL,
    lat             REAL,
    lon             REAL,
    accuracy_m      REAL,
    fix_at          TEXT,
    battery_pct     INTEGER NOT NULL,
    storage_free_mb INTEGER NOT NULL,
    recording       INTEGER NOT NULL,
    signal_dbm      INTEGER NOT NULL,
    clock_offset_ms INTEGER,          -- smoothed device-minus-gateway offset when received
    flag            TEXT    NOT NULL DEFAULT 'new',
    UNIQUE (device_id, msg_id)        -- a redelivered duplicate is a no-op
);
CREATE INDEX telemetry_track ON telemetry (device_id, device_ts);

CREATE TABLE device_events (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    msg_id      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,     -- record_start, ..., sos, status_online, status_offline, file
    device_ts   TEXT    NOT NULL,
    received_at TEXT    NOT NULL,
    details     TEXT    NOT NULL,     -- canonical JSON of the payload's kind-specific fields
    flag        TEXT    NOT NULL DEFAULT 'new',
    UNIQUE (device_id, msg_id)
);
CREATE INDEX device_events_kind ON device_events (device_id, kind, device_ts);

-- The registry's latest state per device, so a restart resumes it (and its seq high-water mark).
CREATE TABLE device_state (
    device_id       TEXT PRIMARY KEY,
    high_water      INTEGER,
    online          INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL,  -- canonical JSON snapshot (see edge/bodycam/registry.py)
    updated_at      TEXT    NOT NULL
);
