-- Other customers with a high_interest event by the end of $as_of, counted over each customer's company
-- siblings, account co-holders and shipping partners (either direction), each other customer once per kind.
-- The customer itself is never counted. Lets the tabular baseline see what the graph reaches in two hops.
-- Each kind joins only interested customers' rows (a company's count minus the customer itself, the holdings
-- of interested customers, the pairs with an interested end): joining every pair first took 20x longer.
WITH interested AS (
    SELECT DISTINCT c.idx, c.company_id
    FROM asof_sales_events($as_of) e
    JOIN cu c ON c.customer_id = e.customer_id
    WHERE e.outcome = 'high_interest'
),
company_interest AS (
    SELECT company_id, count(*) AS n FROM interested WHERE company_id IS NOT NULL GROUP BY company_id
),
siblings AS (
    SELECT c.idx, ci.n - CASE WHEN i.idx IS NULL THEN 0 ELSE 1 END AS n
    FROM cu c
    JOIN company_interest ci ON ci.company_id = c.company_id
    LEFT JOIN interested i ON i.idx = c.idx
),
holdings AS (
    SELECT DISTINCT c.idx, a.account_id
    FROM asof_customer_accounts($as_of) a
    JOIN cu c ON c.customer_id = a.customer_id
),
interested_holdings AS (
    SELECT h.idx, h.account_id FROM holdings h SEMI JOIN interested i ON i.idx = h.idx
),
coholders AS (
    SELECT idx, count(*) AS n
    FROM (SELECT DISTINCT h.idx, o.idx AS other
          FROM holdings h JOIN interested_holdings o ON o.account_id = h.account_id AND o.idx <> h.idx)
    GROUP BY idx
),
partners AS (
    SELECT idx, count(*) AS n
    FROM (SELECT sp.src AS idx, sp.dst AS partner FROM sp SEMI JOIN interested i ON i.idx = sp.dst
          UNION
          SELECT sp.dst, sp.src FROM sp SEMI JOIN interested i ON i.idx = sp.src)
    GROUP BY idx
)
SELECT 0 AS kind, idx, n FROM siblings WHERE n > 0
UNION ALL SELECT 1, idx, n FROM coholders
UNION ALL SELECT 2, idx, n FROM partners
