-- Station nodes as of $as_of, numbered 0.. in ascending id order.
CREATE OR REPLACE TEMP TABLE st AS
SELECT CAST(row_number() OVER (ORDER BY station_id) - 1 AS BIGINT) AS idx, *
FROM asof_stations($as_of)
WHERE station_id IS NOT NULL
