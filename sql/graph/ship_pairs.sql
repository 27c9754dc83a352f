-- Every (sender, receiver) customer pair that shipped by the end of $as_of, aggregated over all history.
-- Sums run over DECIMAL so that parallel aggregation gives bit-identical results on every build.
-- Self-shipments carry no relation between two customers and are left out.
CREATE OR REPLACE TEMP TABLE sp AS
SELECT s.idx AS src,
       r.idx AS dst,
       count(*) AS n,
       CAST(sum(CAST(coalesce(x.weight_kg, 0) AS DECIMAL(18, 3))) AS DOUBLE) AS weight,
       CAST(sum(CAST(coalesce(x.fee, 0) AS DECIMAL(18, 3))) AS DOUBLE) AS fee,
       max(x.shipped_at) AS last_at
FROM asof_shipments($as_of) x
JOIN cu s ON s.customer_id = x.sender_customer_id
JOIN cu r ON r.customer_id = x.receiver_customer_id
WHERE s.idx <> r.idx
GROUP BY s.idx, r.idx
