-- Company attributes and member aggregates as of $as_of: size band and industry codes, capital, members,
-- business members, members who signed a contract by $as_of, and the members' shipments over all history.
SELECT co.idx,
       coalesce(list_position($size_bands, co.size_band), 0) AS size_code,
       coalesce(list_position($industries, co.industry), 0) AS industry_code,
       coalesce(co.registered_capital, 0) AS registered_capital,
       coalesce(m.members, 0) AS members,
       coalesce(m.business_members, 0) AS business_members,
       coalesce(k.members_with_contract, 0) AS members_with_contract,
       coalesce(v.member_shipments, 0) AS member_shipments
FROM co
LEFT JOIN (
    SELECT company_id, count(*) AS members, count(*) FILTER (WHERE customer_type = 'business') AS business_members
    FROM cu GROUP BY company_id
) m ON m.company_id = co.company_id
LEFT JOIN (SELECT company_id, count(*) AS members_with_contract FROM signed GROUP BY company_id) k
    ON k.company_id = co.company_id
LEFT JOIN (
    SELECT c.company_id, sum(sp.n) AS member_shipments
    FROM sp JOIN cu c ON c.idx = sp.src
    GROUP BY c.company_id
) v ON v.company_id = co.company_id
