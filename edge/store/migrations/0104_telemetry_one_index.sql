-- Telemetry keeps one index instead of two. UNIQUE (device_id, msg_id) plus the track index
-- (device_id, device_ts) made every row update two B-trees; at hundreds of cameras that was a third of
-- the writer's time (bench/telemetry.py). One UNIQUE (device_id, device_ts, msg_id) serves both: track
-- queries use its (device_id, device_ts) prefix, and a redelivered message is byte-identical, so its
-- duplicate has the same device_ts and msg_id and is still skipped by ON CONFLICT DO NOTHING.
CREATE TABLE telemetry_rebuilt (
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
    UNIQUE (device_id, device_ts, msg_id)
);
INSERT INTO telemetry_rebuilt SELECT id, device_id, seq, msg_id, device_ts, received_at, lat, lon, accuracy_m, fix_at,
    battery_pct, storage_free_mb, recording, signal_dbm, clock_offset_ms, flag FROM telemetry;
DROP TABLE telemetry;
ALTER TABLE telemetry_rebuilt RENAME TO telemetry;
