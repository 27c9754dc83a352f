-- The latest logged state of every landing file ever seen: what a run compares the landing folder against.
SELECT table_name, file,
       arg_max(status, loaded_at)     AS status,
       arg_max(size_bytes, loaded_at) AS size_bytes,
       arg_max(mtime_ns, loaded_at)   AS mtime_ns,
       arg_max(sha256, loaded_at)     AS sha256,
       arg_max(partition_dt, loaded_at) AS partition_dt
FROM meta.ingest_log
WHERE file IS NOT NULL AND status <> 'failed'
GROUP BY table_name, file
