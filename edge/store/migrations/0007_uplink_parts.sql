-- The S3 multipart state of footage uploads (issue 12): per outbox entry its plan (bucket, key, UploadId, part
-- size) and per completed part its number, size, ETag and the SHA-256 of the bytes sent. Each part is recorded
-- in its own durable transaction before the next starts, so a SIGKILL wastes at most the part in flight; on
-- resume the parts are reconciled with the store's ListParts (edge/uplink/targets/s3.py).
CREATE TABLE uplink_uploads (
    entry_id     INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    bucket       TEXT    NOT NULL,
    object_key   TEXT    NOT NULL,
    upload_id    TEXT    NOT NULL,
    part_size    INTEGER NOT NULL CHECK (part_size > 0),
    file_size    INTEGER NOT NULL CHECK (file_size >= 0),
    file_sha256  TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    completed_at TEXT,              -- CompleteMultipartUpload answered; the object exists
    object_etag  TEXT               -- its ETag then
);

CREATE TABLE uplink_parts (
    entry_id    INTEGER NOT NULL REFERENCES uplink_uploads (entry_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    size        INTEGER NOT NULL CHECK (size >= 0),
    etag        TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    sent_at     TEXT    NOT NULL,
    PRIMARY KEY (entry_id, part_number)
) WITHOUT ROWID;
