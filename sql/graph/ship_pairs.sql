-- Every (sender, receiver) customer pair that shipped by the end of $as_of, aggregated over all history.
-- Sums run over DECIMAL so that parallel aggregation gives bit-identical results on every build.
-- Self-shipments carry no relation between two customers and are left out. Shipments are aggregated
-- per raw id pair first and mapped to node rows after, so the joins see pairs, not shipments.
CREATE OR REPLACE TEMP TABLE sp AS
WITH pairs AS (
    SELECT sender_customer_id, receiver_customer_id,
           count(*) AS n,
           sum(CAST(coalesce(weight_kg, 0) AS DECIMAL(18, 3))) AS weight,
           sum(CAST(coalesce(fee, 0) AS DECIMAL(18, 3))) AS fee,
           max(shipped_at) AS last_at
    FROM asof_shipments($as_of)
    WHERE sender_customer_id <> receiver_customer_id
    GROUP BY sender_customer_id, receiver_customer_id
)
SELECT s.idx AS src, r.idx AS dst, p.n, CAST(p.weight AS DOUBLE) AS weight, CAST(p.fee AS DOUBLE) AS fee, p.last_at
FROM pairs p
JOIN cu s ON s.customer_id = p.sender_customer_id
JOIN cu r ON r.customer_id = p.receiver_customer_id
