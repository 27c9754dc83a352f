-- Orphan references: rows of the covered files pointing at a {ref_table} key that the as-of state
-- does not have.
INSERT INTO _flagged
SELECT '{table}', r._file, r._row, 'orphan:{column_name}->{ref_table}'
FROM raw.{table} r
WHERE r._file IN (SELECT rel FROM _scope WHERE table_name = '{table}')
  AND r.{column} IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM meta.quarantine q
      WHERE q.table_name = '{table}' AND q._file = r._file AND q._row = r._row)
  AND NOT EXISTS (SELECT 1 FROM _keys_{ref_table} k WHERE k.id = r.{column})
