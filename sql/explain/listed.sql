-- The prospects of $as_of that the lead lists will show first: the top $top of every territory, ranked the
-- way sql/publish/lead_list.sql ranks them (score, then p_contract, p_high_interest, customer_id), with each
-- one's percentile rank among all of D's prospects (window values are taken before QUALIFY keeps the top).
WITH placed AS (
    SELECT s.customer_id, s.score, s.p_contract, s.p_high_interest,
           {territory} AS territory
    FROM scores s
    JOIN asof_customers($as_of) c ON c.customer_id = s.customer_id
    LEFT JOIN asof_stations($as_of) st ON st.station_id = c.station_id
    WHERE s.as_of = $as_of
)
SELECT customer_id, territory, score, p_contract, p_high_interest,
       percent_rank() OVER (ORDER BY p_contract) AS contract_rank,
       percent_rank() OVER (ORDER BY p_high_interest) AS interest_rank,
       percent_rank() OVER (ORDER BY score) AS score_rank
FROM placed
QUALIFY row_number() OVER (
    PARTITION BY territory ORDER BY score DESC, p_contract DESC, p_high_interest DESC, customer_id) <= $top
ORDER BY customer_id
