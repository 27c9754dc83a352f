-- Lineage of database rows: one label for the whole source ($1); _row is the row's position in the result.
CREATE OR REPLACE TEMP TABLE {name} AS
SELECT f.*, $1 AS _file, CAST(NULL AS DATE) AS _folder_dt
FROM _db_frame f
