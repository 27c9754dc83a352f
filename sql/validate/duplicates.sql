-- Key uniqueness in the as-of state: rows of the covered files that repeat a key (plus version, for
-- change-row tables) already delivered earlier; the first delivery is kept, later copies are flagged.
-- Keys seen once are dropped by a hash aggregate first, so only repeated keys are ranked.
INSERT INTO _flagged
WITH kept AS (
    SELECT {cols}, _dt, _file, _row,
           _file IN (SELECT rel FROM _scope WHERE table_name = '{table}') AS in_scope
    FROM _kept('raw.{table}', $d)
),
repeated AS (
    SELECT {cols} FROM kept GROUP BY {cols} HAVING count(*) > 1 AND bool_or(in_scope)
),
ranked AS (
    SELECT k._file, k._row, k.in_scope,
           row_number() OVER (PARTITION BY {k_cols} ORDER BY k._dt, k._file, k._row) AS copy
    FROM kept k SEMI JOIN repeated USING ({cols})
)
SELECT '{table}', _file, _row, 'unique_key' FROM ranked WHERE copy > 1 AND in_scope
