-- customer -ships_to-> customer: one edge per pair that shipped by $as_of, with
-- log1p(shipments), log1p(total weight) and days from the last shipment to $as_of.
SELECT src, dst, ln(1 + n) AS log_count, ln(1 + weight) AS log_weight,
       CAST(date_diff('day', CAST(last_at AS DATE), $as_of) AS DOUBLE) AS days_since_last
FROM sp
ORDER BY src, dst
