-- Account nodes as of $as_of, numbered 0.. in ascending id order.
CREATE OR REPLACE TEMP TABLE ac AS
SELECT CAST(row_number() OVER (ORDER BY account_id) - 1 AS BIGINT) AS idx, *
FROM asof_accounts($as_of)
WHERE account_id IS NOT NULL
