-- customer -belongs_to-> company: each customer's company in its as-of version.
SELECT c.idx AS src, co.idx AS dst
FROM cu c
JOIN co ON co.company_id = c.company_id
ORDER BY src, dst
