-- Insert D's scores from the registered frame `probabilities` (customer_id, calibrated p_high_interest and
-- p_contract, and the raw probabilities rank_high_interest and rank_contract they were calibrated from).
-- score = 100 * the weighted mean of each raw probability's percentile rank among D's prospects: it reads
-- "ranks above x% of today's prospects", and a calibration map that ties raw values cannot merge ranks.
INSERT INTO scores (as_of, model_version, customer_id, p_high_interest, p_contract, score)
SELECT
    CAST($as_of AS DATE),
    $model_version,
    customer_id,
    p_high_interest,
    p_contract,
    100.0 * ($w_hi * percent_rank() OVER (ORDER BY rank_high_interest)
             + $w_contract * percent_rank() OVER (ORDER BY rank_contract)) / ($w_hi + $w_contract)
FROM probabilities
ORDER BY customer_id
