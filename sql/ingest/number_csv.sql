-- Give each staged row its 1-based data row in its file. The reader dropped malformed lines, so a
-- good row's position is its rank among good rows plus the malformed lines before it; staging
-- preserves file order, which rowid records.
CREATE OR REPLACE TEMP TABLE _num AS
WITH ranked AS (
    SELECT *, row_number() OVER (PARTITION BY _path ORDER BY rowid) AS _k FROM _stg
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
