-- What a snapshot as of $as_of depends on, as text to hash: the current state of every ingested file of a
-- partition up to $as_of (checksum and live or not), the quarantined rows of such partitions, and row counts of
-- the raw partitions up to $as_of (which also covers rows written without ingest).
WITH files AS (
    SELECT table_name, file,
           -- A file loaded earlier and skipped now as unchanged holds the same rows: one state, not two.
           arg_max(CASE WHEN status = 'skipped_same_checksum' THEN 'loaded' ELSE status END, loaded_at) AS status,
           arg_max(sha256, loaded_at) AS sha256,
           arg_max(partition_dt, loaded_at) AS partition_dt
    FROM meta.ingest_log
    WHERE file IS NOT NULL AND status <> 'failed'
    GROUP BY table_name, file
),
quarantined AS (
    SELECT table_name, _file, _row, rule
    FROM meta.quarantine
    WHERE coalesce(TRY_CAST(regexp_extract(_file, 'dt=(\d{4}-\d{2}-\d{2})', 1) AS DATE), $as_of) <= $as_of
),
counts AS (
    SELECT 'stations' AS t, count(*) AS n FROM raw.stations WHERE _dt <= $as_of
    UNION ALL SELECT 'companies', count(*) FROM raw.companies WHERE _dt <= $as_of
    UNION ALL SELECT 'customers', count(*) FROM raw.customers WHERE _dt <= $as_of
    UNION ALL SELECT 'accounts', count(*) FROM raw.accounts WHERE _dt <= $as_of
    UNION ALL SELECT 'customer_accounts', count(*) FROM raw.customer_accounts WHERE _dt <= $as_of
    UNION ALL SELECT 'shipments', count(*) FROM raw.shipments WHERE _dt <= $as_of
    UNION ALL SELECT 'sales_events', count(*) FROM raw.sales_events WHERE _dt <= $as_of
)
SELECT
    (SELECT coalesce(string_agg(concat_ws('|', table_name, file, status, sha256), chr(10) ORDER BY table_name, file), '')
     FROM files WHERE partition_dt <= $as_of) AS files,
    (SELECT coalesce(string_agg(concat_ws('|', table_name, _file, _row, rule), chr(10) ORDER BY table_name, _file, _row, rule), '')
     FROM quarantined) AS quarantined,
    (SELECT string_agg(concat_ws('|', t, n), chr(10) ORDER BY t) FROM counts) AS counts
