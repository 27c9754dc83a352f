-- Remove every trace of the files in _replaced from one raw table before they are loaded again (or for good).
-- Quarantine entries go too: they point at row numbers of the old content.
DELETE FROM raw.{table} WHERE _file IN (SELECT rel FROM _replaced);
DELETE FROM meta.ingest_rejects WHERE table_name = '{table}' AND _file IN (SELECT rel FROM _replaced);
DELETE FROM meta.quarantine WHERE table_name = '{table}' AND _file IN (SELECT rel FROM _replaced);
