-- D's offer scores by rank, one row per customer: the drift stage watches them beside the lead scores.
SELECT customer_id,
       max(score) FILTER (WHERE rank = 1) AS offer_score_1,
       max(score) FILTER (WHERE rank = 2) AS offer_score_2,
       max(score) FILTER (WHERE rank = 3) AS offer_score_3
FROM offer_recommendations
WHERE as_of = ?
GROUP BY customer_id
