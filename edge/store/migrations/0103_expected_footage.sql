-- Recordings a camera announced (bwc/{id}/file) that the footage ingest must fulfil by deadline_at.
-- hold_reason: why the recording is kept permanently (marked, sos); the footage row carries it over.
CREATE TABLE expected_footage (
    id                  INTEGER PRIMARY KEY,
    device_id           TEXT    NOT NULL,
    file_name           TEXT    NOT NULL,
    officer_no          TEXT,              -- the assigned officer (or the camera's stamp when unassigned)
    device_start        TEXT    NOT NULL,  -- device clock
    device_end          TEXT    NOT NULL,
    size_bytes          INTEGER NOT NULL,
    sha256              TEXT    NOT NULL,
    marked              INTEGER NOT NULL,
    hold_reason         TEXT,              -- NULL, 'marked', 'sos', 'marked,sos'
    announced_at        TEXT    NOT NULL,  -- gateway clock
    announced_device_ts TEXT    NOT NULL,
    deadline_at         TEXT    NOT NULL,
    overdue_alerted_at  TEXT,
    fulfilled_at        TEXT,
    footage_id          TEXT,
    UNIQUE (device_id, file_name)
);
CREATE INDEX expected_footage_due ON expected_footage (fulfilled_at, deadline_at);
