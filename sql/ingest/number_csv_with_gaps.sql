-- As number_csv, for groups where the reader dropped malformed lines: a good row's position is its
-- rank among good rows plus the malformed lines before it (an as-of join on the rank finds them).
CREATE OR REPLACE TEMP TABLE _num AS
WITH firsts AS (
    SELECT _path, min(rowid) AS first_rowid FROM _stg GROUP BY _path
),
ranked AS (
    SELECT s.*, s.rowid - p.first_rowid + 1 AS _k FROM _stg s JOIN firsts p USING (_path)
),
gaps AS (
    SELECT _path,
           _row - row_number() OVER (PARTITION BY _path ORDER BY _row) AS good_before,
           row_number() OVER (PARTITION BY _path ORDER BY _row) AS bad_so_far
    FROM _bad
),
steps AS (
    SELECT _path, good_before, max(bad_so_far) AS bad_so_far FROM gaps GROUP BY ALL
)
SELECT r.* EXCLUDE (_k), f.dt AS _dt, f.rel AS _file, r._k + coalesce(s.bad_so_far, 0) AS _row
FROM ranked r
JOIN _files f ON f.path = r._path
ASOF LEFT JOIN steps s ON s._path = r._path AND r._k > s.good_before
