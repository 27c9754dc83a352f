-- Rows a configured source delivered to the raw table as of D, per lineage file.
SELECT _file, count(*) FROM raw.{table} WHERE starts_with(_file, ?) GROUP BY _file ORDER BY _file
