-- Retention's keep reasons (edge/store/retention.py) look rows up by path, thumbnail and footage id:
-- "is this path still named by a live row", "was this file announced with a hold". (Open review items
-- are found through case_links and review_items_one_open, both from 0400.)
CREATE INDEX footage_path ON footage (path);
CREATE INDEX footage_thumbnail ON footage (thumbnail) WHERE thumbnail IS NOT NULL;
CREATE INDEX expected_footage_footage ON expected_footage (footage_id) WHERE footage_id IS NOT NULL;
