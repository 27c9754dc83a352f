-- Company nodes as of $as_of, numbered 0.. in ascending id order.
CREATE OR REPLACE TEMP TABLE co AS
SELECT CAST(row_number() OVER (ORDER BY company_id) - 1 AS BIGINT) AS idx, *
FROM asof_companies($as_of)
WHERE company_id IS NOT NULL
