-- The custody log refuses every rewrite, not only UPDATE and DELETE (0001).
-- INSERT OR REPLACE, REPLACE INTO and upserts delete or change an existing row without firing the
-- delete trigger (SQLite fires none on REPLACE unless recursive_triggers is on), so every insert is
-- checked before it happens: it must extend the chain at its head, and its hash must be new (a
-- REPLACE on the UNIQUE hash column would otherwise delete the older row carrying that hash).
-- `audit verify` compares these triggers' SQL with this file, so a weakened guard is reported.
CREATE TRIGGER custody_log_append_only BEFORE INSERT ON custody_log
BEGIN
    SELECT RAISE(ABORT, 'custody_log is append-only: seq must be the head''s seq + 1')
    WHERE NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM custody_log);
    SELECT RAISE(ABORT, 'custody_log is append-only: prev_hash must be the head''s hash')
    WHERE NEW.prev_hash IS NOT COALESCE(
        (SELECT hash FROM custody_log ORDER BY seq DESC LIMIT 1),
        '0000000000000000000000000000000000000000000000000000000000000000');
    SELECT RAISE(ABORT, 'custody_log is append-only: an entry with this hash exists')
    WHERE EXISTS (SELECT 1 FROM custody_log WHERE hash = NEW.hash);
END;
