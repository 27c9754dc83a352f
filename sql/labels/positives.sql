-- Customers with one of $outcomes in ($anchor, $window_end] (business days: from the start of the day after
-- $anchor to the end of $window_end), read as of $window_end. The only query that reads past its anchor,
-- and never past the window's end.
SELECT DISTINCT customer_id
FROM asof_sales_events($window_end)
WHERE list_contains($outcomes, outcome)
  AND event_at >= CAST($anchor AS TIMESTAMP) + INTERVAL 1 DAY
  AND customer_id IS NOT NULL
