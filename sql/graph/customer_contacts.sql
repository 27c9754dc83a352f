-- Sales contacts a customer received by the end of $as_of (all channels; customer_own_history.sql splits
-- them per channel and adds the customer's own high_interest events up to $as_of).
SELECT c.idx,
       count(*) AS contacts,
       count(*) FILTER (WHERE e.event_at >= CAST($as_of AS TIMESTAMP) + INTERVAL 1 DAY - to_days($max_window)) AS contacts_recent,
       date_diff('day', CAST(max(e.event_at) AS DATE), $as_of) AS contact_recency_days
FROM asof_sales_events($as_of) e
JOIN cu c ON c.customer_id = e.customer_id
WHERE e.outcome = 'contacted'
GROUP BY c.idx
