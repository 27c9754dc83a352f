-- Truth, realised labels and own features of the active prospects at one anchor $anchor (a prospect is active
-- when it shipped or received in the 90 days up to the anchor). Views s (shipments), e (sales events) and
-- c (customers) over the landing files; $truth is the anchor's truth/probabilities file.
WITH sent AS (
    SELECT sender_customer_id AS customer_id,
           count(*) FILTER (WHERE shipped_at >= $anchor - 29) AS sent_30,
           count(*) FILTER (WHERE shipped_at < $anchor - 29 AND shipped_at >= $anchor - 59) AS sent_prev_30,
           count(*) AS sent_90
    FROM s WHERE shipped_at >= $anchor - 89 AND shipped_at < $anchor + 1 GROUP BY 1),
received AS (
    SELECT receiver_customer_id AS customer_id, count(*) AS received_90
    FROM s WHERE shipped_at >= $anchor - 89 AND shipped_at < $anchor + 1 GROUP BY 1),
history AS (
    SELECT customer_id,
           count(*) FILTER (WHERE outcome = 'high_interest' AND event_at < $anchor + 1) AS interest_before,
           count(*) FILTER (WHERE outcome = 'contacted' AND event_at >= $anchor - 89
                            AND event_at < $anchor + 1) AS contacts_90,
           max(outcome = 'high_interest' AND event_at >= $anchor + 1 AND event_at < $anchor + 31) AS y1,
           max(outcome = 'contract_signed' AND event_at >= $anchor + 1 AND event_at < $anchor + 91) AS y2
    FROM e GROUP BY 1),
known AS (SELECT customer_id, min(created_at) AS created FROM c GROUP BY 1)
SELECT $anchor AS anchor, p.customer_id, p.p_high_interest, p.p_contract,
       coalesce(sent_30, 0) AS sent_30, coalesce(sent_90, 0) AS sent_90,
       coalesce(received_90, 0) AS received_90,
       ln(1 + coalesce(sent_30, 0)) - ln(1 + coalesce(sent_prev_30, 0)) AS growth,
       coalesce(interest_before, 0) AS interest_before, coalesce(contacts_90, 0) AS contacts_90,
       date_diff('day', CAST(k.created AS DATE), $anchor) AS days_known,
       CAST(coalesce(y1, false) AS INT) AS y1, CAST(coalesce(y2, false) AS INT) AS y2
FROM read_parquet($truth) p
LEFT JOIN sent USING (customer_id) LEFT JOIN received USING (customer_id)
LEFT JOIN history USING (customer_id) LEFT JOIN known k USING (customer_id)
WHERE coalesce(sent_90, 0) + coalesce(received_90, 0) > 0
