-- Scored rows whose customer does not exist as of $as_of: a scoring/warehouse mismatch, never silently dropped.
SELECT s.customer_id
FROM scored s
WHERE s.customer_id NOT IN (SELECT customer_id FROM asof_customers($as_of))
ORDER BY s.customer_id
