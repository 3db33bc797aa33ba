-- Retention's keep reasons (edge/store/retention.py) look rows up by path, thumbnail and footage id:
-- "is this path still named by a live row", "was this file announced with a hold". (review_items comes
-- later, in 0400; its open items are few and found by review_items_state.)
CREATE INDEX footage_path ON footage (path);
CREATE INDEX footage_thumbnail ON footage (thumbnail) WHERE thumbnail IS NOT NULL;
CREATE INDEX expected_footage_footage ON expected_footage (footage_id) WHERE footage_id IS NOT NULL;
