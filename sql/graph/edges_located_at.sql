-- customer -located_at-> station: each customer's station in its as-of version.
SELECT c.idx AS src, s.idx AS dst
FROM cu c
JOIN st s ON s.station_id = c.station_id
ORDER BY src, dst
