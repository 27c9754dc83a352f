-- Scores the list cannot show: missing, NaN, or outside 0-100.
SELECT customer_id
FROM scored
WHERE NOT (score BETWEEN 0 AND 100) OR score IS NULL OR isnan(score)
ORDER BY customer_id
