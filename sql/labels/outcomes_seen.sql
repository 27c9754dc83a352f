-- Every outcome value of the sales events known by the end of $as_of, with its count.
SELECT outcome, count(*) AS n
FROM asof_sales_events($as_of)
WHERE outcome IS NOT NULL
GROUP BY outcome
ORDER BY outcome
