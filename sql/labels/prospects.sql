-- Customers to score on $as_of: every customer as of $as_of who had not signed a contract by the end of the day.
SELECT c.customer_id
FROM asof_customers($as_of) c
WHERE c.customer_id NOT IN (
    SELECT customer_id FROM asof_sales_events($as_of)
    WHERE outcome = 'contract_signed' AND customer_id IS NOT NULL)
ORDER BY c.customer_id
