-- Quarantined rows of the covered files of one table, per rule, most common first.
SELECT rule, count(*)
FROM meta.quarantine
WHERE table_name = $table AND _file IN (SELECT rel FROM _scope WHERE table_name = $table)
GROUP BY rule
ORDER BY 2 DESC, 1
