-- The lead list of business day $as_of: the scored prospects (temp table `scored`) joined to their as-of
-- customer, station and company rows, ranked within their territory and globally, banded, with their
-- history in earlier published lists (temp table `earlier_lists`: as_of_date, customer_id, rank_in_territory,
-- first_seen_date of every list published before $as_of), and their next best offers of $as_of (table
-- offer_recommendations, ranks 1-3; empty when the recommend stage did not run).
-- Ties break on p_contract, then p_high_interest, then customer_id, so a re-run ranks identically.
-- Bands: with $band_by_p_contract, the calibrated p_contract against cut-offs the caller derived from the base
-- rate (lift); otherwise (a model stored without calibration) the score against fixed cut-offs.
WITH base AS (
    SELECT
        s.customer_id,
        c.name AS customer_name,
        c.company_id,
        coalesce(c.industry, co.industry) AS industry,
        c.station_id,
        {territory} AS territory,
        CAST(s.score AS DOUBLE) AS score,
        CAST(s.p_contract AS DOUBLE) AS p_contract,
        CAST(s.p_high_interest AS DOUBLE) AS p_high_interest,
        s.reason_1,
        s.reason_2,
        s.reason_3,
        s.reason_codes
    FROM scored s
    JOIN asof_customers($as_of) c ON c.customer_id = s.customer_id
    LEFT JOIN asof_stations($as_of) st ON st.station_id = c.station_id
    LEFT JOIN asof_companies($as_of) co ON co.company_id = c.company_id
),
ranked AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY territory
            ORDER BY score DESC, p_contract DESC, p_high_interest DESC, customer_id
        ) AS rank_in_territory,
        row_number() OVER (
            ORDER BY score DESC, p_contract DESC, p_high_interest DESC, customer_id
        ) AS rank_global
    FROM base
),
previous AS (
    SELECT customer_id, min(rank_in_territory) AS previous_rank
    FROM earlier_lists
    WHERE as_of_date = (SELECT max(as_of_date) FROM earlier_lists)
    GROUP BY customer_id
),
offers AS (
    SELECT customer_id,
           max(name) FILTER (WHERE rank = 1) AS offer_1,
           max(name) FILTER (WHERE rank = 2) AS offer_2,
           max(name) FILTER (WHERE rank = 3) AS offer_3,
           max(score) FILTER (WHERE rank = 1) AS offer_score_1,
           max(score) FILTER (WHERE rank = 2) AS offer_score_2,
           max(score) FILTER (WHERE rank = 3) AS offer_score_3,
           bool_or(peer_adopted) FILTER (WHERE rank = 1) AS offer_peer_1
    FROM offer_recommendations
    WHERE as_of = $as_of
    GROUP BY customer_id
),
seen AS (
    SELECT customer_id, min(first_seen_date) AS first_seen_date
    FROM earlier_lists
    GROUP BY customer_id
)
SELECT
    CAST($as_of AS DATE) AS as_of_date,
    r.territory,
    r.station_id,
    r.rank_in_territory,
    r.rank_global,
    r.customer_id,
    r.customer_name,
    r.company_id,
    r.industry,
    r.score,
    CASE WHEN (CASE WHEN $band_by_p_contract THEN r.p_contract ELSE r.score END) >= $band_a_min THEN 'A'
         WHEN (CASE WHEN $band_by_p_contract THEN r.p_contract ELSE r.score END) >= $band_b_min THEN 'B'
         ELSE 'C' END AS score_band,
    r.p_contract,
    r.p_high_interest,
    r.reason_1,
    r.reason_2,
    r.reason_3,
    r.reason_codes,
    o.offer_1,
    o.offer_2,
    o.offer_3,
    o.offer_score_1,
    o.offer_score_2,
    o.offer_score_3,
    o.offer_peer_1,
    p.previous_rank,
    coalesce(f.first_seen_date, CAST($as_of AS DATE)) AS first_seen_date
FROM ranked r
LEFT JOIN previous p ON p.customer_id = r.customer_id
LEFT JOIN seen f ON f.customer_id = r.customer_id
LEFT JOIN offers o ON o.customer_id = r.customer_id
WHERE r.rank_in_territory <= $top_per_territory
ORDER BY r.rank_global
