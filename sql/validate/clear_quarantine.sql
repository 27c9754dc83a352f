-- A validation run re-judges the rows of the files it covers, so their earlier verdicts go first.
DELETE FROM meta.quarantine q
WHERE EXISTS (SELECT 1 FROM _scope s WHERE s.table_name = q.table_name AND s.rel = q._file)
