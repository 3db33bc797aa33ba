-- Alerts raised by any domain; one row per activation, every transition kept in alert_events.
CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL,                 -- identity of the condition, e.g. battery_low:cam-0001
    kind       TEXT NOT NULL,                 -- e.g. bodycam.sos, footage.quarantined, disk.critical
    severity   TEXT NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    subject    TEXT NOT NULL,                 -- what it is about: device:cam-0001, station, kiosk:k1/printer
    message    TEXT NOT NULL,
    details    TEXT NOT NULL,                 -- canonical JSON
    raised_at  TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    cleared_at TEXT,
    cleared_reason TEXT
);
CREATE UNIQUE INDEX alerts_one_active_per_key ON alerts (key) WHERE cleared_at IS NULL;
CREATE INDEX alerts_raised ON alerts (raised_at);

CREATE TABLE alert_events (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       TEXT NOT NULL,
    change   TEXT NOT NULL CHECK (change IN ('raised', 'changed', 'cleared')),
    severity TEXT NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);
