-- company -based_at-> station: a company's city names its home station(s).
SELECT co.idx AS src, s.idx AS dst
FROM co
JOIN st s ON s.city = co.city
ORDER BY src, dst
