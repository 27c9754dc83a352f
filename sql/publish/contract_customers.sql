-- Scored rows of customers who had signed a contract by the end of $as_of: these must never be listed.
SELECT s.customer_id
FROM scored s
WHERE s.customer_id IN (
    SELECT customer_id FROM asof_sales_events($as_of) WHERE outcome = 'contract_signed'
)
ORDER BY s.customer_id
