-- Account attributes as of $as_of: type and payment codes, age, and how many customers hold the account.
SELECT ac.idx,
       coalesce(list_position($account_types, ac.account_type), 0) AS type_code,
       coalesce(list_position($payment_methods, ac.payment_method), 0) AS payment_code,
       greatest(date_diff('day', CAST(ac.created_at AS DATE), $as_of), 0) AS age_days,
       coalesce(h.holders, 0) AS holders
FROM ac
LEFT JOIN (
    SELECT x.account_id, count(*) AS holders
    FROM asof_customer_accounts($as_of) x
    JOIN cu ON cu.customer_id = x.customer_id
    GROUP BY x.account_id
) h ON h.account_id = ac.account_id
