-- Customers to score on $as_of: every customer as of $as_of without any of the final outcomes ($final) by the
-- end of the day. Unlike a training population, no minimum activity: a lead with no shipment yet is scored too.
SELECT c.customer_id
FROM asof_customers($as_of) c
WHERE c.customer_id NOT IN (
    SELECT customer_id FROM asof_sales_events($as_of)
    WHERE list_contains($final, outcome) AND customer_id IS NOT NULL)
ORDER BY c.customer_id
