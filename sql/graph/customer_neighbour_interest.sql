-- Other customers with a high_interest event by the end of $as_of, counted over each customer's company
-- siblings, account co-holders and shipping partners (either direction), each other customer once per kind.
-- The customer itself is never counted. Lets the tabular baseline see what the graph reaches in two hops.
WITH interested AS (
    SELECT DISTINCT c.idx, c.company_id
    FROM asof_sales_events($as_of) e
    JOIN cu c ON c.customer_id = e.customer_id
    WHERE e.outcome = 'high_interest'
),
holdings AS (
    SELECT DISTINCT c.idx, a.account_id
    FROM asof_customer_accounts($as_of) a
    JOIN cu c ON c.customer_id = a.customer_id
),
siblings AS (
    SELECT c.idx, count(DISTINCT i.idx) AS n
    FROM cu c JOIN interested i ON i.company_id = c.company_id AND i.idx <> c.idx
    GROUP BY c.idx
),
coholders AS (
    SELECT h.idx, count(DISTINCT o.idx) AS n
    FROM holdings h
    JOIN holdings o ON o.account_id = h.account_id AND o.idx <> h.idx
    JOIN interested i ON i.idx = o.idx
    GROUP BY h.idx
),
partners AS (
    SELECT p.idx, count(*) AS n
    FROM (SELECT src AS idx, dst AS partner FROM sp UNION SELECT dst, src FROM sp) p
    JOIN (SELECT DISTINCT idx FROM interested) i ON i.idx = p.partner
    GROUP BY p.idx
)
SELECT 0 AS kind, idx, n FROM siblings
UNION ALL SELECT 1, idx, n FROM coholders
UNION ALL SELECT 2, idx, n FROM partners
