-- Rows per partition of one table against the median of the partitions before it; a missing
-- partition d counts as zero rows. Small medians and short histories give no ratio (too noisy to
-- judge; the first partition of a dimension is a full snapshot, far above its daily changes).
WITH counts AS (
    SELECT _dt, count(*) AS rows FROM raw.{table} WHERE _dt <= $d GROUP BY _dt
    UNION ALL
    SELECT CAST($d AS DATE), 0 WHERE NOT EXISTS (SELECT 1 FROM raw.{table} WHERE _dt = $d)
),
trail AS (
    SELECT _dt, rows,
           median(rows) OVER (ORDER BY _dt ROWS BETWEEN {trailing} PRECEDING AND 1 PRECEDING) AS trailing_median,
           count(*) OVER (ORDER BY _dt ROWS BETWEEN {trailing} PRECEDING AND 1 PRECEDING) AS history
    FROM counts
)
SELECT strftime(_dt, '%Y-%m-%d') AS partition, rows, trailing_median,
       CASE WHEN trailing_median >= {min_median} AND history >= {min_history} THEN rows / trailing_median END AS ratio_to_trailing_median
FROM trail
WHERE _dt = $d OR _dt IN (SELECT dt FROM _scope WHERE table_name = '{table}')
ORDER BY _dt
