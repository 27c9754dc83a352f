-- The prospects of anchor date $anchor: customers existing as of $anchor without any of the final outcomes
-- ($final) by the end of $anchor, with at least $min_shipments shipments sent or received in the $lookback
-- days up to and including $anchor ($min_shipments = 0: every such customer, shipping or not).
WITH activity AS (
    SELECT customer_id, count(DISTINCT shipment_id) AS shipments
    FROM (
        SELECT shipment_id, unnest([sender_customer_id, receiver_customer_id]) AS customer_id
        FROM asof_shipments($anchor)
        WHERE shipped_at >= CAST($anchor AS TIMESTAMP) + INTERVAL 1 DAY - to_days($lookback)
    )
    GROUP BY customer_id
)
SELECT c.customer_id
FROM asof_customers($anchor) c
LEFT JOIN activity a ON a.customer_id = c.customer_id
WHERE c.customer_id IS NOT NULL
  AND c.customer_id NOT IN (
        SELECT customer_id FROM asof_sales_events($anchor)
        WHERE list_contains($final, outcome) AND customer_id IS NOT NULL)
  AND coalesce(a.shipments, 0) >= $min_shipments
ORDER BY c.customer_id
