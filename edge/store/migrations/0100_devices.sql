-- Enrolled body cameras. The secret is kept only as a salted hash (edge/credentials.py).
CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    serial      TEXT NOT NULL UNIQUE,       -- 7 characters, GA/T 947
    model       TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    removed_at  TEXT                        -- kept for history; a removed device cannot connect
);
