-- The files a validation run as of d covers: every file of partition d, and every file (re)loaded since
-- the last successful validation, which on a first run is every file up to d. Failed ingest attempts
-- were rolled back, so their log rows do not count.
CREATE OR REPLACE TEMP TABLE _scope AS
WITH state AS (
    SELECT table_name, file AS rel,
           arg_max(status, loaded_at)       AS status,
           arg_max(message, loaded_at)      AS message,
           arg_max(partition_dt, loaded_at) AS dt,
           max(loaded_at) FILTER (WHERE status = 'loaded')   AS last_loaded,
           max(loaded_at) FILTER (WHERE status = 'rejected') AS last_rejected
    FROM meta.ingest_log
    WHERE file IS NOT NULL AND status <> 'failed'
    GROUP BY table_name, file
),
watermark AS (
    SELECT max(checked_at) AS t FROM meta.validation_results WHERE rule = 'run' AND level = 'run' AND success
)
SELECT s.table_name, s.rel, s.dt, s.status, s.message
FROM state s, watermark w
WHERE s.dt <= $d
  AND s.status IN ('loaded', 'skipped_same_checksum', 'rejected')
  AND (s.dt = $d OR w.t IS NULL OR greatest(s.last_loaded, s.last_rejected) > w.t)
