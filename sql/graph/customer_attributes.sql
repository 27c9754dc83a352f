-- Static customer attributes as of $as_of: type, industry code (0 = other or missing), company, tenure,
-- accounts held. Outcome events are not read here.
SELECT c.idx,
       CAST(c.customer_type = 'business' AS DOUBLE) AS is_business,
       coalesce(list_position($industries, c.industry), 0) AS industry_code,
       CAST(co.idx IS NOT NULL AS DOUBLE) AS has_company,
       CAST(greatest(date_diff('day', CAST(c.created_at AS DATE), $as_of), 0) AS DOUBLE) AS tenure_days,
       CAST(coalesce(h.n_accounts, 0) AS DOUBLE) AS n_accounts
FROM cu c
LEFT JOIN co ON co.company_id = c.company_id
LEFT JOIN (
    SELECT customer_id, count(*) AS n_accounts
    FROM asof_customer_accounts($as_of) x
    JOIN ac ON ac.account_id = x.account_id
    GROUP BY customer_id
) h ON h.customer_id = c.customer_id
