-- Lineage of file rows: the file relative to the glob's base folder ($1) under the table's prefix, the
-- 1-based row within the file, and the date of a dt=YYYY-MM-DD folder on the path, if any.
CREATE OR REPLACE TEMP TABLE {name} AS
SELECT r.* EXCLUDE (filename),
       '{prefix}' || replace(r.filename, $1, '') AS _file,
       r.rowid - min(r.rowid) OVER (PARTITION BY r.filename) + 1 AS _row,
       TRY_CAST(regexp_extract(r.filename, 'dt=(\d{{4}}-\d{{2}}-\d{{2}})', 1) AS DATE) AS _folder_dt
FROM _read r
