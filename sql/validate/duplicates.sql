-- Key uniqueness in the as-of state: rows of the covered files that repeat a key (plus version, for
-- change-row tables) already delivered earlier; the first delivery is kept, later copies are flagged.
INSERT INTO _flagged
WITH batch_keys AS (
    SELECT DISTINCT {cols} FROM raw.{table}
    WHERE _file IN (SELECT rel FROM _scope WHERE table_name = '{table}')
),
ranked AS (
    SELECT k._file, k._row,
           row_number() OVER (PARTITION BY {k_cols} ORDER BY k._dt, k._file, k._row) AS copy
    FROM _kept('raw.{table}', $d) k
    SEMI JOIN batch_keys b USING ({cols})
)
SELECT '{table}', _file, _row, 'unique_key'
FROM ranked
WHERE copy > 1 AND _file IN (SELECT rel FROM _scope WHERE table_name = '{table}')
