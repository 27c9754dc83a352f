-- All-history shipping totals per customer and side (0 = sent, 1 = received) as of $as_of, from the pair
-- aggregates: shipments, weight, fees, distinct partners, days since the last shipment.
SELECT idx, side, sum(n) AS n, sum(weight) AS weight, sum(fee) AS fee, count(*) AS partners,
       date_diff('day', CAST(max(last_at) AS DATE), $as_of) AS recency_days
FROM (
    SELECT src AS idx, 0 AS side, n, weight, fee, last_at FROM sp
    UNION ALL
    SELECT dst, 1, n, weight, fee, last_at FROM sp
)
GROUP BY idx, side
