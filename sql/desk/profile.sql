-- What the lead page shows about each listed customer (temp table `listed`: customer_id) as of $as_of:
-- its own attributes, its station and company, and whether it has signed a contract by then.
WITH signed AS (
    SELECT DISTINCT customer_id FROM asof_sales_events($as_of) WHERE outcome = 'contract_signed'
)
SELECT
    c.customer_id,
    c.customer_type,
    CAST(c.created_at AS DATE) AS customer_since,
    c.station_id,
    s.city AS station_city,
    s.kind AS station_kind,
    c.company_id,
    co.size_band AS company_size_band,
    co.registered_capital AS company_capital
FROM listed l
JOIN asof_customers($as_of) c ON c.customer_id = l.customer_id
LEFT JOIN asof_stations($as_of) s ON s.station_id = c.station_id
LEFT JOIN asof_companies($as_of) co ON co.company_id = c.company_id
ORDER BY c.customer_id
