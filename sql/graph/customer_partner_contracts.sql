-- Distinct shipping partners (either direction) of each customer who had signed a contract by $as_of.
-- A customer is never its own partner (self-shipments are not pairs), so its own contract is not counted.
SELECT p.idx, count(*) AS partners_with_contract
FROM (SELECT src AS idx, dst AS partner FROM sp UNION SELECT dst, src FROM sp) p
JOIN signed s ON s.idx = p.partner
GROUP BY p.idx
