-- The uplink's entry states and scheduling columns (issue 12). SQLite cannot change a CHECK in place, so the
-- outbox is rebuilt: new table, copy with the state mapping, drop, rename, indexes again.
--   pending -> pending, sending -> in_flight (with a lease nobody holds: recovered to pending at start),
--   acked -> confirmed, failed -> failed (its last error, or 'unrecorded', as the reason).
CREATE TABLE outbox_0006 (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    priority        INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),  -- 0 is most urgent
    -- The scheduler's class, a function of the priority (and of the kind for kiosk records), so that a
    -- promotion (footage that became evidence) moves the entry to its new class in the same UPDATE.
    uplink_class    TEXT    GENERATED ALWAYS AS (CASE
                        WHEN priority = 0 THEN 'critical'
                        WHEN priority = 1 THEN 'evidence'
                        WHEN priority = 2 AND substr(kind, 1, 6) = 'kiosk.' THEN 'kiosk'
                        WHEN priority = 2 THEN 'routine'
                        ELSE 'telemetry' END) VIRTUAL,
    dedupe_key      TEXT    NOT NULL UNIQUE,
    -- Sent with every attempt (HTTP Idempotency-Key, object metadata); fixed at the first claim, before any
    -- byte leaves, and kept across retries and restarts. A re-armed file gets a new generation, so a new key.
    idempotency_key TEXT    UNIQUE,
    generation      INTEGER NOT NULL DEFAULT 1,
    payload         TEXT,             -- canonical JSON, or NULL when the item is a file
    file_path       TEXT,
    file_size       INTEGER,
    file_sha256     TEXT,
    bytes           INTEGER NOT NULL CHECK (bytes >= 0),  -- what the budget is charged: the file or the payload
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'sent', 'confirmed', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL,  -- backoff: not claimed before
    expires_at      TEXT,             -- telemetry and expendable classes only; evidence never expires
    lease_owner     TEXT,             -- the drain (one process run) holding an in_flight entry
    leased_at       TEXT,
    last_error      TEXT,             -- the latest transient failure, kept for the operator
    failed_reason   TEXT,             -- machine-readable code of a final failure (dead letter)
    receipt         TEXT,
    CHECK ((payload IS NULL) <> (file_path IS NULL)),
    CHECK ((state = 'in_flight') = (lease_owner IS NOT NULL AND leased_at IS NOT NULL)),
    CHECK ((state = 'failed') = (failed_reason IS NOT NULL)),
    CHECK (expires_at IS NULL OR priority >= 2)
);

INSERT INTO outbox_0006 (id, kind, priority, dedupe_key, payload, file_path, file_size, file_sha256, bytes, state,
                         attempts, created_at, updated_at, next_attempt_at, lease_owner, leased_at, last_error,
                         failed_reason, receipt)
SELECT id, kind, priority, dedupe_key, payload, file_path, file_size, file_sha256,
       COALESCE(file_size, length(CAST(payload AS BLOB)), 0),
       CASE state WHEN 'sending' THEN 'in_flight' WHEN 'acked' THEN 'confirmed' ELSE state END,
       attempts, created_at, updated_at, next_attempt_at,
       CASE state WHEN 'sending' THEN 'before-0006' END,
       CASE state WHEN 'sending' THEN updated_at END,
       last_error,
       CASE state WHEN 'failed' THEN COALESCE(NULLIF(last_error, ''), 'unrecorded') END,
       receipt
FROM outbox;

DROP TABLE outbox;
ALTER TABLE outbox_0006 RENAME TO outbox;

-- Claiming: the oldest due entry of one class. Stats and lease recovery: by state and class.
CREATE INDEX outbox_due ON outbox (state, uplink_class, priority, id);
CREATE INDEX outbox_expiry ON outbox (expires_at) WHERE expires_at IS NOT NULL;
