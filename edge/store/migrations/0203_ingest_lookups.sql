-- Pruning ingest records (edge/store/prune.py) asks "did a footage row or a dock copy come from this
-- ingest" for every candidate: without these indexes each question scans both tables.
CREATE INDEX footage_ingest ON footage (ingest_id);
CREATE INDEX dock_files_ingest ON dock_files (ingest_id);
