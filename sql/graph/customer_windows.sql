-- Shipping behaviour per customer, side (0 = sent, 1 = received) and trailing window w in $windows, as of $as_of:
-- shipments, weight, fees and distinct partners over the last w days (age 0 = the day $as_of itself),
-- and the count over the w days before that (for growth). Long format: one row per (customer, side, window).
-- Distinct partners come from each pair's most recent day (no DISTINCT over shipments), and aggregation runs
-- on raw ids, mapped to node rows at the end: both keep the work proportional to pairs and customers.
WITH recent AS (
    SELECT sender_customer_id, receiver_customer_id, weight_kg, fee,
           date_diff('day', CAST(shipped_at AS DATE), $as_of) AS age
    FROM asof_shipments($as_of)
    WHERE shipped_at >= CAST($as_of AS TIMESTAMP) + INTERVAL 1 DAY - to_days(2 * $max_window)
),
windows AS (SELECT unnest($windows) AS days),
sides AS (
    SELECT sender_customer_id AS customer_id, 0 AS side, weight_kg, fee, age FROM recent
    UNION ALL
    SELECT receiver_customer_id, 1, weight_kg, fee, age FROM recent
),
volume AS (
    SELECT s.customer_id, s.side, w.days,
           count(*) FILTER (WHERE s.age < w.days) AS n,
           CAST(coalesce(sum(CAST(coalesce(s.weight_kg, 0) AS DECIMAL(18, 3))) FILTER (WHERE s.age < w.days), 0) AS DOUBLE) AS weight,
           CAST(coalesce(sum(CAST(coalesce(s.fee, 0) AS DECIMAL(18, 3))) FILTER (WHERE s.age < w.days), 0) AS DOUBLE) AS fee,
           count(*) FILTER (WHERE s.age >= w.days) AS n_prev
    FROM sides s JOIN windows w ON s.age < 2 * w.days
    GROUP BY s.customer_id, s.side, w.days
),
pairs AS (
    SELECT sender_customer_id, receiver_customer_id, min(age) AS age FROM recent GROUP BY ALL
),
reach AS (
    SELECT p.customer_id, p.side, w.days, count(*) AS partners
    FROM (SELECT sender_customer_id AS customer_id, 0 AS side, age FROM pairs
          UNION ALL SELECT receiver_customer_id, 1, age FROM pairs) p
    JOIN windows w ON p.age < w.days
    GROUP BY p.customer_id, p.side, w.days
)
SELECT c.idx, v.side, v.days, v.n, v.weight, v.fee, coalesce(r.partners, 0) AS partners, v.n_prev
FROM volume v
LEFT JOIN reach r ON r.customer_id = v.customer_id AND r.side = v.side AND r.days = v.days
JOIN cu c ON c.customer_id = v.customer_id
