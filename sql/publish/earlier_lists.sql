-- Every list published before D, keyed by warehouse customer keys: a list that names customers by their
-- source's text ids (meta.id_map) is mapped back.
CREATE OR REPLACE TEMP TABLE earlier_lists AS
SELECT l.as_of_date, coalesce(m.id, TRY_CAST(l.customer_id AS BIGINT)) AS customer_id, l.rank_in_territory, l.first_seen_date
FROM read_parquet($paths) l
LEFT JOIN meta.id_map m ON m.domain = 'customer' AND m.original = CAST(l.customer_id AS VARCHAR)
