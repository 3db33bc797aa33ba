-- Case registry (fed by the central platform or created at the station), footage-to-case links with
-- their provenance, the review queue and the case feed's cursor. Footage ids are TEXT without a foreign
-- key: the footage table belongs to the footage domain and links may name files not yet ingested.

CREATE TABLE cases (
    number            TEXT PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('incident', 'administrative', 'criminal')),
    status            TEXT NOT NULL CHECK (status IN ('open', 'closed', 'cancelled')),
    title             TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('central', 'local')),
    revision          INTEGER NOT NULL CHECK (revision >= 0),
    source_updated_at TEXT,                 -- the source's own time of this revision
    lat               REAL,
    lon               REAL,
    radius_m          REAL,
    content_sha256    TEXT NOT NULL,        -- of the record without revision and updated_at
    record            TEXT NOT NULL,        -- canonical JSON of the accepted record
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX cases_status ON cases (status, number);

CREATE TABLE case_officers (
    case_number TEXT NOT NULL REFERENCES cases (number),
    officer_no  TEXT NOT NULL,
    PRIMARY KEY (case_number, officer_no)
);
CREATE INDEX case_officers_officer ON case_officers (officer_no);

CREATE TABLE case_windows (
    case_number TEXT NOT NULL REFERENCES cases (number),
    idx         INTEGER NOT NULL,
    label       TEXT NOT NULL,
    start_at    TEXT NOT NULL,
    end_at      TEXT,                       -- NULL: not cleared yet
    PRIMARY KEY (case_number, idx)
);
CREATE INDEX case_windows_start ON case_windows (start_at);

CREATE TABLE case_deadlines (
    case_number TEXT NOT NULL REFERENCES cases (number),
    kind        TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    PRIMARY KEY (case_number, kind)
);

-- Every accepted revision, in order: the case's full history.
CREATE TABLE case_history (
    id             INTEGER PRIMARY KEY,
    case_number    TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,           -- feed:<url host> or the API principal
    change         TEXT NOT NULL CHECK (change IN ('created', 'updated')),
    content_sha256 TEXT NOT NULL,
    record         TEXT NOT NULL
);
CREATE INDEX case_history_case ON case_history (case_number, id);

CREATE TABLE case_links (
    id          INTEGER PRIMARY KEY,
    footage_id  TEXT NOT NULL,
    case_number TEXT NOT NULL REFERENCES cases (number),
    state       TEXT NOT NULL CHECK (state IN ('linked', 'review', 'rejected', 'unlinked')),
    decided_by  TEXT NOT NULL CHECK (decided_by IN ('machine', 'person')),
    actor       TEXT NOT NULL,
    provenance  TEXT NOT NULL,              -- canonical JSON: rule, score components, reason, ...
    decided_at  TEXT NOT NULL,
    UNIQUE (footage_id, case_number)
);
CREATE INDEX case_links_case ON case_links (case_number, state);

CREATE TABLE case_link_history (
    id         INTEGER PRIMARY KEY,
    link_id    INTEGER NOT NULL REFERENCES case_links (id),
    state      TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    actor      TEXT NOT NULL,
    provenance TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
CREATE INDEX case_link_history_link ON case_link_history (link_id, id);

CREATE TABLE review_items (
    id          INTEGER PRIMARY KEY,
    link_id     INTEGER NOT NULL REFERENCES case_links (id),
    footage_id  TEXT NOT NULL,
    case_number TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'confirmed', 'rejected', 'withdrawn')),
    resolved_at TEXT,
    resolved_by TEXT,
    note        TEXT
);
CREATE UNIQUE INDEX review_items_one_open ON review_items (link_id) WHERE state = 'open';
CREATE INDEX review_items_state ON review_items (state, id);

CREATE TABLE case_feed_state (
    feed       TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    etag       TEXT,
    updated_at TEXT NOT NULL
);

-- The histories are evidence of who decided what: append-only, like the custody log.
CREATE TRIGGER case_history_no_update BEFORE UPDATE ON case_history
BEGIN SELECT RAISE(ABORT, 'case_history is append-only'); END;
CREATE TRIGGER case_history_no_delete BEFORE DELETE ON case_history
BEGIN SELECT RAISE(ABORT, 'case_history is append-only'); END;
CREATE TRIGGER case_link_history_no_update BEFORE UPDATE ON case_link_history
BEGIN SELECT RAISE(ABORT, 'case_link_history is append-only'); END;
CREATE TRIGGER case_link_history_no_delete BEFORE DELETE ON case_link_history
BEGIN SELECT RAISE(ABORT, 'case_link_history is append-only'); END;
