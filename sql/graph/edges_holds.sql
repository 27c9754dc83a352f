-- customer -holds-> account: links made by $as_of between customers and accounts that exist as of $as_of.
SELECT c.idx AS src, a.idx AS dst
FROM asof_customer_accounts($as_of) x
JOIN cu c ON c.customer_id = x.customer_id
JOIN ac a ON a.account_id = x.account_id
ORDER BY src, dst
