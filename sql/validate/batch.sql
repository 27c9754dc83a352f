-- The rows of one table delivered in a chunk of files, with the end of their partition's day, the
-- earliest plausible date, and the reason ingest could not parse or cast them, if any. NaN in a bounded
-- number becomes +inf ({nan_as_inf}), since pandas would read it as a missing value that no rule sees.
SELECT r.* {nan_as_inf}, r._dt + INTERVAL 1 DAY AS _partition_end, CAST($earliest AS TIMESTAMP) AS _earliest, j.error AS _reject
FROM raw.{table} r
LEFT JOIN meta.ingest_rejects j ON j.table_name = '{table}' AND j._file = r._file AND j._row = r._row
WHERE r._file IN (SELECT rel FROM _chunk)
