-- Give each staged row its 1-based data row in its file. Staging preserves file order and each file's
-- rows are contiguous, so a row's position is its rowid minus the file's first rowid, plus one.
CREATE OR REPLACE TEMP TABLE _num AS
WITH firsts AS (
    SELECT _path, min(rowid) AS first_rowid FROM _stg GROUP BY _path
)
SELECT s.*, f.dt AS _dt, f.rel AS _file, s.rowid - p.first_rowid + 1 AS _row
FROM _stg s
JOIN firsts p USING (_path)
JOIN _files f ON f.path = s._path
