-- Customers (node rows) who signed a contract by the end of $as_of: the only contract facts features may use,
-- and only aggregated over OTHER customers (partners, company members, station customers).
CREATE OR REPLACE TEMP TABLE signed AS
SELECT DISTINCT c.idx, c.company_id, c.station_id
FROM asof_sales_events($as_of) e
JOIN cu c ON c.customer_id = e.customer_id
WHERE e.outcome = 'contract_signed'
