-- A few quarantined rows of one table under one rule (or any rule), for failure messages.
SELECT _file, _row, rule, raw_values
FROM meta.quarantine
WHERE table_name = $table AND ($rule IS NULL OR rule = $rule)
  AND _file IN (SELECT rel FROM _scope WHERE table_name = $table)
ORDER BY _file, _row
LIMIT $n
