-- The latest validation run covering d (run as of d or later), with its failed table- and set-level rules.
WITH last_run AS (
    SELECT as_of, success, checked_at
    FROM meta.validation_results
    WHERE rule = 'run' AND level = 'run' AND as_of >= $d
    ORDER BY checked_at DESC
    LIMIT 1
)
SELECT l.as_of, l.success,
       string_agg(v.table_name || ': ' || v.rule, '; ' ORDER BY v.table_name, v.rule) AS reasons
FROM last_run l
LEFT JOIN meta.validation_results v
       ON v.checked_at = l.checked_at AND v.level IN ('table', 'set') AND NOT v.success
GROUP BY l.as_of, l.success
