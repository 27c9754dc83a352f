-- Labels of anchor date $anchor for its population: prospects (no contract signed by the end of $anchor)
-- that exist as of $anchor and shipped or received in the $lookback days up to and including $anchor.
-- Task 1: a high_interest event in ($anchor, $hi_end] (business days, i.e. from the start of the day after
-- $anchor to the end of $hi_end), read as of $hi_end. Task 2: a contract_signed event in ($anchor, $contract_end],
-- read as of $contract_end. This is the only query that reads past its anchor, and never past the window's end.
WITH population AS (
    SELECT c.customer_id
    FROM asof_customers($anchor) c
    WHERE c.customer_id NOT IN (
            SELECT customer_id FROM asof_sales_events($anchor)
            WHERE outcome = 'contract_signed' AND customer_id IS NOT NULL)
      AND c.customer_id IN (
            SELECT unnest([sender_customer_id, receiver_customer_id])
            FROM asof_shipments($anchor)
            WHERE shipped_at >= CAST($anchor AS TIMESTAMP) + INTERVAL 1 DAY - to_days($lookback))
),
interest AS (
    SELECT DISTINCT customer_id FROM asof_sales_events($hi_end)
    WHERE outcome = 'high_interest' AND event_at >= CAST($anchor AS TIMESTAMP) + INTERVAL 1 DAY
),
contract AS (
    SELECT DISTINCT customer_id FROM asof_sales_events($contract_end)
    WHERE outcome = 'contract_signed' AND event_at >= CAST($anchor AS TIMESTAMP) + INTERVAL 1 DAY
)
SELECT p.customer_id,
       CAST(i.customer_id IS NOT NULL AS INTEGER) AS y_high_interest,
       CAST(k.customer_id IS NOT NULL AS INTEGER) AS y_contract
FROM population p
LEFT JOIN interest i ON i.customer_id = p.customer_id
LEFT JOIN contract k ON k.customer_id = p.customer_id
ORDER BY p.customer_id
