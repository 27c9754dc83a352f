-- Shipping behaviour per customer, side (sent / received) and trailing window w in $windows, as of $as_of:
-- shipments, weight, fees and distinct partners over the last w days (age 0 = the day $as_of itself),
-- and the count over the w days before that (for growth). Long format: one row per (customer, side, window).
WITH recent AS (
    SELECT sender_customer_id, receiver_customer_id, weight_kg, fee,
           date_diff('day', CAST(shipped_at AS DATE), $as_of) AS age
    FROM asof_shipments($as_of)
    WHERE shipped_at >= CAST($as_of AS TIMESTAMP) + INTERVAL 1 DAY - to_days(2 * $max_window)
),
sides AS (
    SELECT sender_customer_id AS customer_id, receiver_customer_id AS partner, 0 AS side, weight_kg, fee, age FROM recent
    UNION ALL
    SELECT receiver_customer_id, sender_customer_id, 1, weight_kg, fee, age FROM recent
)
SELECT c.idx,
       s.side,
       w.days,
       count(*) FILTER (WHERE s.age < w.days) AS n,
       CAST(coalesce(sum(CAST(coalesce(s.weight_kg, 0) AS DECIMAL(18, 3))) FILTER (WHERE s.age < w.days), 0) AS DOUBLE) AS weight,
       CAST(coalesce(sum(CAST(coalesce(s.fee, 0) AS DECIMAL(18, 3))) FILTER (WHERE s.age < w.days), 0) AS DOUBLE) AS fee,
       count(DISTINCT s.partner) FILTER (WHERE s.age < w.days) AS partners,
       count(*) FILTER (WHERE s.age >= w.days) AS n_prev
FROM sides s
JOIN cu c ON c.customer_id = s.customer_id
JOIN (SELECT unnest($windows) AS days) w ON s.age < 2 * w.days
GROUP BY c.idx, s.side, w.days
