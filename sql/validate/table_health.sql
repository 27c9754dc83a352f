-- Per table: rows in the as-of window, the latest partition, and covered rows and quarantined rows.
SELECT
    (SELECT count(*) FROM raw.{table} WHERE _dt <= $d) AS total_rows,
    (SELECT max(_dt) FROM raw.{table} WHERE _dt <= $d) AS latest_partition,
    (SELECT count(*) FROM raw.{table} WHERE _file IN (SELECT rel FROM _scope WHERE table_name = '{table}')) AS covered_rows,
    (SELECT count(*) FROM (
        SELECT DISTINCT _file, _row FROM meta.quarantine
        WHERE table_name = '{table}' AND _file IN (SELECT rel FROM _scope WHERE table_name = '{table}'))) AS bad_rows
