-- A customer's own sales history up to the end of $as_of: high_interest events, contacts per channel
-- (position in $channels, 0 = any other value) and the days since the last of each. Only events read
-- through the as-of macro count, so an outcome after $as_of (a label of a later window) never reaches here.
-- kind 0 = high_interest, 1 = contacted.
SELECT c.idx,
       CASE e.outcome WHEN 'high_interest' THEN 0 ELSE 1 END AS kind,
       coalesce(list_position($channels, e.channel), 0) AS channel_code,
       count(*) AS n,
       date_diff('day', CAST(max(e.event_at) AS DATE), $as_of) AS recency_days
FROM asof_sales_events($as_of) e
JOIN cu c ON c.customer_id = e.customer_id
WHERE e.outcome IN ('high_interest', 'contacted')
GROUP BY ALL
