-- Sent shipments per customer and service level code (0 = other or missing) over the last $max_window days
-- up to $as_of; the graph builder turns the counts into shares.
WITH mix AS (
    SELECT sender_customer_id, coalesce(list_position($levels, service_level), 0) AS code, count(*) AS n
    FROM asof_shipments($as_of)
    WHERE shipped_at >= CAST($as_of AS TIMESTAMP) + INTERVAL 1 DAY - to_days($max_window)
    GROUP BY ALL
)
SELECT c.idx, m.code, m.n
FROM mix m
JOIN cu c ON c.customer_id = m.sender_customer_id
