-- Signed checkpoints of the custody log's head (see docs/custody.md). Each says: "at `at`, station
-- `station`'s chain reached entry `seq` with hash `hash`", signed with the station's Ed25519 key.
CREATE TABLE custody_checkpoint (
    seq              INTEGER PRIMARY KEY,  -- the custody entry it covers (the head when it was signed)
    hash             TEXT NOT NULL,        -- that entry's hash
    at               TEXT NOT NULL,        -- when it was signed (ISO 8601 UTC)
    station          TEXT NOT NULL,
    public_key       TEXT NOT NULL,        -- base64 of the raw 32-byte Ed25519 public key
    signature        TEXT NOT NULL,        -- base64 of the 64-byte Ed25519 signature
    countersignature TEXT,                 -- the central platform's, once the uplink delivered it
    countersigned_at TEXT
);

-- Append-only too: a checkpoint extends the sequence and matches the entry it names.
CREATE TRIGGER custody_checkpoint_append_only BEFORE INSERT ON custody_checkpoint
BEGIN
    SELECT RAISE(ABORT, 'custody_checkpoint is append-only: seq must be above the last checkpoint')
    WHERE NEW.seq <= (SELECT COALESCE(MAX(seq), 0) FROM custody_checkpoint);
    SELECT RAISE(ABORT, 'custody_checkpoint must name an entry of the custody log by its hash')
    WHERE NEW.hash IS NOT (SELECT hash FROM custody_log WHERE seq = NEW.seq);
END;

CREATE TRIGGER custody_checkpoint_no_delete BEFORE DELETE ON custody_checkpoint
BEGIN
    SELECT RAISE(ABORT, 'custody_checkpoint is append-only');
END;

-- The only change allowed: recording the countersignature once, when none is recorded yet.
CREATE TRIGGER custody_checkpoint_countersign_once BEFORE UPDATE ON custody_checkpoint
WHEN OLD.countersignature IS NOT NULL OR NEW.countersignature IS NULL OR NEW.countersigned_at IS NULL
    OR NEW.seq IS NOT OLD.seq OR NEW.hash IS NOT OLD.hash OR NEW.at IS NOT OLD.at
    OR NEW.station IS NOT OLD.station OR NEW.public_key IS NOT OLD.public_key
    OR NEW.signature IS NOT OLD.signature
BEGIN
    SELECT RAISE(ABORT, 'custody_checkpoint is append-only: only a missing countersignature may be recorded');
END;
