-- Customers scored more than once for the day: the scoring stage must give each prospect one row.
SELECT customer_id
FROM scored
GROUP BY customer_id
HAVING count(*) > 1
ORDER BY customer_id
