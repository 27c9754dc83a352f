-- `earlier_lists` with its columns and no rows, for a day with nothing published before it.
CREATE OR REPLACE TEMP TABLE earlier_lists AS
SELECT
    CAST(NULL AS DATE) AS as_of_date,
    CAST(NULL AS BIGINT) AS customer_id,
    CAST(NULL AS BIGINT) AS rank_in_territory,
    CAST(NULL AS DATE) AS first_seen_date
WHERE false
