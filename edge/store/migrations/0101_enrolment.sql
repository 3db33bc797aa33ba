-- Body-camera enrolment: officers (GA/T 947 fields), who carries which camera when (shifts), and the
-- broker accounts provisioning writes into Mosquitto's password file.
CREATE TABLE officers (
    officer_no TEXT PRIMARY KEY CHECK (length(officer_no) = 6),   -- GA/T 947 officer number
    name       TEXT NOT NULL,
    unit_no    TEXT NOT NULL CHECK (length(unit_no) = 12),        -- public security organ code
    unit_name  TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- A device assigned to an officer for a time range (a shift). Ranges of one device must not overlap;
-- the application checks it (SQLite has no exclusion constraints).
CREATE TABLE device_assignments (
    id         INTEGER PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES devices (device_id),
    officer_no TEXT NOT NULL REFERENCES officers (officer_no),
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX device_assignments_device ON device_assignments (device_id, starts_at);
CREATE INDEX device_assignments_officer ON device_assignments (officer_no, starts_at);

-- Mosquitto password-file lines, kept so the file can be rewritten without the secrets themselves
-- (a device secret is shown once and stored only as hashes: ours in devices, the broker's here).
CREATE TABLE broker_accounts (
    username    TEXT PRIMARY KEY,
    device_id   TEXT REFERENCES devices (device_id),
    broker_hash TEXT NOT NULL,        -- the part after "username:" in Mosquitto's format
    updated_at  TEXT NOT NULL
);
