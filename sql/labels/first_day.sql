-- The day of the first shipment known by the end of $as_of (where the history starts).
SELECT CAST(min(shipped_at) AS DATE) FROM asof_shipments($as_of)
