-- Data rows per file of the CSV group just read: parsed rows plus malformed lines.
SELECT f.rel, count(*)
FROM (SELECT _path FROM _stg UNION ALL SELECT _path FROM _bad) s
JOIN _files f ON f.path = s._path
GROUP BY f.rel
