-- Plain facts about each listed prospect (temp table `listed`: customer_id) as of $as_of, for reason codes:
-- shipments in the last $window days and the $window days before, days since the last shipment, shipping
-- partners / account sharers / company members with a contract or high interest by $as_of, and the contract
-- density of its station against the density over all stations, and the days since its own latest high_interest
-- event up to $as_of (the only own sales event used: its own history, never anything after $as_of).
WITH signed AS (
    SELECT DISTINCT customer_id FROM asof_sales_events($as_of) WHERE outcome = 'contract_signed'
),
interested AS (
    SELECT DISTINCT customer_id FROM asof_sales_events($as_of) WHERE outcome = 'high_interest'
),
cust AS (
    SELECT customer_id, station_id, company_id FROM asof_customers($as_of)
),
moves AS (
    SELECT sender_customer_id AS customer_id, receiver_customer_id AS partner, shipped_at FROM asof_shipments($as_of)
    UNION ALL
    SELECT receiver_customer_id, sender_customer_id, shipped_at FROM asof_shipments($as_of)
),
mine AS (
    SELECT m.* FROM moves m JOIN listed l ON l.customer_id = m.customer_id
),
shipping AS (
    SELECT customer_id,
           count(*) FILTER (WHERE date_diff('day', CAST(shipped_at AS DATE), $as_of) < $window) AS ship_recent,
           count(*) FILTER (WHERE date_diff('day', CAST(shipped_at AS DATE), $as_of) >= $window
                              AND date_diff('day', CAST(shipped_at AS DATE), $as_of) < 2 * $window) AS ship_previous,
           date_diff('day', CAST(max(shipped_at) AS DATE), $as_of) AS days_since_shipment
    FROM mine
    GROUP BY customer_id
),
partners AS (
    SELECT m.customer_id, count(DISTINCT m.partner) AS partner_contracts
    FROM mine m
    JOIN signed g ON g.customer_id = m.partner
    WHERE m.partner <> m.customer_id
    GROUP BY m.customer_id
),
sharers AS (
    SELECT l.customer_id, count(DISTINCT o.customer_id) AS shared_interest
    FROM listed l
    JOIN asof_customer_accounts($as_of) a ON a.customer_id = l.customer_id
    JOIN asof_customer_accounts($as_of) o ON o.account_id = a.account_id AND o.customer_id <> l.customer_id
    WHERE o.customer_id IN (SELECT customer_id FROM interested)
    GROUP BY l.customer_id
),
siblings AS (
    SELECT l.customer_id, count(DISTINCT o.customer_id) AS company_signers
    FROM listed l
    JOIN cust c ON c.customer_id = l.customer_id
    JOIN cust o ON o.company_id = c.company_id AND o.customer_id <> l.customer_id
    WHERE o.customer_id IN (SELECT customer_id FROM signed)
    GROUP BY l.customer_id
),
own_interest AS (
    SELECT e.customer_id, date_diff('day', CAST(max(e.event_at) AS DATE), $as_of) AS days_since_interest
    FROM asof_sales_events($as_of) e
    JOIN listed l ON l.customer_id = e.customer_id
    WHERE e.outcome = 'high_interest'
    GROUP BY e.customer_id
),
stations AS (
    SELECT c.station_id, count(*) AS customers, count(g.customer_id) AS contracts
    FROM cust c
    LEFT JOIN signed g ON g.customer_id = c.customer_id
    WHERE c.station_id IS NOT NULL
    GROUP BY c.station_id
),
overall AS (
    SELECT sum(contracts) / greatest(sum(customers), 1) AS density FROM stations
)
SELECT
    l.customer_id,
    coalesce(s.ship_recent, 0) AS ship_recent,
    coalesce(s.ship_previous, 0) AS ship_previous,
    s.days_since_shipment,
    coalesce(p.partner_contracts, 0) AS partner_contracts,
    coalesce(h.shared_interest, 0) AS shared_interest,
    coalesce(g.company_signers, 0) AS company_signers,
    coalesce(st.contracts, 0) AS station_contracts,
    coalesce(st.contracts / greatest(st.customers, 1), 0) AS station_density,
    (SELECT density FROM overall) AS overall_density,
    oi.days_since_interest
FROM listed l
LEFT JOIN cust c ON c.customer_id = l.customer_id
LEFT JOIN shipping s ON s.customer_id = l.customer_id
LEFT JOIN partners p ON p.customer_id = l.customer_id
LEFT JOIN sharers h ON h.customer_id = l.customer_id
LEFT JOIN siblings g ON g.customer_id = l.customer_id
LEFT JOIN stations st ON st.station_id = c.station_id
LEFT JOIN own_interest oi ON oi.customer_id = l.customer_id
ORDER BY l.customer_id
