-- Insert D's scores from the registered frame `probabilities` (customer_id, p_high_interest, p_contract).
-- score = 100 * the weighted mean of each probability's percentile rank among D's prospects: it reads
-- "ranks above x% of today's prospects" and does not depend on how well the rare contract task is calibrated.
INSERT INTO scores (as_of, model_version, customer_id, p_high_interest, p_contract, score)
SELECT
    CAST($as_of AS DATE),
    $model_version,
    customer_id,
    p_high_interest,
    p_contract,
    100.0 * ($w_hi * percent_rank() OVER (ORDER BY p_high_interest)
             + $w_contract * percent_rank() OVER (ORDER BY p_contract)) / ($w_hi + $w_contract)
FROM probabilities
ORDER BY customer_id
