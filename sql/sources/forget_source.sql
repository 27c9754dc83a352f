-- A configured source is re-read whole on every run: its earlier rows, rejects and quarantine entries go first.
DELETE FROM raw.{table} WHERE starts_with(_file, '{prefix}');
DELETE FROM meta.ingest_rejects WHERE table_name = '{table}' AND starts_with(_file, '{prefix}');
DELETE FROM meta.quarantine WHERE table_name = '{table}' AND starts_with(_file, '{prefix}');
