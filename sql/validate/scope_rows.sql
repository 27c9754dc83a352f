-- Rows per covered file of one table, for chunking the pandas batches.
SELECT _file, count(*) AS rows
FROM raw.{table}
WHERE _file IN (SELECT rel FROM _scope WHERE table_name = '{table}')
GROUP BY _file
ORDER BY _file
