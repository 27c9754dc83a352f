-- Customer nodes as of $as_of: the latest version of every customer created by the end of the day,
-- numbered 0.. in ascending id order (the stable raw-id -> row map of the snapshot).
CREATE OR REPLACE TEMP TABLE cu AS
SELECT CAST(row_number() OVER (ORDER BY customer_id) - 1 AS BIGINT) AS idx, *
FROM asof_customers($as_of)
WHERE customer_id IS NOT NULL
