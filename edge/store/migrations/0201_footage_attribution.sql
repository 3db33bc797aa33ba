-- Footage attribution (issue 10): who uploaded a file, whether the camera announced it over MQTT, and what
-- the upload only claimed. Recording times and the mark come from the camera's bwc/{id}/file announcement
-- when one matches (name, size, SHA-256); an upload's own claims are kept beside them, never in their place.
ALTER TABLE footage ADD COLUMN uploaded_by TEXT;                        -- the authenticated principal (actor)
ALTER TABLE footage ADD COLUMN unannounced INTEGER NOT NULL DEFAULT 0;  -- 1: no matching announcement (yet)
ALTER TABLE footage ADD COLUMN recorded_end TEXT;                       -- announcement's end, device clock
ALTER TABLE footage ADD COLUMN declared_marked INTEGER;                 -- the upload's claim; grants nothing
ALTER TABLE footage ADD COLUMN declared_recorded_at TEXT;               -- the upload's claim, device clock

UPDATE footage SET uploaded_by = (SELECT i.actor FROM ingests i WHERE i.id = footage.ingest_id),
                   declared_marked = (SELECT i.marked FROM ingests i WHERE i.id = footage.ingest_id),
                   declared_recorded_at = (SELECT i.recorded_at FROM ingests i WHERE i.id = footage.ingest_id);
UPDATE footage SET unannounced = 1
    WHERE NOT EXISTS (SELECT 1 FROM expected_footage e WHERE e.footage_id = CAST(footage.id AS TEXT));
UPDATE footage SET recorded_end = (SELECT e.device_end FROM expected_footage e
                                   WHERE e.footage_id = CAST(footage.id AS TEXT))
    WHERE unannounced = 0;

-- A late announcement looks for the unannounced footage it describes.
CREATE INDEX footage_unannounced ON footage (device_id, file_name) WHERE unannounced = 1;
