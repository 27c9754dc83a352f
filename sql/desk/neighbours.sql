-- The drawn neighbourhood of each listed customer (temp table `listed`) as of $as_of: up to $per_kind company
-- siblings, account co-holders and shipping partners (by shipments both ways), each marked when it has signed
-- a contract by $as_of. `weight` is shared accounts for co-holders and shipments for partners.
WITH signed AS (
    SELECT DISTINCT customer_id FROM asof_sales_events($as_of) WHERE outcome = 'contract_signed'
),
cust AS (
    SELECT customer_id, name, company_id FROM asof_customers($as_of)
),
links AS (
    SELECT c.customer_id, 'company' AS kind, o.customer_id AS neighbour_id, 1 AS weight
    FROM listed l
    JOIN cust c ON c.customer_id = l.customer_id
    JOIN cust o ON o.company_id = c.company_id AND o.customer_id <> c.customer_id
    UNION ALL
    SELECT a.customer_id, 'account', o.customer_id, count(DISTINCT a.account_id)
    FROM listed l
    JOIN asof_customer_accounts($as_of) a ON a.customer_id = l.customer_id
    JOIN asof_customer_accounts($as_of) o ON o.account_id = a.account_id AND o.customer_id <> a.customer_id
    GROUP BY a.customer_id, o.customer_id
    UNION ALL
    SELECT m.customer_id, 'partner', m.partner, count(*)
    FROM (
        SELECT sender_customer_id AS customer_id, receiver_customer_id AS partner FROM asof_shipments($as_of)
        UNION ALL
        SELECT receiver_customer_id, sender_customer_id FROM asof_shipments($as_of)
    ) m
    JOIN listed l ON l.customer_id = m.customer_id
    WHERE m.partner <> m.customer_id
    GROUP BY m.customer_id, m.partner
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY customer_id, kind ORDER BY weight DESC, neighbour_id) AS pos
    FROM links
)
SELECT r.customer_id, r.kind, r.neighbour_id, n.name AS neighbour_name, CAST(r.weight AS BIGINT) AS weight,
       g.customer_id IS NOT NULL AS contract
FROM ranked r
LEFT JOIN cust n ON n.customer_id = r.neighbour_id
LEFT JOIN signed g ON g.customer_id = r.neighbour_id
WHERE r.pos <= $per_kind
ORDER BY r.customer_id, r.kind, r.pos
